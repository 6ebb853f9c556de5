"""A photo already in color is still colorized from its lightness, with the
warning `already_in_colour` in its status (site and API) and a note on its
page; a sepia or toned scan is told that its tint is replaced; a gray photo
gets no warning."""

import io

import pytest
import skimage.data
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageOps

from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
from mlcore.inputcolor import COLOR, GRAY, TINTED, classify
from tests.api_support import client_for, fresh_throttles  # noqa: F401
from tests.conftest import run_worker

SAMPLES = ["chelsea", "coffee", "astronaut", "rocket", "retina", "logo"]


def jpeg(img, quality=75):
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf)


def sepia(gray):
    return ImageOps.colorize(gray, (0, 0, 0), (255, 255, 255), mid=(160, 120, 80))


def cyanotype(gray):
    return ImageOps.colorize(gray, (0, 20, 40), (220, 245, 255))


@pytest.mark.parametrize("name", SAMPLES)
def test_real_photos_are_told_apart_from_their_gray_and_tinted_versions(name):
    photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    gray = photo.convert("L")
    assert classify(jpeg(photo)) == COLOR
    assert classify(gray) == GRAY and classify(jpeg(gray)) == GRAY  # a gray JPEG saved as RGB too
    assert classify(jpeg(sepia(gray))) == TINTED and classify(jpeg(cyanotype(gray))) == TINTED


def upload(owner, img, name):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return create_photo(Gallery.default_for(owner), check_image(SimpleUploadedFile(name, buf.getvalue(), "image/jpeg")))


@pytest.fixture
def chelsea():
    return Image.fromarray(skimage.data.chelsea()).resize((120, 80))


def test_a_color_photo_is_processed_with_the_already_in_colour_warning(
    client, owner, chelsea, redis_conn, tiny_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        photo = upload(owner, chelsea, "cat.jpg")
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE  # processed all the same, from its lightness
    api_body = client_for(owner).get(f"/api/v1/photos/{photo.pk}/").json()
    assert [w["code"] for w in api_body["warnings"]] == ["already_in_colour"]
    client.force_login(owner)
    html = client.get(f"/photos/{photo.pk}/").content.decode()
    assert 'data-warning="already_in_colour"' in html and "already in color" in html


def test_a_sepia_scan_is_told_its_tint_is_replaced(client, owner, chelsea, redis_conn):
    photo = upload(owner, sepia(chelsea.convert("L")), "sepia.jpg")
    assert [w["code"] for w in photo.warnings] == ["tinted"]
    client.force_login(owner)
    assert "tint is replaced" in client.get(f"/photos/{photo.pk}/").content.decode()


def test_a_gray_photo_has_no_warning(owner, chelsea, redis_conn):
    photo = upload(owner, chelsea.convert("L"), "gray.jpg")
    assert client_for(owner).get(f"/api/v1/photos/{photo.pk}/").json()["warnings"] == []
