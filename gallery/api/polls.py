"""Status polls that stay cheap: a strong ETag with `If-None-Match` -> 304, and a
`Server-Timing` header that tells where the server's time went.

Clients poll a photo (GET /api/v1/photos/{id}/) or a gallery's photos (GET
/api/v1/photos/?gallery=...) every second or so, and most answers are the same
as the last. The ETag is a digest of the JSON as sent, so it changes whenever
anything in it changes (status, progress, URLs, vividness, hints...) with no
version column to keep in step. It also covers the person asking: a browser
shared by two people never turns one person's cached answer into the other's
304. The object is looked up among the person's own first, so another
person's photo stays a 404 whatever ETag comes with it.

Server-Timing (milliseconds; `bench/load_bench.py` can read it), disjoint stages:
  auth  authentication, its query included,
  db    the view's queries: looking the objects up (building the query and running
        it), and any other query outside authentication,
  ser   the rest of the view: serializing, rendering the JSON, the ETag,
  total from the view's start to the answer (the stages, plus DRF's own steps).
"""

import hashlib
import time
from contextlib import contextmanager

from django.db import connection
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers

# The actions that answer a status poll.
POLL_ACTIONS = ("retrieve", "list")


def etag_for(user, content):
    """A strong ETag for these bytes as this person's answer."""
    digest = hashlib.blake2b(content, digest_size=16, person=b"colorsite-poll")
    digest.update(b"\0user:%d" % (user.pk or 0))
    return f'"{digest.hexdigest()}"'


class StageTimer:
    """Wall time per stage of one request. Queries inside a timed stage count in that
    stage; those outside any count in `db` (a connection.execute_wrapper sees them)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.spent = {"auth": 0.0, "db": 0.0}
        self.view_started = None  # after authentication, permissions and throttles
        self.db_before_view = 0.0
        self.depth = 0

    @contextmanager
    def stage(self, name):
        self.depth += 1
        t = time.perf_counter()
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth:  # a stage inside another counts once, in the outer one
                self.spent[name] += time.perf_counter() - t

    def time_query(self, execute, sql, params, many, context):
        if self.depth:
            return execute(sql, params, many, context)
        with self.stage("db"):
            return execute(sql, params, many, context)

    def header(self):
        now = time.perf_counter()
        parts = dict(self.spent)
        if self.view_started is not None:
            view_db = parts["db"] - self.db_before_view
            parts["ser"] = max(0.0, now - self.view_started - view_db)
        parts["total"] = now - self.started
        return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in parts.items())

    def view_starts(self):
        self.view_started, self.db_before_view = time.perf_counter(), self.spent["db"]


class StatusPollMixin:
    """For a DRF viewset: its GET list and retrieve answer with a strong ETag, 304 to a
    matching If-None-Match, and Server-Timing. Put it before DRF's classes. A viewset's
    own object lookup goes in `with self.timer.stage("db")`."""

    def dispatch(self, request, *args, **kwargs):
        self.timer = StageTimer()
        with connection.execute_wrapper(self.timer.time_query):
            return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request):
        with self.timer.stage("auth"):
            super().perform_authentication(request)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.timer.view_starts()

    def paginate_queryset(self, queryset):
        with self.timer.stage("db"):  # the count and the page's rows
            return super().paginate_queryset(queryset)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "action", None) not in POLL_ACTIONS:
            return response
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            response = self._conditional(request, response)
        response["Server-Timing"] = self.timer.header()
        return response

    def _conditional(self, request, response):
        response.render()  # the bytes the ETag names; Django does not render twice
        response["ETag"] = etag_for(request.user, response.content)
        # Browsers keep the answer but ask again each time (with If-None-Match); shared caches keep nothing.
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ["Authorization", "Cookie"])
        return get_conditional_response(request._request, etag=response["ETag"], response=response)
