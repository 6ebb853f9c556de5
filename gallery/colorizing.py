"""
The work of colorize jobs, each piece of it done once, and timed.

The original is read once and decoded once (its EXIF is read from the same bytes); the network
sees the photos of a batch in one pass; each prediction's distribution is decoded once and
rendered once; every output is encoded once, the colour thumbnail shrunk from the display image
already in memory. Only after the network's pass do the writer threads encode (the prediction
while its photo renders, the PNG beside the JPEGs; numpy and Pillow let go of the GIL), so
torch's threads and the writers never run at once and never compete for the cores. Files and
rows are written on the calling thread, with its database connection (a test's transaction is
on it).

Each photo's stages are timed (STAGES, in milliseconds) and the job keeps them in its RQ meta
under TIMINGS_META_KEY, for bench/load_bench.py to read from Redis after a run.
"""

import io
import time
from collections import defaultdict
from contextlib import contextmanager

from django.core.files.storage import default_storage
from django.utils import timezone

from mlcore.imageio import load_image, save_jpeg, save_png
from mlcore.provenance import original_exif, save_result

# Longest side of the JPEGs shown on the photo page (the before/after
# slider) and in the gallery grid. Downloads are always full size.
DISPLAY_SIZE = 2048
THUMBNAIL_SIZE = 480
DISPLAY_JPEG_QUALITY = 88
# What a job's time goes to. "network" is the whole pass of the photo's batch ("batch" photos).
STAGES = ("queue_wait", "fetch", "decode", "network", "distribution", "render", "encode_prediction",
          "encode_result", "encode_after", "encode_thumbnail", "store", "database")
TIMINGS_META_KEY = "timings"


class Stopwatch:
    """Seconds spent in each stage of one photo's job; stages may run on different threads."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextmanager
    def stage(self, name):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def record(self, photo, outcome, batch):
        """The photo's timings as a job keeps them: milliseconds per stage, and what it was."""
        if photo.started_at and photo.queued_at:
            self.seconds["queue_wait"] = (photo.started_at - photo.queued_at).total_seconds()
        return {"photo": photo.pk, "outcome": outcome, "batch": batch, "pixels": photo.width * photo.height,
                "ms": {name: round(self.seconds[name] * 1000, 3) for name in STAGES if name in self.seconds}}


def read_original(photo, watch):
    """The original decoded (upright, in a mode the colorizer takes) and its EXIF, from one read."""
    with watch.stage("fetch"):
        with default_storage.open(photo.original.name, "rb") as f:
            data = f.read()
    with watch.stage("decode"):
        image = load_image(io.BytesIO(data))
        exif = original_exif(io.BytesIO(data))  # the header only: no second decode
    return image, exif


def predict_batch(colorizer, images, watches):
    """One prediction per image, from one pass of the network; or, for each image, the
    exception its own pass raised when the batch's failed (one bad photo fails alone)."""
    from rq.timeouts import JobTimeoutException

    start = time.perf_counter()
    try:
        predictions = [colorizer.predict(images[0])] if len(images) == 1 else colorizer.predict_many(images)
    except JobTimeoutException:
        raise  # the whole batch is out of time: no second try
    except Exception:
        if len(images) == 1:
            raise
        predictions = []
        for image in images:
            try:
                predictions.append(colorizer.predict(image))
            except JobTimeoutException:
                raise
            except Exception as e:
                predictions.append(e)
    seconds = time.perf_counter() - start
    for watch in watches:
        watch.seconds["network"] += seconds
    return predictions


def encode_rendering(photo, image, vividness, temperature, exif=None, watch=None, pool=None):
    """(result PNG, display JPEG, colour thumbnail JPEG) of a full-resolution rendering, each
    encoded once: the thumbnail is shrunk from the display image, not from the full one. The
    result says how it was made (mlcore/provenance.py, the one writer). With a pool, the PNG
    encodes beside the JPEGs."""
    from gallery import provenance

    watch = watch or Stopwatch()
    facts = provenance.describe(photo, timezone.now(), vividness, temperature)
    facts, carried_exif = provenance.carried(photo, facts, exif=exif)

    def png():
        with watch.stage("encode_result"):
            buf = io.BytesIO()
            save_result(image, buf, "png", facts, carried_exif)
            return buf.getvalue()

    def jpegs():
        with watch.stage("encode_after"):
            display = fit(image, DISPLAY_SIZE)
            if display is image and pool is not None:
                # Pillow keeps a save's encoder settings on the Image object itself: the PNG,
                # saving in the pool, and this JPEG must not share one (a small photo's display
                # image is the photo).
                display = image.copy()
            after = encode_jpeg(display)
        with watch.stage("encode_thumbnail"):
            thumbnail = encode_jpeg(display, THUMBNAIL_SIZE)
        return after, thumbnail

    if pool is None:
        return (png(), *jpegs())
    result = pool.submit(png)
    after, thumbnail = jpegs()
    return result.result(), after, thumbnail


def finish(photo, colorizer, image, exif, prediction, watch, pool):
    """Render a claimed photo from its prediction, store its files and mark it done. Returns
    "done", or "discarded" when the row changed under us. Raises on failure, having removed
    what it wrote."""
    from mlcore.render import compose

    written = []
    try:
        vividness, temperature = prediction.settings(photo.vividness, photo.temperature)

        def prediction_bytes():
            with watch.stage("encode_prediction"):
                return prediction.to_bytes()

        stored_prediction = pool.submit(prediction_bytes)
        # render() is these two steps; they are timed apart.
        with watch.stage("distribution"):
            ab = prediction.ab_at(vividness, temperature)
        with watch.stage("render"):
            rendering = compose(image, ab)
        photo.model_version = colorizer.version  # for the result's provenance
        photo.render_count += 1
        outputs = encode_rendering(photo, rendering, vividness, temperature, exif, watch, pool)
        prediction_data = stored_prediction.result()
        with watch.stage("store"):
            replaced = [photo.save_file("prediction", "prediction.npz", prediction_data)]
            written.append(photo.prediction.name)
            replaced += photo.store_files(photo.render_count, *outputs)
            written += [photo.result.name, photo.after.name, photo.thumbnail.name]
        with watch.stage("database"):
            finished = photo._transition(
                status=photo.DONE,
                finished_at=timezone.now(),
                model_version=colorizer.version,
                temperature=temperature,
                prediction=photo.prediction.name,
                result=photo.result.name,
                after=photo.after.name,
                thumbnail=photo.thumbnail.name,
                render_count=photo.render_count,
            )
    except BaseException:
        photo.discard_files(written)
        raise
    with watch.stage("store"):
        if not finished:
            photo.discard_files(written)  # our output is not the row's any more
            return "discarded"
        photo.discard_files(replaced)  # e.g. the gray thumbnail shown while it was queued
    return "done"


def colorize_claimed(photos, colorizer):
    """Colorize claimed (running) photos, the network in one pass for all of them. Returns,
    for each photo, (outcome, timings): outcome "done", "discarded", or the exception that
    failed it alone, for the caller to record with fail(). A job's time limit ends the whole
    batch: it is raised, for the caller to fail the photos not finished."""
    from concurrent.futures import ThreadPoolExecutor

    from rq.timeouts import JobTimeoutException

    from mlcore.files import WRITERS

    watches = {photo.pk: Stopwatch() for photo in photos}
    outcomes = {}
    loaded = []
    for photo in photos:
        try:
            loaded.append((photo, *read_original(photo, watches[photo.pk])))
        except JobTimeoutException:
            raise
        except Exception as e:
            outcomes[photo.pk] = e
    if loaded:
        try:
            predictions = predict_batch(colorizer, [image for _, image, _ in loaded],
                                        [watches[photo.pk] for photo, _, _ in loaded])
        except JobTimeoutException:
            raise
        except Exception as e:  # raised only for a batch of one: that photo's failure
            predictions = [e]
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="colorize-writer") as pool:
            for (photo, image, exif), prediction in zip(loaded, predictions):
                try:
                    if isinstance(prediction, Exception):
                        raise prediction
                    outcomes[photo.pk] = finish(photo, colorizer, image, exif, prediction, watches[photo.pk], pool)
                except JobTimeoutException:
                    raise
                except Exception as e:
                    outcomes[photo.pk] = e
    return [(outcomes[photo.pk], watches[photo.pk].record(photo, _outcome_name(outcomes[photo.pk]), len(photos)))
            for photo in photos]


def _outcome_name(outcome):
    return "failed" if isinstance(outcome, Exception) else outcome


def fit(image, size):
    """The image shrunk to fit size x size (never enlarged), as Image.thumbnail would make it,
    without thumbnail's full-size copy first (120 MB for a 40 Mpx photo)."""
    from PIL import Image

    longest = max(image.size)
    if longest <= size:
        return image
    scale = size / longest
    fitted = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(fitted, Image.Resampling.BICUBIC, reducing_gap=2.0)


def encode_jpeg(image, max_size=None, quality=DISPLAY_JPEG_QUALITY, **params):
    if max_size:
        image = fit(image, max_size)
    buf = io.BytesIO()
    save_jpeg(image, buf, quality, **params)
    return buf.getvalue()


def encode_png(image, **params):
    buf = io.BytesIO()
    save_png(image, buf, **params)
    return buf.getvalue()

