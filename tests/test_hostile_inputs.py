"""
Hostile and odd uploads (tests/hostile_corpus.py), each through the site's
upload form and through the API: a correct colorization at the photo's own
size, or a 400 naming the problem. Never a 500, never a half-stored photo,
and nothing served that a browser would run.
"""

import io
import os
import re
from urllib.parse import quote

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from gallery.quota import QuotaUsage
from gallery.models import Gallery, Photo
from tests.api_support import client_for, fresh_throttles  # noqa: F401 (fixture)
from tests.conftest import run_worker
from tests.hostile_corpus import corpus

CORPUS = corpus()
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORMAT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff"}


def multipart(field, sample):
    """A multipart body written by hand, so that any file name goes through
    as a client could send it: plain ASCII in filename="...", anything else
    (NUL, CR/LF, non-Latin) in RFC 5987's filename*=UTF-8''..."""
    boundary = "hostileBoundary7MA4YWxkTrZu0gW"
    if re.fullmatch(r'[ -~]*', sample.name) and '"' not in sample.name and "\\" not in sample.name:
        disposition = f'form-data; name="{field}"; filename="{sample.name}"'
    else:
        disposition = f"form-data; name=\"{field}\"; filename*=UTF-8''{quote(sample.name, safe='')}"
    body = (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {sample.content_type}\r\n\r\n".encode()
        + sample.data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def media_files(settings):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(settings.MEDIA_ROOT) for f in files)


def content(response):
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def decode(data, fmt):
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == fmt
    return img


def assert_served_safely(r, content_type, attachment):
    assert r.status_code == 200
    assert r["Content-Type"] == content_type
    assert r["X-Content-Type-Options"] == "nosniff"
    disposition = r["Content-Disposition"]
    assert disposition.startswith("attachment" if attachment else "inline")
    assert not CONTROL.search(disposition)


def assert_refused(sample, r, messages, settings):
    assert r.status_code == 400, content(r)
    if isinstance(messages, str):
        messages = [messages]
    assert any(sample.reason in m for m in messages), messages
    assert Photo.objects.count() == 0
    assert media_files(settings) == []


def assert_stored_and_colorized(sample, photo):
    assert photo.original.read() == sample.data  # byte for byte
    assert not CONTROL.search(photo.original_filename) and "/" not in photo.original_filename
    assert (photo.width, photo.height) == sample.size
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    with default_storage.open(photo.result.name) as f:
        assert decode(f.read(), "PNG").size == sample.size
    return photo


@pytest.mark.parametrize("sample", CORPUS, ids=[s.kind for s in CORPUS])
def test_the_upload_form_colorizes_or_refuses_clearly(
    sample, client, owner, settings, redis_conn, tiny_model, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    gallery = Gallery.default_for(owner)
    url = f"/galleries/{gallery.pk}/upload"
    body, content_type = multipart("photos", sample)
    # The form without its script (with it, the page uploads through the API: the test below).
    with django_capture_on_commit_callbacks(execute=True):
        r = client.generic("POST", url, body, content_type=content_type)

    if sample.by_parser:
        assert r.status_code == 400
        assert Photo.objects.count() == 0 and media_files(settings) == []
        return
    assert r.status_code == 302, r.content
    if not sample.accepted:
        r = client.get(r.url)
        assert r.status_code == 200 and sample.reason in r.content.decode()
        assert Photo.objects.count() == 0 and media_files(settings) == []
        return

    photo = assert_stored_and_colorized(sample, Photo.objects.get())
    for page in (f"/photos/{photo.pk}/", gallery.get_absolute_url()):
        assert client.get(page).status_code == 200
    r = client.get(f"/photos/{photo.pk}/download")
    assert_served_safely(r, "image/png", attachment=True)
    assert decode(content(r), "PNG").size == sample.size
    r = client.get(f"/photos/{photo.pk}/download?format=jpeg")
    assert_served_safely(r, "image/jpeg", attachment=True)
    assert decode(content(r), "JPEG").size == sample.size
    for kind in ("before", "after", "thumbnail"):
        r = client.get(f"/photos/{photo.pk}/{kind}.jpg")
        assert_served_safely(r, "image/jpeg", attachment=False)
        decode(content(r), "JPEG")
    r = client.get(f"/photos/{photo.pk}/original")
    # The type of what the bytes are, not of what the client said they were.
    assert_served_safely(r, FORMAT_TYPES[photo.image_format], attachment=True)
    assert content(r) == sample.data


@pytest.mark.parametrize("sample", CORPUS, ids=[s.kind for s in CORPUS])
def test_the_api_colorizes_or_refuses_clearly(
    sample, owner, settings, redis_conn, tiny_model, django_capture_on_commit_callbacks
):
    api = client_for(owner)
    body, content_type = multipart("image", sample)
    with django_capture_on_commit_callbacks(execute=True):
        r = api.generic("POST", "/api/v1/photos/", body, content_type=content_type)

    if not sample.accepted:
        assert r["Content-Type"] == "application/json"
        assert_refused(sample, r, r.json()["detail" if sample.by_parser else "image"], settings)
        # A refused photo costs no quota.
        assert r["X-Quota-Remaining"] == r["X-Quota-Limit"]
        assert not QuotaUsage.objects.filter(count__gt=0).exists()
        return

    assert r.status_code == 202, r.content
    photo = assert_stored_and_colorized(sample, Photo.objects.get(pk=r.json()["id"]))
    r = api.get(f"/api/v1/photos/{photo.pk}/")
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert (r.json()["width"], r.json()["height"]) == sample.size
    r = api.get(f"/api/v1/photos/{photo.pk}/result/")
    assert_served_safely(r, "image/png", attachment=True)
    assert decode(content(r), "PNG").size == sample.size
    r = api.get(f"/api/v1/photos/{photo.pk}/result/?format=jpeg&quality=70")
    assert_served_safely(r, "image/jpeg", attachment=True)
    assert decode(content(r), "JPEG").size == sample.size
    r = api.get(f"/api/v1/photos/{photo.pk}/original/")
    assert_served_safely(r, FORMAT_TYPES[photo.image_format], attachment=True)
    assert content(r) == sample.data


def test_the_corpus_has_every_kind_the_issue_asks_for():
    kinds = {s.kind for s in CORPUS}
    assert len(kinds) >= 25
    assert {s.accepted for s in CORPUS} == {True, False}
    for needed in ("zero-bytes", "decompression-bomb", "ycck-jpeg", "png-html-polyglot", "name-nul", "sepia-photo"):
        assert needed in kinds
