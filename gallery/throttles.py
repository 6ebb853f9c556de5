"""
Request rates for logins (the site's form and the API's token login share one
budget) and for API requests without credentials.

Rates come from settings at each request (not at import, as DRF's own
throttles do), so they can be changed per environment and in tests. Counts
live in Django's cache: Redis, shared by every web process, when REDIS_URL is
set; otherwise per process, so N web processes would give a client up to N
times the rate. While that Redis is down requests are let through (and a
warning logged): a throttle must not take the site down with it.
"""

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("gallery")


class FailOpenThrottle(SimpleRateThrottle):
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as e:
            logger.warning("Throttle %s not applied: its cache is unreachable (%s)", self.scope, e)
            return True


class LoginThrottle(FailOpenThrottle):
    """Token logins, per client address: slows down password guessing."""

    scope = "login"

    def get_rate(self):
        return settings.API_LOGIN_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PerAddressThrottle(FailOpenThrottle):
    """A budget per client address for one kind of request; `setting` names its rate."""

    setting = None

    def get_rate(self):
        return getattr(settings, self.setting)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def check(self, request):
        """None when the request may go on, else the whole seconds to wait (Retry-After)."""
        if self.allow_request(request, None):
            return None
        return max(1, round(self.wait() or 1))


class SignupThrottle(PerAddressThrottle):
    """Sign-ups: an address cannot make accounts in bulk, nor test usernames quickly."""

    scope, setting = "signup", "SIGNUP_RATE"


class PasswordResetThrottle(PerAddressThrottle):
    """Password-reset requests per client address."""

    scope, setting = "password-reset", "PASSWORD_RESET_RATE"


class ResetMailThrottle(PerAddressThrottle):
    """Reset mails per e-mail address, whoever asks: nobody can fill a mailbox. Counted
    for every address asked about, existing or not, so its answer reveals nothing."""

    scope, setting = "reset-mail", "PASSWORD_RESET_MAIL_RATE"

    def __init__(self, email):
        super().__init__()
        self.email = email.strip().lower()

    def get_cache_key(self, request, view):
        import hashlib

        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(self.email.encode()).hexdigest()}


class SharedReencodeThrottle(PerAddressThrottle):
    """JPEG re-encodes of shared photos, per client address: anyone holding a link can ask,
    and each one decodes and encodes the full-resolution result (8 at once took the login
    page from 4 ms to 1.2 s)."""

    scope, setting = "shared-reencode", "SHARED_REENCODE_RATE"


class RenderThrottle(FailOpenThrottle):
    """Re-renders and hint renders, per person: each one is a job on a worker. With at most one
    job waiting per photo (ColorizationJob.send_render), this bounds what one person can
    ask of the workers across all their photos."""

    scope = "render"

    def get_rate(self):
        return settings.RENDER_RATE

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None  # AnonThrottle counts those, before their 401
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonThrottle(FailOpenThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"

    def get_rate(self):
        return settings.API_ANON_RATE

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # only anonymous requests are throttled here
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottleAnonymousFirst:
    """A view mixin: DRF checks throttles after authentication and
    permissions, so a request with no key or a wrong one would get its 401
    however fast it comes, and AnonThrottle would never see it. Here
    anonymous requests, including those with a key that is not valid, are
    counted before their 401."""

    def perform_authentication(self, request):
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # the request is anonymous now
            raise

    def check_permissions(self, request):
        if not request.user.is_authenticated:
            self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request):
        # Once per request: initial() calls it again after the permissions.
        if getattr(request, "_colorsite_throttled", False):
            return
        request._colorsite_throttled = True
        super().check_throttles(request)
