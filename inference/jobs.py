"""
The worker's side of a colorization job: load the model once per process, and run the jobs
that gallery/job.py sends by name (COLORIZE_JOB, RENDER_JOB).

The whole life of a job (states, sending, claiming, the heartbeat, failure wording, the
sweeper) reads top to bottom in gallery/job.py. The worker stands above the domain: it
imports the Photo model and calls its methods; gallery imports nothing from here.
"""

import logging
import threading

from django.conf import settings
from django.utils import timezone

from gallery.job import BATCH_MAX_PIXELS, ReadableError, heartbeat, readable_error
from gallery.models import Photo

logger = logging.getLogger("inference")

_colorizer = None
_colorizer_key = None
_colorizer_lock = threading.Lock()


class ModelUnavailable(ReadableError):
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


# -- the job -------------------------------------------------------------


def batch_size(colorizer):
    """Photos a worker colorizes in one pass of the network (settings.COLORIZE_BATCH)."""
    if settings.COLORIZE_BATCH:
        return settings.COLORIZE_BATCH
    from mlcore.management.commands.colorize import GPU_BATCH

    # As `manage.py colorize`: a CPU keeps one, so a job's pixels are exactly the command line's.
    return GPU_BATCH if colorizer.device.type == "cuda" else 1


def colorize_photo(photo_id):
    """The RQ job: colorize one photo, and up to COLORIZE_BATCH - 1 others that wait (none for
    a large photo: BATCH_MAX_PIXELS), in one pass of the network. Never raises for a bad
    photo; each failure is recorded on its own row with a readable reason, and fails no other
    photo. The photos' stage timings are kept in this job's meta (gallery/colorizing.py)."""
    from gallery.colorizing import colorize_claimed

    photo = Photo.claim(photo_id)
    if photo is None:
        logger.info("Photo %s: not queued any more, nothing to do", photo_id)
        return "skipped"
    photos = [photo]
    try:
        colorizer = get_colorizer()
        if photo.width * photo.height <= BATCH_MAX_PIXELS:
            photos += Photo.claim_waiting(batch_size(colorizer) - 1, exclude=[photo_id])
        with heartbeat(*photos):
            results = colorize_claimed(photos, colorizer)
    except Exception as e:
        # No model, or the job's time limit: every photo not finished fails with the reason
        # (fail() changes only a row still running this attempt).
        logger.exception("Photo %s: colorization failed", photo_id)
        for each in photos:
            each.fail(readable_error(e))
        return "failed"
    timings = []
    for each, (outcome, timing) in zip(photos, results):
        if isinstance(outcome, Exception):
            logger.error("Photo %s: colorization failed", each.pk, exc_info=outcome)
            each.fail(readable_error(outcome))
        elif outcome == "done":
            logger.info("Photo %s: done in %s", each.pk, timezone.now() - each.started_at)
        timings.append(timing)
    keep_timings(timings)
    outcome = results[0][0]
    return "failed" if isinstance(outcome, Exception) else outcome


def keep_timings(timings):
    """Keep the photos' stage timings in the running RQ job's meta (none outside a worker)."""
    from rq import get_current_job

    from gallery.colorizing import TIMINGS_META_KEY

    job = get_current_job()
    if job is None:
        return
    job.meta[TIMINGS_META_KEY] = timings
    try:
        job.save_meta()
    except Exception as e:  # Redis gone for a moment: the photos are done all the same
        logger.warning("Could not keep the timings of job %s: %s", job.id, e)


def render_photo(photo_id):
    """The RQ job of a re-render: the photo does it, from its stored prediction, or with the
    network when its colour hints changed. Its newest request is read as the job starts."""
    photo = Photo.take_render(photo_id)
    if photo is None:
        return "skipped"
    return photo.render_requested(get_colorizer)
