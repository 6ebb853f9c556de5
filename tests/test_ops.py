"""/healthz and /metrics: what an operator's load balancer and Prometheus see."""

import pytest

from gallery.models import Photo
from tests.api_support import client_for, fresh_throttles, upload  # noqa: F401
from tests.test_jobs import new_photo


def test_healthz_is_200_when_database_redis_and_model_are_there(client, db, redis_conn, tiny_model):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "model": "ok"}}
    assert "no-cache" in r["Cache-Control"]


def test_healthz_is_503_naming_the_missing_model_and_no_path(client, db, redis_conn, settings, tmp_path):
    settings.COLORIZER_MODEL_PATH = str(tmp_path / "gone.pt")
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "redis": "ok", "model": "failing: FileNotFoundError"}
    assert str(tmp_path) not in r.content.decode()


def test_healthz_is_503_naming_redis_when_it_is_down(client, db, settings, tiny_model, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    for queue in settings.RQ_QUEUES:
        monkeypatch.setitem(settings.RQ_QUEUES, queue, {"URL": f"redis://127.0.0.1:{port}/0", "DEFAULT_TIMEOUT": 60})
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["checks"]["redis"].startswith("failing")
    assert r.json()["checks"]["database"] == "ok"


def test_metrics_are_hidden_in_production_without_a_token(client, db, settings):
    settings.DEBUG, settings.METRICS_TOKEN = False, ""
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(client, db, settings):
    settings.DEBUG, settings.METRICS_TOKEN = False, "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_metrics_report_queues_photos_durations_failures_and_quota_refusals(
    client, owner, settings, redis_conn, tiny_model, django_capture_on_commit_callbacks
):
    from tests.conftest import run_worker

    settings.DEBUG, settings.METRICS_TOKEN, settings.COLORIZE_DAILY_QUOTA = False, "s3cret-token", 1
    with django_capture_on_commit_callbacks(execute=True):
        new_photo(owner, "a.png")
        failed = new_photo(owner, "b.png")
    run_worker()
    Photo.objects.filter(pk=failed.pk).update(status=Photo.FAILED, error="boom")
    new_photo(owner, "never-sent.png")
    api = client_for(owner)
    assert upload(api, django_capture_on_commit_callbacks).status_code == 202  # sent: waits in the queue
    assert upload(api, django_capture_on_commit_callbacks).status_code == 429  # over the quota of 1

    r = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.content.decode()
    assert 'colorsite_photos{status="done"} 1' in text and 'colorsite_photos{status="failed"} 1' in text
    assert 'colorsite_photos{status="queued"} 2' in text
    assert 'colorsite_queue_jobs{queue="colorize"} 1' in text and "colorsite_redis_up 1" in text
    assert 'colorsite_jobs_finished_last_hour{outcome="done"} 1' in text
    assert 'colorsite_job_duration_seconds_last_hour_bucket{le="+Inf"} 1' in text
    assert "colorsite_quota_refusals_total 1" in text
