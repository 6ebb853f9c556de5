"""
Colorization jobs: the RQ glue between a Photo row and mlcore.

The Photo row is the truth; Redis is transport. We enqueue the photo's
primary key after the transaction that created or reset the row commits; the
job claims the row atomically (Photo.claim), so a photo is never colorized
twice even when its job is delivered twice; and the sweeper (sweep(), run by
every worker and by `manage.py sweep_jobs`) finds jobs that were never
delivered or whose worker died. Every state transition is a method of the
Photo (gallery/models.py); this module only moves primary keys and loads the
model.

Imports run one way (mlcore <- inference <- gallery): this module never
imports gallery. It finds the Photo model through Django's app registry
(photo_model()), as a ForeignKey("gallery.Photo") would.
"""

import logging
import threading
import uuid
from contextlib import contextmanager

import redis
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger("inference")

QUEUE_NAME = "colorize"
# Re-renders from a stored prediction: numpy only, well under a second. Workers serve this
# queue before "colorize" (`rqworker render colorize`), so moving the vividness slider is
# not stuck behind a gallery's worth of uploads.
RENDER_QUEUE_NAME = "render"

_colorizer = None
_colorizer_key = None
_colorizer_lock = threading.Lock()


class ModelUnavailable(Exception):
    """The colorization model cannot be loaded: its file is missing or not a
    checkpoint. Its message is the reason shown on every failed photo."""


def get_colorizer():
    """The Colorizer, loaded once per process (on the GPU when CUDA is present)."""
    global _colorizer, _colorizer_key
    key = (settings.COLORIZER_MODEL_PATH, settings.COLORIZER_DEVICE)
    with _colorizer_lock:
        if _colorizer is None or _colorizer_key != key:
            from mlcore.colorizer import Colorizer
            from mlcore.paths import model_path

            path = model_path(settings.COLORIZER_MODEL_PATH)
            try:
                _colorizer = Colorizer.load(path=path, device=settings.COLORIZER_DEVICE)
            except Exception as e:
                # Without this, a missing model read as "the original photo
                # file is missing" (both are FileNotFoundError).
                # The path and the details go to the log, not to people.
                logger.error("Cannot load the colorization model %s: %s: %s", path, type(e).__name__, e)
                missing = isinstance(e, FileNotFoundError) or isinstance(e.__cause__, FileNotFoundError)
                problem = "is missing" if missing else "is damaged"
                raise ModelUnavailable(
                    f"The colorization model {problem} on the server, so colorizing is unavailable "
                    "until it is fixed. Retry this photo later."
                ) from e
            _colorizer_key = key
            if settings.COLORIZER_THREADS:
                import torch

                torch.set_num_threads(settings.COLORIZER_THREADS)
            logger.info("Loaded colorizer %s on %s", _colorizer.version, _colorizer.device)
        return _colorizer


def photo_model():
    return apps.get_model("gallery", "Photo")


def get_queue(name=QUEUE_NAME):
    import django_rq

    return django_rq.get_queue(name)


# -- enqueueing ----------------------------------------------------------


def enqueue(photo_id):
    """Send the photo's job to Redis. Returns True when Redis accepted it.

    Redis being unreachable is not an error for the caller: the photo stays
    queued with enqueued_at empty, its page says it will start when the
    queue is back, and the sweeper sends it then.
    """
    job_id = f"photo-{photo_id}-{uuid.uuid4().hex[:12]}"
    try:
        get_queue().enqueue(
            colorize_photo, photo_id, job_id=job_id, job_timeout=settings.COLORIZE_JOB_TIMEOUT, result_ttl=3600
        )
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
        logger.warning("Could not enqueue photo %s, the sweeper will retry: %s", photo_id, e)
        return False
    photo_model().mark_sent(photo_id, job_id)
    return True


def enqueue_on_commit(photo_id):
    transaction.on_commit(lambda: enqueue(photo_id))


def enqueue_render(photo_id):
    """Send a re-render job; with Redis down the sweeper sends it later."""
    try:
        get_queue(RENDER_QUEUE_NAME).enqueue(
            render_photo, photo_id, job_id=f"render-{photo_id}-{uuid.uuid4().hex[:12]}",
            job_timeout=settings.COLORIZE_JOB_TIMEOUT, result_ttl=600,
        )
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
        logger.warning("Could not enqueue a re-render of photo %s, the sweeper will retry: %s", photo_id, e)
        return False
    return True


def enqueue_render_on_commit(photo_id):
    transaction.on_commit(lambda: enqueue_render(photo_id))


# -- the job -------------------------------------------------------------


def colorize_photo(photo_id):
    """The RQ job: colorize one photo. Never raises for a bad photo; the
    failure is recorded on the row with a readable reason."""
    photo = photo_model().claim(photo_id)
    if photo is None:
        logger.info("Photo %s: not queued any more, nothing to do", photo_id)
        return "skipped"
    try:
        with heartbeat(photo):
            outcome = photo.colorize(get_colorizer())
    except Exception as e:
        logger.exception("Photo %s: colorization failed", photo_id)
        photo.fail(readable_error(e))
        return "failed"
    if outcome == "done":
        logger.info("Photo %s: done in %s", photo_id, timezone.now() - photo.started_at)
    return outcome


@contextmanager
def heartbeat(photo):
    """While the block runs, a thread refreshes the photo's heartbeat every
    COLORIZE_HEARTBEAT_SECONDS (photo.beat()), so that the sweeper can tell a
    long job from one whose worker died (SIGKILL, out of memory, a machine
    gone) within seconds instead of after the job's whole time limit. The
    thread uses a database connection of its own and closes it."""
    from django.db import connection

    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(settings.COLORIZE_HEARTBEAT_SECONDS):
                try:
                    if not photo.beat():
                        return  # not ours any more; the job's result will be discarded
                except Exception as e:  # the database restarting: try again next beat
                    logger.warning("Photo %s: heartbeat failed: %s", photo.pk, e)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-photo-{photo.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def render_photo(photo_id):
    """The RQ job of a re-render: the photo does it from its stored prediction."""
    photo = photo_model().objects.filter(pk=photo_id).first()
    if photo is None:
        return "skipped"
    return photo.render_requested()


def readable_error(e):
    from PIL import UnidentifiedImageError
    from rq.timeouts import JobTimeoutException

    if isinstance(e, ModelUnavailable):
        return str(e)
    if isinstance(e, JobTimeoutException):
        return f"Colorizing took longer than the limit of {settings.COLORIZE_JOB_TIMEOUT} seconds."
    # torch says "DefaultCPUAllocator: can't allocate memory" in a RuntimeError.
    if isinstance(e, MemoryError) or "can't allocate memory" in str(e):
        return "The photo is too large to colorize on this server."
    if isinstance(e, (UnidentifiedImageError, SyntaxError)) or (isinstance(e, OSError) and "image" in str(e)):
        return f"The photo could not be read: {e}"
    if isinstance(e, FileNotFoundError):
        return "The original photo file is missing."
    return f"Colorizing failed: {type(e).__name__}: {e}"


# -- the sweeper -----------------------------------------------------------


def _job_is_waiting(job_id):
    """Is this RQ job still on its way to a worker (queued or scheduled)?"""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=get_queue().connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def sweep(now=None, dry_run=False):
    """Find jobs that need help; return counts of what was (or would be) done.

    - running for longer than the job timeout plus a grace period: the
      worker died. Queue it again, or fail it after COLORIZE_MAX_ATTEMPTS.
    - queued but never accepted by Redis (it was down): send it now.
    - queued, accepted a while ago, but the job is gone from Redis (Redis
      restarted without its data): send it again.
    - a re-render asked for a while ago and still not done: send it again.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0, "enqueued": 0, "renders": 0}
    Photo = photo_model()
    for photo in Photo.objects.lost(now):
        outcome = photo.requeue_if_lost(now, dry_run=dry_run)
        if outcome:
            counts[outcome] += 1
        if outcome == "requeued" and not dry_run:
            enqueue(photo.pk)

    for photo in Photo.objects.to_send(now):
        if photo.enqueued_at is not None:
            try:
                if _job_is_waiting(photo.rq_job_id):
                    continue
            except redis.exceptions.RedisError:
                continue  # cannot tell; try again next sweep
        counts["enqueued"] += 1
        if not dry_run:
            enqueue(photo.pk)

    for photo in Photo.objects.renders_to_send(now):
        counts["renders"] += 1
        if not dry_run:
            enqueue_render(photo.pk)
    return counts
