"""A worker's colorize jobs: a job's pixels are exactly the command line's, photos that wait are
coloured in one pass of the network, each fails alone, a dead worker's batch is recovered, and
every stage of a job is timed."""

import io
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from rq.job import Job

import gallery.job
from gallery.colorizing import STAGES, TIMINGS_META_KEY
from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
from mlcore.colorizer import Colorizer
from tests.conftest import run_worker


def rotated_jpeg(size):
    """A tinted JPEG whose EXIF says to turn it a quarter: the job must see it upright."""
    rgb = np.asarray(Image.linear_gradient("L").resize(size).convert("RGB")).copy()
    rgb[..., 2] //= 2
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


def gradient_png(size, mode="L"):
    buf = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert(mode).save(buf, "PNG")
    return buf.getvalue()


PHOTOS = {"rotated.jpg": rotated_jpeg((90, 60)), "gray.png": gradient_png((70, 50)),
          "alpha.png": gradient_png((64, 80), "LA")}


def pixels(data):
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img)


@pytest.fixture
def queued(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    gallery = Gallery.default_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        photos = [create_photo(gallery, check_image(SimpleUploadedFile(name, data))) for name, data in PHOTOS.items()]
    for photo in photos:
        photo.refresh_from_db()  # sent: its job's id
    return photos


def command_line_pixels(photos, tmp_path):
    """What `manage.py colorize` writes for each photo's original, by name."""
    inputs = []
    for photo in photos:
        path = tmp_path / "in" / photo.original_filename
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(default_storage.open(photo.original.name).read())
        inputs.append(str(path))
    call_command("colorize", *inputs, "--out-dir", str(tmp_path / "out"), verbosity=0)
    return {p.original_filename: pixels((tmp_path / "out" / f"{p.title}.png").read_bytes()) for p in photos}


def stored_pixels(photo):
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    return pixels(default_storage.open(photo.result.name).read())


def test_a_jobs_result_has_exactly_the_command_lines_pixels(queued, tmp_path):
    # The worker's defaults on a CPU: one photo a pass, as the command line.
    run_worker()
    expected = command_line_pixels(queued, tmp_path)
    for photo in queued:
        result = stored_pixels(photo)
        assert result.shape == expected[photo.original_filename].shape
        assert np.array_equal(result, expected[photo.original_filename]), photo.original_filename
    rotated = Photo.objects.get(original_filename="rotated.jpg")
    assert (rotated.width, rotated.height) == (60, 90)  # upright, as people see it
    assert stored_pixels(rotated).shape[:2] == (90, 60)


def test_the_display_jpegs_are_the_result_shrunk(queued, settings):
    run_worker()
    photo = Photo.objects.get(original_filename="gray.png")
    with default_storage.open(photo.after.name) as f:
        after = Image.open(f).convert("RGB")
    with default_storage.open(photo.thumbnail.name) as f:
        thumbnail = Image.open(f)
        thumbnail.load()
    result = stored_pixels(photo).astype(int)
    assert after.size == (70, 50) and thumbnail.size == (70, 50)  # never enlarged
    assert np.abs(np.asarray(after).astype(int) - result).mean() < 3  # JPEG's loss, nothing more


def spy_on_the_network(monkeypatch):
    passes = []
    real = Colorizer.predict_many

    def predict_many(self, images, *args, **kwargs):
        passes.append(len(images))
        return real(self, images, *args, **kwargs)

    monkeypatch.setattr(Colorizer, "predict_many", predict_many)
    return passes


def test_a_worker_colours_the_photos_that_wait_in_one_pass(queued, settings, monkeypatch, tmp_path):
    settings.COLORIZE_BATCH = 4
    passes = spy_on_the_network(monkeypatch)
    run_worker()
    assert passes == [3]
    for photo in queued:
        photo.refresh_from_db()
        assert photo.status == Photo.DONE and photo.attempts == 1
    # The other two jobs found their photos claimed and did nothing.
    results = [Job.fetch(p.rq_job_id, connection=gallery.job.get_queue().connection).return_value() for p in queued]
    assert sorted(results) == ["done", "skipped", "skipped"]
    # A batched pass rounds differently from one photo's by at most a level (the tiny model: none).
    expected = command_line_pixels(queued, tmp_path)
    for photo in queued:
        diff = np.abs(stored_pixels(photo).astype(int) - expected[photo.original_filename].astype(int))
        assert diff.max() <= 1


def test_a_batch_takes_at_most_the_setting(queued, settings, monkeypatch):
    settings.COLORIZE_BATCH = 2
    passes = spy_on_the_network(monkeypatch)
    run_worker()
    assert passes == [2, 1]  # the third photo alone, by its own job
    assert all(Photo.objects.get(pk=p.pk).status == Photo.DONE for p in queued)


def test_an_unreadable_photo_in_a_batch_fails_alone(queued, settings):
    settings.COLORIZE_BATCH = 4
    broken = queued[1]
    with default_storage.open(broken.original.name, "wb") as f:
        f.write(b"not a picture any more")
    run_worker()
    broken.refresh_from_db()
    assert broken.status == Photo.FAILED and broken.error.startswith("The photo could not be read")
    assert not broken.result
    for photo in (queued[0], queued[2]):
        photo.refresh_from_db()
        assert photo.status == Photo.DONE, photo.error


def test_when_a_batchs_pass_fails_each_photo_is_tried_alone(queued, settings, monkeypatch):
    settings.COLORIZE_BATCH = 4
    real_predict, real_predict_many = Colorizer.predict, Colorizer.predict_many

    def predict_many(self, images, *args, **kwargs):
        if len(images) > 1:
            raise MemoryError()
        return real_predict_many(self, images, *args, **kwargs)

    def predict(self, image, *args):
        if image.size == (70, 50):  # gray.png
            raise MemoryError()
        return real_predict(self, image, *args)

    monkeypatch.setattr(Colorizer, "predict_many", predict_many)
    monkeypatch.setattr(Colorizer, "predict", predict)
    run_worker()
    statuses = {p.original_filename: p for p in Photo.objects.all()}
    assert statuses["gray.png"].status == Photo.FAILED
    assert statuses["gray.png"].error == "The photo is too large to colorize on this server."
    assert statuses["rotated.jpg"].status == statuses["alpha.png"].status == Photo.DONE


def test_a_batch_whose_worker_died_is_queued_again_by_the_sweeper(queued, settings):
    lead = Photo.claim(queued[0].pk)
    others = Photo.claim_waiting(3, exclude=[lead.pk])
    assert sorted(p.pk for p in others) == sorted(p.pk for p in queued[1:])
    assert Photo.claim_waiting(3, exclude=[lead.pk]) == []  # nobody else gets them
    # The worker dies: no heartbeat for three beats.
    later = timezone.now() + timedelta(seconds=settings.COLORIZE_HEARTBEAT_SECONDS * 3 + 1)
    assert Photo.sweep(now=later)["requeued"] == 3
    for photo in queued:
        photo.refresh_from_db()
        assert photo.status == Photo.QUEUED and photo.attempts == 1
    run_worker()
    assert all(Photo.objects.get(pk=p.pk).status == Photo.DONE for p in queued)


def test_one_heartbeat_beats_for_every_photo_of_a_batch_until_one_is_not_ours(settings):
    import time

    settings.COLORIZE_HEARTBEAT_SECONDS = 0.05

    class Running:
        def __init__(self, pk, ours=True):
            self.pk, self.ours, self.beats = pk, ours, 0

        def beat(self):
            self.beats += 1
            return self.ours

    photos = [Running(1), Running(2, ours=False), Running(3)]
    with gallery.job.heartbeat(*photos):
        time.sleep(0.5)
    assert photos[0].beats >= 3 and photos[2].beats >= 3
    assert photos[1].beats == 1  # swept away from us: no more beats for it


def test_a_job_keeps_each_photos_stage_timings(queued, settings):
    settings.COLORIZE_BATCH = 2
    run_worker()
    connection = gallery.job.get_queue().connection
    timings = {}
    for photo in queued:
        for record in Job.fetch(photo.rq_job_id, connection=connection).meta.get(TIMINGS_META_KEY, []):
            timings[record["photo"]] = record
    assert sorted(timings) == sorted(p.pk for p in queued)
    for photo in queued:
        record = timings[photo.pk]
        assert record["outcome"] == "done" and record["pixels"] == photo.width * photo.height
        assert set(record["ms"]) == set(STAGES)
        assert all(ms >= 0 for ms in record["ms"].values())
        assert record["ms"]["network"] > 0 and record["ms"]["encode_result"] > 0
    assert sorted(r["batch"] for r in timings.values()) == [1, 2, 2]


def test_the_writers_start_only_after_the_networks_pass(queued, settings, monkeypatch):
    # Torch's threads and the writer threads never run at once, so they never fight for cores.
    import time

    import gallery.colorizing

    settings.COLORIZE_BATCH = 4
    events = []
    real_predict_many, real_save_result = Colorizer.predict_many, gallery.colorizing.save_result

    def predict_many(self, images, *args, **kwargs):
        try:
            return real_predict_many(self, images, *args, **kwargs)
        finally:
            events.append(("network done", time.perf_counter()))

    def save_result(*args, **kwargs):
        events.append(("encoding", time.perf_counter()))
        return real_save_result(*args, **kwargs)

    monkeypatch.setattr(Colorizer, "predict_many", predict_many)
    monkeypatch.setattr(gallery.colorizing, "save_result", save_result)
    run_worker()
    network_done = [t for name, t in events if name == "network done"]
    encodings = [t for name, t in events if name == "encoding"]
    assert len(network_done) == 1 and len(encodings) == 3
    assert min(encodings) > network_done[0]


def test_a_large_photo_is_colorized_alone(queued, settings, monkeypatch):
    import inference.jobs

    settings.COLORIZE_BATCH = 4
    # Of the three photos only gray.png (70 x 50) is under this.
    monkeypatch.setattr(gallery.job, "BATCH_MAX_PIXELS", 4000)
    monkeypatch.setattr(inference.jobs, "BATCH_MAX_PIXELS", 4000)
    passes = spy_on_the_network(monkeypatch)
    run_worker()
    assert passes == [1, 1, 1]
    assert all(Photo.objects.get(pk=p.pk).status == Photo.DONE for p in queued)


def test_the_png_and_the_jpegs_never_encode_one_image_object_at_once(queued, monkeypatch):
    """Pillow keeps a save's encoder settings on the Image object: a small photo's display image
    is the photo itself, and the PNG (on a writer thread) and the JPEG saving that one object at
    once made the encoder take the other format's arguments ("takes at most 6 arguments")."""
    from concurrent.futures import ThreadPoolExecutor

    import gallery.colorizing as colorizing

    seen = {}
    real_save_result, real_encode_jpeg = colorizing.save_result, colorizing.encode_jpeg
    monkeypatch.setattr(colorizing, "save_result",
                        lambda image, *a, **k: (seen.setdefault("png", id(image)), real_save_result(image, *a, **k))[1])
    monkeypatch.setattr(colorizing, "encode_jpeg",
                        lambda image, *a, **k: (seen.setdefault("jpeg", id(image)), real_encode_jpeg(image, *a, **k))[1])
    small = Image.new("RGB", (64, 48), (120, 80, 40))
    with ThreadPoolExecutor(max_workers=1) as pool:
        png, after, thumbnail = colorizing.encode_rendering(queued[0], small, 50, 0.6, pool=pool)
    assert seen["png"] == id(small) and seen["jpeg"] != id(small)
    assert pixels(png).shape == (48, 64, 3) and pixels(after).shape == (48, 64, 3)
