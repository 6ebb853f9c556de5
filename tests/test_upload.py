"""Uploads: what is accepted, and a clear error with nothing stored for
everything else."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gallery.models import Gallery, Photo
from tests.conftest import image_bytes, upload_file


@pytest.fixture
def gallery(owner):
    return Gallery.default_for(owner)


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def media_files(settings):
    return [os.path.join(d, f) for d, _, files in os.walk(settings.MEDIA_ROOT) for f in files]


def post(client, gallery, *files, json=False):
    """The upload form (HTML), or with json=True what the page's script sends: one photo to
    the API, with the browser's session."""
    if json:
        (upload,) = files
        return client.post("/api/v1/photos/", {"image": upload, "gallery": gallery.pk})
    return client.post(f"/galleries/{gallery.pk}/upload", {"photos": list(files)})


def messages_of(response):
    body = response.json()
    return body["image"] if "image" in body else [body["detail"]]


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tif")])
def test_it_accepts_each_supported_format(logged_in, gallery, redis_conn, fmt, ext):
    r = post(logged_in, gallery, upload_file(f"old.{ext}", fmt=fmt, size=(30, 20)), json=True)
    assert r.status_code == 202, r.content
    photo = Photo.objects.get()
    assert photo.image_format == fmt and (photo.width, photo.height) == (30, 20)
    assert photo.original.name.endswith(f"/original.{ext}")
    assert photo.status == Photo.QUEUED


def test_it_stores_originals_byte_for_byte_under_unguessable_names(logged_in, gallery, owner, redis_conn):
    data = image_bytes("PNG")
    post(logged_in, gallery, SimpleUploadedFile("grandma.png", data))
    photo = Photo.objects.get()
    assert photo.original.read() == data
    assert photo.original_filename == "grandma.png"
    assert "grandma" not in photo.original.name
    prefix, user_dir, secret = photo.folder.split("/")
    assert (prefix, user_dir) == ("photos", f"u{owner.pk}") and len(secret) == 32


def test_several_photos_at_once(logged_in, gallery, redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = post(logged_in, gallery, upload_file("a.png"), upload_file("b.jpg", fmt="JPEG"))
    assert r.status_code == 302
    assert Photo.objects.count() == 2
    from gallery.job import get_queue

    assert get_queue().count == 2


def test_exif_orientation_is_applied_to_the_dimensions(logged_in, gallery, redis_conn):
    img = Image.linear_gradient("L").resize((40, 20)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    post(logged_in, gallery, SimpleUploadedFile("rotated.jpg", buf.getvalue()))
    photo = Photo.objects.get()
    assert (photo.width, photo.height) == (20, 40)


def truncated_jpeg():
    data = image_bytes("JPEG", size=(200, 200))
    return data[: len(data) // 2]


def bomb_png():
    # 30000x30000 = 900 Mpx of gray, a few kilobytes compressed.
    img = Image.new("1", (30000, 30000))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name,data,message", [
    ("notes.txt", b"Dear diary, today I scanned a photo.", b"not an image we can read"),
    ("half.jpg", truncated_jpeg(), b"damaged or incomplete"),
    ("bomb.png", bomb_png(), b"far larger than any photo"),
    ("anim.gif", image_bytes("GIF"), b"is a GIF image"),
    ("empty.png", b"", b"empty"),
])
def test_it_refuses_bad_files_with_a_clear_error_and_stores_nothing(logged_in, gallery, settings, name, data, message):
    r = post(logged_in, gallery, SimpleUploadedFile(name, data), json=True)
    assert r.status_code == 400
    assert message.decode() in " ".join(messages_of(r))
    assert name in " ".join(messages_of(r)) or name == "empty.png"
    assert Photo.objects.count() == 0
    assert media_files(settings) == []


def test_the_byte_limit(logged_in, gallery, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    r = post(logged_in, gallery, upload_file("big.bmp", fmt="BMP", size=(100, 100)), json=True)
    assert r.status_code == 400 and "the limit is 1000" in messages_of(r)[0]
    assert Photo.objects.count() == 0


def test_the_pixel_limit(logged_in, gallery, settings):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    r = post(logged_in, gallery, upload_file("wide.png", size=(101, 100)), json=True)
    assert r.status_code == 400 and "101×100 pixels" in messages_of(r)[0]
    assert media_files(settings) == []


def test_one_bad_file_stores_none_of_the_batch(logged_in, gallery, settings):
    r = post(logged_in, gallery, upload_file("good.png"), SimpleUploadedFile("bad.jpg", b"garbage"))
    assert r.status_code == 302
    assert Photo.objects.count() == 0 and media_files(settings) == []
    r = logged_in.get(r.url)
    assert b"bad.jpg is not an image we can read" in r.content


def test_a_stranger_cannot_upload_into_my_gallery(client, gallery, stranger, settings):
    client.force_login(stranger)
    r = post(client, gallery, upload_file())
    assert r.status_code == 404
    assert Photo.objects.count() == 0 and media_files(settings) == []


def test_upload_with_redis_down_is_not_an_error(logged_in, gallery, monkeypatch, django_capture_on_commit_callbacks):
    import redis

    from gallery import job as photo_jobs

    def down():
        raise redis.exceptions.ConnectionError("Error 111 connecting. Connection refused.")

    monkeypatch.setattr(photo_jobs, "get_queue", down)
    with django_capture_on_commit_callbacks(execute=True):
        r = post(logged_in, gallery, upload_file("kept.png"))
    assert r.status_code == 302
    photo = Photo.objects.get()
    r = logged_in.get(f"/photos/{photo.pk}/")
    assert b"will start when the queue is back" in r.content
