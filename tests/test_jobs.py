"""The colorization job: enqueue on commit, claim once, run through a real
RQ worker, record the outcome on the photo row."""

import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
import gallery.job
from inference import jobs
from tests.conftest import run_worker, upload_file


def new_photo(user, name="photo.png", **kwargs):
    gallery = Gallery.default_for(user)
    return create_photo(gallery, check_image(upload_file(name, **kwargs)))


@pytest.fixture
def queued_photo(owner, redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner, size=(80, 60))
    photo.refresh_from_db()
    return photo


def test_it_enqueues_only_after_commit(owner, redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        photo = new_photo(owner)
    assert gallery.job.get_queue().count == 0
    assert len(callbacks) == 1
    callbacks[0]()
    assert gallery.job.get_queue().count == 1
    job = gallery.job.get_queue().jobs[0]
    # RQ carries the primary key, nothing else.
    assert job.args == (photo.pk,)
    photo.refresh_from_db()
    assert photo.enqueued_at is not None and photo.rq_job_id == job.id


def test_a_worker_colorizes_the_photo(queued_photo, tiny_model):
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    assert photo.status == Photo.DONE, photo.error
    assert photo.attempts == 1
    assert photo.started_at <= photo.finished_at
    assert photo.model_version
    with default_storage.open(photo.result.name) as f:
        result = Image.open(f)
        result.load()
    assert result.size == (80, 60) and result.mode == "RGB"
    from mlcore.render import Prediction

    with default_storage.open(photo.prediction.name) as f:
        assert Prediction.from_bytes(f.read()) is not None
    assert default_storage.exists(photo.after.name) and default_storage.exists(photo.thumbnail.name)
    # The gray thumbnail shown while queued is replaced, not left behind.
    assert not default_storage.exists(f"{photo.folder}/thumb-0.jpg")


def test_a_photo_is_claimed_once(queued_photo, tiny_model):
    assert Photo.claim(queued_photo.pk) is not None
    assert Photo.claim(queued_photo.pk) is None
    # The job delivered after the claim does nothing.
    assert jobs.colorize_photo(queued_photo.pk) == "skipped"
    assert Photo.objects.get(pk=queued_photo.pk).attempts == 1


def test_a_duplicate_delivery_colorizes_once(queued_photo, tiny_model, django_capture_on_commit_callbacks):
    Photo.enqueue(queued_photo.pk)  # e.g. the sweeper re-sent it
    assert gallery.job.get_queue().count == 2
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    assert photo.status == Photo.DONE and photo.attempts == 1 and photo.render_count == 1


def test_a_failure_is_recorded_with_a_reason(queued_photo, tiny_model):
    default_storage.delete(queued_photo.original.name)
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    assert photo.status == Photo.FAILED
    assert "missing" in photo.error
    assert photo.finished_at is not None


def test_a_failed_photo_can_be_retried(queued_photo, tiny_model, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(jobs, "get_colorizer", lambda: (_ for _ in ()).throw(RuntimeError("GPU on fire")))
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    assert photo.status == Photo.FAILED and "GPU on fire" in photo.error
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert photo.retry()
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE and photo.error == ""


def test_a_deleted_photo_is_skipped(queued_photo, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queued_photo.delete()
    run_worker()
    assert not Photo.objects.exists()
    assert not default_storage.exists(queued_photo.original.name)


def test_a_rerender_is_a_job_that_changes_colours_without_the_network(
    queued_photo, tiny_model, monkeypatch, django_capture_on_commit_callbacks
):
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    with default_storage.open(photo.result.name) as f:
        before = Image.open(f).convert("RGB").tobytes()
    colorizer = jobs.get_colorizer()
    monkeypatch.setattr(colorizer, "predict", lambda *a: pytest.fail("re-rendering ran the network"))
    old_result = photo.result.name
    with django_capture_on_commit_callbacks(execute=True):
        photo.request_render(vividness=90)
    (job,) = gallery.job.get_queue(gallery.job.RENDER_QUEUE_NAME).jobs
    assert job.args == (photo.pk,) and gallery.job.get_queue().count == 0  # the light queue, by primary key
    photo.refresh_from_db()
    assert photo.is_rendering and photo.vividness == 50 and photo.render_count == 1
    run_worker()
    photo.refresh_from_db()
    assert not photo.is_rendering and photo.vividness == 90 and photo.render_count == 2
    with default_storage.open(photo.result.name) as f:
        after = Image.open(f)
        assert after.size == (80, 60)
        assert after.convert("RGB").tobytes() != before
    assert not default_storage.exists(old_result)


def test_a_rerender_asked_again_meanwhile_is_done_once_at_the_last_setting(
    queued_photo, tiny_model, django_capture_on_commit_callbacks
):
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    with django_capture_on_commit_callbacks(execute=True):
        photo.request_render(vividness=10)
        photo.request_render(vividness=70)
    # The second request joined the job the first one sent, which renders the last request.
    assert gallery.job.get_queue(gallery.job.RENDER_QUEUE_NAME).count == 1
    run_worker()
    photo.refresh_from_db()
    assert photo.vividness == 70 and photo.render_count == 2 and not photo.is_rendering
    assert len([n for n in default_storage.listdir(photo.folder)[1] if n.startswith("result-")]) == 1


def test_a_lost_rerender_is_sent_again_by_the_sweeper(queued_photo, tiny_model):
    run_worker()
    photo = Photo.objects.get(pk=queued_photo.pk)
    photo.request_render(vividness=80)  # its on-commit enqueue never runs: as if Redis was down
    assert Photo.sweep()["renders"] == 0  # too recent to call lost
    later = timezone.now() + timedelta(minutes=5)
    assert Photo.sweep(now=later) == {"requeued": 0, "failed": 0, "enqueued": 0, "renders": 1}
    run_worker()
    photo.refresh_from_db()
    assert photo.vividness == 80 and not photo.is_rendering


@pytest.mark.parametrize("error", [
    "ConnectionError('Connection refused')",
    "TimeoutError('Timeout reading from socket')",  # a Redis that accepts and never answers
    "BusyLoadingError('Redis is loading the dataset in memory')",
    "ReadOnlyError('You cannot write against a read only replica.')",
    "ResponseError('OOM command not allowed when used memory > maxmemory')",
])
def test_upload_with_redis_down_or_refusing_keeps_the_photo(owner, redis_conn, monkeypatch,
                                                             django_capture_on_commit_callbacks, error):
    import redis

    class DownQueue:
        def enqueue(self, *args, **kwargs):
            raise eval(error, vars(redis.exceptions))

    monkeypatch.setattr(gallery.job, "get_queue", lambda: DownQueue())
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner)
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED and photo.enqueued_at is None
    assert photo.status_label == "Queued, will start when the queue is back"
    assert default_storage.exists(photo.original.name)


def test_a_worker_lowers_its_cpu_priority_to_the_setting_before_loading_the_model(queued_photo, tiny_model,
                                                                                   settings, monkeypatch):
    import inference.worker

    calls = []
    monkeypatch.setattr(inference.worker, "lower_cpu_priority", calls.append)
    settings.COLORIZE_WORKER_NICE = 7
    run_worker()
    assert calls == [7]
    assert Photo.objects.get(pk=queued_photo.pk).status == Photo.DONE


def test_lowering_cpu_priority_raises_niceness_and_never_lowers_it():
    # In a child process: niceness cannot be taken back once raised.
    # A thread started before (and idle meanwhile) is lowered too, where the OS allows it.
    code = ("import os, threading\nfrom inference.worker import lower_cpu_priority\n"
            "tid = []; go = threading.Event()\n"
            "t = threading.Thread(target=lambda: (tid.append(threading.get_native_id()), go.wait())); t.start()\n"
            "while not tid: pass\n"
            "base = os.getpriority(os.PRIO_PROCESS, 0)\n"
            "lower_cpu_priority(7); a = os.getpriority(os.PRIO_PROCESS, 0)\n"
            "other = os.getpriority(os.PRIO_PROCESS, tid[0]) if os.path.isdir('/proc/self/task') else a\n"
            "lower_cpu_priority(3); lower_cpu_priority(0); go.set(); t.join()\n"
            "print(base, a, other, os.getpriority(os.PRIO_PROCESS, 0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"})
    base, raised, other_thread, after = map(int, out.stdout.split())
    assert raised == max(base, 7) and other_thread == raised and after == raised


def test_a_running_job_refreshes_its_heartbeat_until_it_ends(settings):
    import time

    settings.COLORIZE_HEARTBEAT_SECONDS = 0.05

    class Running:
        pk, beats = 1, 0

        def beat(self):
            self.beats += 1
            return True

    photo = Running()
    with gallery.job.heartbeat(photo):
        time.sleep(0.5)
    beats = photo.beats
    assert beats >= 3
    time.sleep(0.2)
    assert photo.beats == beats  # stopped with the job


def test_a_job_over_its_time_limit_fails_with_that_reason(queued_photo, tiny_model, settings, monkeypatch):
    import time

    # The limit is set when the job is sent: send it again with a 1 s limit.
    settings.COLORIZE_JOB_TIMEOUT = 1
    gallery.job.get_queue().empty()
    Photo.enqueue(queued_photo.pk)
    from mlcore.colorizer import Colorizer

    monkeypatch.setattr(Colorizer, "predict", lambda self, image: time.sleep(30))
    started = time.monotonic()
    run_worker()
    assert time.monotonic() - started < 20
    queued_photo.refresh_from_db()
    assert queued_photo.status == Photo.FAILED
    assert queued_photo.error == "Colorizing took longer than the limit of 1 seconds."


def test_the_worker_does_not_log_its_routine_registry_cleaning(redis_conn, caplog):
    import django_rq

    worker = django_rq.get_worker("render", "colorize")
    with caplog.at_level(logging.INFO, logger="rq.worker"):
        worker.clean_registries()
        worker.log.info("render: a job")
    assert worker.last_cleaned_at is not None  # it did clean
    messages = [r.getMessage() for r in caplog.records if r.name == "rq.worker"]
    assert "render: a job" in messages
    assert not any("cleaning registries" in m for m in messages)
    with caplog.at_level(logging.DEBUG, logger="rq.worker"):
        worker.clean_registries()
    assert any("cleaning registries" in r.getMessage() for r in caplog.records)
