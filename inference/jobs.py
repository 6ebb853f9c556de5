"""
Colorization jobs: the thin adapter between a Photo row and mlcore.

The Photo row is the truth; Redis is transport. We enqueue the photo's
primary key after the transaction that created or reset the row commits; the
job claims the row atomically (queued -> running, checking the count), so a
photo is never colorized twice even when its job is delivered twice; and the
sweeper (sweep(), run by every worker and by `manage.py sweep_jobs`) finds
jobs that were never delivered or whose worker died.
"""

import logging
import threading
import uuid
from datetime import timedelta

import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from gallery.models import STALE_GRACE_SECONDS, Photo

logger = logging.getLogger("inference")

QUEUE_NAME = "colorize"
# Longest error text kept on a photo; enough for a readable reason.
MAX_ERROR_LENGTH = 500
# A queued photo whose job Redis accepted this long ago but that no worker
# has claimed is checked against Redis: a Redis restart loses queued jobs.
QUEUED_RECHECK_SECONDS = 120

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
            from mlcore.colorizer import DEFAULT_MODEL_PATH, Colorizer

            path = settings.COLORIZER_MODEL_PATH or DEFAULT_MODEL_PATH
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


def get_queue():
    import django_rq

    return django_rq.get_queue(QUEUE_NAME)


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
    Photo.objects.filter(pk=photo_id, status=Photo.QUEUED).update(enqueued_at=timezone.now(), rq_job_id=job_id)
    return True


def enqueue_on_commit(photo_id):
    transaction.on_commit(lambda: enqueue(photo_id))


# -- the job -------------------------------------------------------------


def claim(photo_id):
    """queued -> running, atomically. Returns the photo, or None when it was
    not ours to run (already claimed, deleted, or no longer queued)."""
    claimed = Photo.objects.filter(pk=photo_id, status=Photo.QUEUED).update(
        status=Photo.RUNNING,
        started_at=timezone.now(),
        finished_at=None,
        error="",
        attempts=F("attempts") + 1,
    )
    if claimed != 1:
        return None
    return Photo.objects.get(pk=photo_id)


def colorize_photo(photo_id):
    """The RQ job: colorize one photo. Never raises for a bad photo; the
    failure is recorded on the row with a readable reason."""
    photo = claim(photo_id)
    if photo is None:
        logger.info("Photo %s: not queued any more, nothing to do", photo_id)
        return "skipped"

    written = []
    try:
        from mlcore.imageio import load_image

        with default_storage.open(photo.original.name, "rb") as f:
            image = load_image(f)
        colorizer = get_colorizer()
        prediction = colorizer.predict(image)
        rendering = colorizer.render(prediction, image, temperature=photo.temperature)
        replaced = [photo.save_file("prediction", "prediction.npz", prediction.to_bytes())]
        written.append(photo.prediction.name)
        replaced += photo.store_rendering(rendering)
        written += [photo.result.name, photo.after.name, photo.thumbnail.name]
        finished = Photo.objects.filter(pk=photo.pk, status=Photo.RUNNING, attempts=photo.attempts).update(
            status=Photo.DONE,
            finished_at=timezone.now(),
            model_version=colorizer.version,
            prediction=photo.prediction.name,
            result=photo.result.name,
            after=photo.after.name,
            thumbnail=photo.thumbnail.name,
            render_count=photo.render_count,
        )
    except Exception as e:
        for name in written:
            default_storage.delete(name)
        logger.exception("Photo %s: colorization failed", photo_id)
        fail(photo, readable_error(e))
        return "failed"

    if not finished:
        # Deleted, or swept and requeued while we worked: our output is not
        # the row's any more.
        for name in written:
            default_storage.delete(name)
        return "discarded"
    for name in replaced:
        if name:
            default_storage.delete(name)  # the gray thumbnail shown while it was queued
    logger.info("Photo %s: done in %s", photo_id, timezone.now() - photo.started_at)
    return "done"


def fail(photo, reason):
    Photo.objects.filter(pk=photo.pk, status=Photo.RUNNING, attempts=photo.attempts).update(
        status=Photo.FAILED, finished_at=timezone.now(), error=reason[:MAX_ERROR_LENGTH]
    )


def readable_error(e):
    from PIL import UnidentifiedImageError
    from rq.timeouts import JobTimeoutException

    if isinstance(e, ModelUnavailable):
        return str(e)
    if isinstance(e, JobTimeoutException):
        return f"Colorizing took longer than the limit of {settings.COLORIZE_JOB_TIMEOUT} seconds."
    if isinstance(e, MemoryError):
        return "The photo is too large to colorize on this server."
    if isinstance(e, (UnidentifiedImageError, SyntaxError)) or (isinstance(e, OSError) and "image" in str(e)):
        return f"The photo could not be read: {e}"
    if isinstance(e, FileNotFoundError):
        return "The original photo file is missing."
    return f"Colorizing failed: {type(e).__name__}: {e}"


# -- re-rendering (vividness) -----------------------------------------------


def rerender(photo, temperature):
    """Render a done photo again at another temperature from its stored
    prediction: no network run, just decoding and Lab conversion."""
    from mlcore.colorizer import Prediction
    from mlcore.imageio import load_image

    with default_storage.open(photo.prediction.name, "rb") as f:
        prediction = Prediction.from_bytes(f.read())
    with default_storage.open(photo.original.name, "rb") as f:
        image = load_image(f)
    rendering = get_colorizer().render(prediction, image, temperature=temperature)
    photo.temperature = temperature
    replaced = photo.store_rendering(rendering)
    photo.save(update_fields=["temperature", "result", "after", "thumbnail", "render_count"])
    for name in replaced:
        default_storage.delete(name)


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
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0, "enqueued": 0}
    stale_before = now - timedelta(seconds=settings.COLORIZE_JOB_TIMEOUT + STALE_GRACE_SECONDS)

    for photo in Photo.objects.filter(status=Photo.RUNNING, started_at__lt=stale_before):
        lost = Photo.objects.filter(pk=photo.pk, status=Photo.RUNNING, attempts=photo.attempts)
        if photo.attempts >= settings.COLORIZE_MAX_ATTEMPTS:
            counts["failed"] += 1
            if not dry_run:
                lost.update(
                    status=Photo.FAILED,
                    finished_at=now,
                    error=f"The worker stopped while colorizing this photo, {photo.attempts} times. "
                    "Retry it, or try a smaller photo.",
                )
            continue
        counts["requeued"] += 1
        if not dry_run and lost.update(status=Photo.QUEUED, queued_at=now, enqueued_at=None, rq_job_id=""):
            enqueue(photo.pk)

    recheck_before = now - timedelta(seconds=QUEUED_RECHECK_SECONDS)
    waiting = Photo.objects.filter(status=Photo.QUEUED).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=recheck_before)
    )
    for photo in waiting:
        if photo.enqueued_at is not None:
            try:
                if _job_is_waiting(photo.rq_job_id):
                    continue
            except redis.exceptions.RedisError:
                continue  # cannot tell; try again next sweep
        counts["enqueued"] += 1
        if not dry_run:
            enqueue(photo.pk)
    return counts
