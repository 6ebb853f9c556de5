"""sweep_jobs: lost jobs are requeued or failed, undelivered ones sent."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from gallery.models import Photo
import gallery.job
from tests.conftest import run_worker
from tests.test_jobs import new_photo


def sweep_command(*args):
    out = StringIO()
    call_command("sweep_jobs", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def photo(owner, redis_conn):
    # Created without running the on-commit enqueue: as if Redis never got it.
    return new_photo(owner)


def make_lost(photo, attempts=1, minutes=30):
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.RUNNING, attempts=attempts, started_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_it_requeues_a_job_whose_worker_died(photo, tiny_model):
    make_lost(photo, attempts=1)
    out = sweep_command()
    assert "requeued 1 lost job(s)" in out
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED and photo.enqueued_at is not None
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE and photo.attempts == 2


def test_it_fails_a_job_after_the_last_attempt(photo, settings):
    settings.COLORIZE_MAX_ATTEMPTS = 3
    make_lost(photo, attempts=3)
    out = sweep_command()
    assert "failed 1" in out
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert "worker stopped" in photo.error and "3 times" in photo.error


def test_it_leaves_a_running_job_within_its_time_alone(photo, settings):
    settings.COLORIZE_JOB_TIMEOUT = 600
    make_lost(photo, minutes=5)
    assert "requeued 0" in sweep_command()
    photo.refresh_from_db()
    assert photo.status == Photo.RUNNING


def run_for(photo, started, heartbeat=None):
    now = timezone.now()
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.RUNNING, attempts=1, started_at=now - timedelta(seconds=started),
        heartbeat_at=None if heartbeat is None else now - timedelta(seconds=heartbeat),
    )


def test_it_requeues_a_job_whose_heartbeat_stopped_three_beats_ago(photo, settings):
    settings.COLORIZE_HEARTBEAT_SECONDS = 10
    run_for(photo, started=45, heartbeat=31)
    assert "requeued 1" in sweep_command()
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED


def test_it_leaves_a_long_job_whose_heartbeat_is_fresh_alone(photo, settings):
    settings.COLORIZE_HEARTBEAT_SECONDS, settings.COLORIZE_JOB_TIMEOUT = 10, 600
    run_for(photo, started=500, heartbeat=29)
    assert "requeued 0" in sweep_command()
    photo.refresh_from_db()
    assert photo.status == Photo.RUNNING


@pytest.mark.parametrize("past_grace, requeued", [(-5, 0), (5, 1)])
def test_a_job_without_heartbeats_is_lost_only_after_its_time_limit_and_the_grace_period(
    photo, settings, past_grace, requeued
):
    # A job whose heartbeat keeps going but that never ends is lost too, once its time limit
    # and the grace period for RQ to record the timeout have passed.
    from gallery.job import STALE_GRACE_SECONDS

    settings.COLORIZE_JOB_TIMEOUT, settings.COLORIZE_HEARTBEAT_SECONDS = 100, 10
    run_for(photo, started=100 + STALE_GRACE_SECONDS + past_grace, heartbeat=1)
    assert f"requeued {requeued}" in sweep_command()


def test_it_sends_a_job_that_never_reached_redis(photo, tiny_model):
    assert photo.enqueued_at is None and gallery.job.get_queue().count == 0
    out = sweep_command()
    assert "sent 1 queued job(s)" in out
    assert gallery.job.get_queue().count == 1
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE


def test_it_resends_a_job_that_redis_lost(photo, redis_conn):
    Photo.enqueue(photo.pk)
    Photo.objects.filter(pk=photo.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))
    assert "sent 0" in sweep_command()  # still in the queue: left alone
    redis_conn.flushdb()  # Redis restarted without its data
    assert "sent 1" in sweep_command()
    assert gallery.job.get_queue().count == 1


def test_dry_run_changes_nothing(photo):
    make_lost(photo, attempts=1)
    out = sweep_command("--dry-run")
    assert out.startswith("Would have requeued 1")
    photo.refresh_from_db()
    assert photo.status == Photo.RUNNING


def test_the_worker_sweeps_during_maintenance(photo, tiny_model):
    make_lost(photo, attempts=1)
    worker = run_worker()  # runs maintenance on start, then the requeued job
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    assert worker.maintenance_interval == gallery.job.settings.SWEEP_INTERVAL
