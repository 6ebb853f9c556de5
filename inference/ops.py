"""
What an operator's tools ask the site: /healthz for a load balancer or an
orchestrator, /metrics for Prometheus.

/healthz answers 200 when the database, Redis and the model file are all
usable, else 503 naming the failing part (and never a path or a password);
it is open to anyone, as load balancers expect, and costs three cheap checks.

/metrics is Prometheus's text format. Everything in it is read at scrape time
from the database and Redis, which every web process and worker share, so one
scrape of any web process sees the whole site (no per-process counters to add
up). With DEBUG off it needs `Authorization: Bearer <METRICS_TOKEN>`, and it
is a 404 while METRICS_TOKEN is unset.
"""

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger("inference")

# Buckets of the job-duration histogram (seconds): a 512 px photo takes well under a second on a
# CPU worker, a 40 Mpx one tens of seconds.
DURATION_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
# Jobs finished within this window make the duration histogram and the outcome counts.
RECENT = timedelta(hours=1)


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis():
    from gallery.job import get_queue

    get_queue().connection.ping()


def _model():
    from mlcore.paths import model_path

    if not model_path(settings.COLORIZER_MODEL_PATH).is_file():
        raise FileNotFoundError("the model file is missing")


CHECKS = {"database": _database, "redis": _redis, "model": _model}


@never_cache
@require_GET
def healthz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as e:
            logger.warning("Health check %s failed: %s: %s", name, type(e).__name__, e)
            results[name] = f"failing: {type(e).__name__}"
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ok" if healthy else "failing", "checks": results}, status=200 if healthy else 503)


def _allowed(request):
    if settings.DEBUG and not settings.METRICS_TOKEN:
        return True
    if not settings.METRICS_TOKEN:
        return False
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {settings.METRICS_TOKEN}".encode())


@never_cache
@require_GET
def metrics(request):
    if not settings.METRICS_TOKEN and not settings.DEBUG:
        return JsonResponse({"detail": "Not found."}, status=404)
    if not _allowed(request):
        response = JsonResponse({"detail": "Send Authorization: Bearer <METRICS_TOKEN>."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    lines = []

    def metric(name, kind, help_text, samples):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")

    from gallery.models import Photo
    from gallery.quota import refusals

    by_status = dict(Photo.objects.values_list("status").annotate(n=Count("id")))
    metric("colorsite_photos", "gauge", "Photos by job status.",
           [({"status": s}, by_status.get(s, 0)) for s, _ in Photo.STATUS_CHOICES])

    try:
        from rq import Worker

        from gallery.job import QUEUE_NAME, RENDER_QUEUE_NAME, get_queue

        queues = [(name, get_queue(name).count) for name in (QUEUE_NAME, RENDER_QUEUE_NAME)]
        workers = Worker.count(connection=get_queue().connection)
        redis_up = 1
    except Exception as e:  # Redis down: say so, and still report what the database knows
        logger.warning("Metrics without Redis: %s", e)
        queues, workers, redis_up = [], 0, 0
    metric("colorsite_redis_up", "gauge", "1 when Redis answered this scrape.", [({}, redis_up)])
    metric("colorsite_queue_jobs", "gauge", "Jobs waiting in each RQ queue.", [({"queue": q}, n) for q, n in queues])
    metric("colorsite_workers", "gauge", "RQ workers registered in Redis.", [({}, workers)])

    since = timezone.now() - RECENT
    finished = Photo.objects.filter(finished_at__gte=since, started_at__isnull=False)
    outcomes = dict(finished.values_list("status").annotate(n=Count("id")))
    metric("colorsite_jobs_finished_last_hour", "gauge", "Colorization jobs that ended in the last hour, by outcome.",
           [({"outcome": s}, outcomes.get(s, 0)) for s in (Photo.DONE, Photo.FAILED)])
    durations = sorted((p.finished_at - p.started_at).total_seconds()
                       for p in finished.filter(status=Photo.DONE).only("started_at", "finished_at"))
    buckets = [({"le": str(b)}, sum(1 for d in durations if d <= b)) for b in DURATION_BUCKETS]
    metric("colorsite_job_duration_seconds_last_hour", "histogram",
           "Durations of the colorization jobs done in the last hour (a window, not a running total).",
           [])
    lines.extend(f'colorsite_job_duration_seconds_last_hour_bucket{{le="{labels["le"]}"}} {n}' for labels, n in buckets)
    lines.append(f'colorsite_job_duration_seconds_last_hour_bucket{{le="+Inf"}} {len(durations)}')
    lines.append(f"colorsite_job_duration_seconds_last_hour_sum {sum(durations):.3f}")
    lines.append(f"colorsite_job_duration_seconds_last_hour_count {len(durations)}")

    metric("colorsite_quota_refusals_total", "counter",
           "Uploads refused by the daily quota, site and API together (since Redis last started).",
           [({}, refusals())])
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4; charset=utf-8")
