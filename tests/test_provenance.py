"""Every colorized file says it was colorized (PNG text + XMP; JPEG EXIF +
XMP), by which model and how, and keeps the original's camera and date; the
photo page and the API's status say the same."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
from mlcore.provenance import DIGITAL_SOURCE_TYPE, XMP_KEY
from tests.api_support import client_for, fresh_throttles  # noqa: F401
from tests.conftest import run_worker

EXIF_IFD, MAKE, MODEL, DATE_TIME_ORIGINAL, ORIENTATION, SOFTWARE = 0x8769, 0x010F, 0x0110, 0x9003, 0x0112, 0x0131


def camera_jpeg():
    """A gray JPEG from a camera: maker, model, date taken, stored sideways (Orientation 6)."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ORIENTATION] = "Leica", "IIIf", 6
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = "1952:07:14 10:30:00"
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((80, 60)).save(buf, "JPEG", exif=exif)
    return SimpleUploadedFile("Lake 1952.jpg", buf.getvalue(), content_type="image/jpeg")


@pytest.fixture
def done_photo(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = create_photo(Gallery.default_for(owner), check_image(camera_jpeg()))
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    return photo


def test_the_result_png_says_it_was_colorized_and_keeps_the_camera_and_date(client, owner, done_photo):
    client.force_login(owner)
    png = Image.open(io.BytesIO(b"".join(client.get(f"/photos/{done_photo.pk}/download").streaming_content)))
    assert png.size == (60, 80)  # upright, as people see it
    assert png.info["Software"] == "colorsite"
    assert png.info["colorsite:model_version"] == done_photo.model_version
    assert "Colorized by colorsite" in png.info["Description"]
    assert DIGITAL_SOURCE_TYPE in png.info[XMP_KEY] and done_photo.model_version in png.info[XMP_KEY]
    exif = png.getexif()
    assert (exif[MAKE], exif[MODEL], exif[ORIENTATION], exif[SOFTWARE]) == ("Leica", "IIIf", 1, "colorsite")
    assert exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] == "1952:07:14 10:30:00"


def test_the_jpeg_download_carries_the_same_exif_and_xmp(client, owner, done_photo):
    client.force_login(owner)
    jpeg = Image.open(io.BytesIO(client.get(f"/photos/{done_photo.pk}/download?format=jpeg").getvalue()))
    exif = jpeg.getexif()
    assert exif[SOFTWARE] == "colorsite" and exif[MAKE] == "Leica" and exif[ORIENTATION] == 1
    assert "Colorized by colorsite" in exif[0x010E]
    assert DIGITAL_SOURCE_TYPE in jpeg.info["xmp"].decode()


def test_the_api_status_and_the_photo_page_show_the_provenance(client, owner, done_photo):
    body = client_for(owner).get(f"/api/v1/photos/{done_photo.pk}/").json()
    facts = body["provenance"]
    assert facts["software"] == "colorsite" and facts["model_version"] == done_photo.model_version
    assert facts["source"] == "Lake 1952.jpg" and facts["vividness"] == done_photo.vividness
    client.force_login(owner)
    html = client.get(f"/photos/{done_photo.pk}/").content.decode()
    assert 'id="provenance"' in html and "Colorized by colorsite" in html


def test_a_shared_photo_says_it_was_colorized_too(client, done_photo):
    done_photo.share()
    html = client.get(f"/s/{done_photo.share_token}/").content.decode()
    assert 'id="shared-provenance"' in html and "Colorized by colorsite" in html


def test_a_photo_not_yet_colorized_has_no_provenance(owner, redis_conn, django_capture_on_commit_callbacks):
    photo = create_photo(Gallery.default_for(owner), check_image(camera_jpeg()))
    assert client_for(owner).get(f"/api/v1/photos/{photo.pk}/").json()["provenance"] is None


def test_a_re_render_at_another_vividness_says_so_in_the_file(client, owner, done_photo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        done_photo.request_render(vividness=80)
    run_worker()
    done_photo.refresh_from_db()
    assert done_photo.vividness == 80
    client.force_login(owner)
    png = Image.open(io.BytesIO(b"".join(client.get(f"/photos/{done_photo.pk}/download").streaming_content)))
    assert png.info["colorsite:vividness"] == "80" and "vividness 80" in png.info["Description"]
    assert png.getexif()[MAKE] == "Leica"


def test_a_share_links_jpeg_download_says_how_it_was_made(client, done_photo):
    done_photo.share()
    jpeg = Image.open(io.BytesIO(client.get(f"/s/{done_photo.share_token}/download?format=jpeg").getvalue()))
    assert jpeg.getexif()[SOFTWARE] == "colorsite"
    assert done_photo.model_version in jpeg.info["xmp"].decode()
