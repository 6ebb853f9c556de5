"""Every colorized file says it was colorized (PNG text + XMP; JPEG EXIF +
XMP), by which model and how, and keeps the original's camera and date; the
photo page and the API's status say the same."""

import io
import re
import zipfile
from datetime import datetime, timezone

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
from gallery.provenance import carried, describe
from mlcore.provenance import (
    DIGITAL_SOURCE_TYPE,
    XMP_KEY,
    carries_only_shareable,
    make_facts,
    save_result,
    shareable_exif,
)
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


# -- what downloads carry of the original's metadata (issue 25, item 1) ------------------------

GPS_IFD, ARTIST, COPYRIGHT, IMAGE_DESCRIPTION = 0x8825, 0x013B, 0x8298, 0x010E
USER_COMMENT, BODY_SERIAL, OWNER_NAME = 0x9286, 0xA431, 0xA430
PRIVATE_NAME = "Anna at 12 Rue Cler.jpg"
SECRETS = [b"Anna", b"Rue Cler", b"SN-4417", b"Jean Dupont", b"(c) Dupont family", b"our summer house",
           b"Eiffel"]


def private_jpeg(comment="our summer house, next to the Eiffel tower"):
    """A camera JPEG carrying everything a share link must not: GPS, serial number, names,
    comments, and a telling file name."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ORIENTATION] = "Leica", "IIIf", 6
    exif[ARTIST], exif[COPYRIGHT], exif[IMAGE_DESCRIPTION] = "Jean Dupont", "(c) Dupont family", "Eiffel picnic"
    inner = exif.get_ifd(EXIF_IFD)
    inner[DATE_TIME_ORIGINAL], inner[BODY_SERIAL], inner[OWNER_NAME] = "1952:07:14 10:30:00", "SN-4417", "Anna"
    inner[USER_COMMENT] = comment
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 29.6), 3: "E", 4: (2.0, 17.0, 40.2)})
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((80, 60)).save(buf, "JPEG", exif=exif)
    return SimpleUploadedFile(PRIVATE_NAME, buf.getvalue(), content_type="image/jpeg")


@pytest.fixture
def private_photo(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = create_photo(Gallery.default_for(owner), check_image(private_jpeg()))
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    return photo


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_only_the_shareable_part(response):
    data = body(response)
    for secret in SECRETS:
        assert secret not in data, secret
    assert "Anna" not in response["Content-Disposition"] and "Cler" not in response["Content-Disposition"]
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert (exif[MAKE], exif[MODEL], exif[ORIENTATION]) == ("Leica", "IIIf", 1)
    assert exif.get_ifd(EXIF_IFD) == {DATE_TIME_ORIGINAL: "1952:07:14 10:30:00"}
    assert not exif.get_ifd(GPS_IFD) and ARTIST not in exif and COPYRIGHT not in exif
    assert exif[SOFTWARE] == "colorsite" and "Colorized by colorsite" in exif[IMAGE_DESCRIPTION]  # ours stays
    return image


def test_shareable_exif_keeps_only_the_date_the_camera_and_the_orientation():
    original = Image.open(private_jpeg()).getexif()
    kept = shareable_exif(original)
    assert dict(kept) == {MAKE: "Leica", MODEL: "IIIf", ORIENTATION: 6}
    assert kept.get_ifd(EXIF_IFD) == {DATE_TIME_ORIGINAL: "1952:07:14 10:30:00"}
    assert not kept.get_ifd(GPS_IFD)
    assert original[ARTIST] == "Jean Dupont" and original.get_ifd(GPS_IFD)  # not changed


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_a_share_link_download_carries_colour_not_secrets(client, private_photo, fmt):
    private_photo.share()
    response = client.get(f"/s/{private_photo.share_token}/download?format={fmt}")
    assert response.status_code == 200
    image = assert_only_the_shareable_part(response)
    assert response["Content-Disposition"].endswith(f'colorized-photo.{"png" if fmt == "png" else "jpg"}"')
    if fmt == "png":
        assert image.info["Software"] == "colorsite" and "colorsite:source" not in image.info
        assert DIGITAL_SOURCE_TYPE in image.info[XMP_KEY] and "Anna" not in image.info[XMP_KEY]
        image.load()  # the pixels are intact after the metadata was replaced
        assert image.size == (60, 80)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_the_owners_downloads_keep_the_same_allow_list_by_default(client, owner, private_photo, fmt):
    client.force_login(owner)
    response = client.get(f"/photos/{private_photo.pk}/download?format={fmt}")
    data = body(response)
    for secret in (b"SN-4417", b"Jean Dupont", b"our summer house"):
        assert secret not in data
    assert Image.open(io.BytesIO(data)).getexif()[MAKE] == "Leica"


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_an_owner_who_asks_keeps_everything_in_their_own_downloads_only(client, owner, private_photo, fmt):
    client.force_login(owner)
    assert 'id="keep-photo-metadata"' in client.get("/accounts/").content.decode()
    client.post("/accounts/", {"keep_photo_metadata": "on"})
    exif = Image.open(io.BytesIO(body(client.get(f"/photos/{private_photo.pk}/download?format={fmt}")))).getexif()
    assert exif[ARTIST] == "Jean Dupont" and exif.get_ifd(EXIF_IFD)[BODY_SERIAL] == "SN-4417"
    assert exif.get_ifd(GPS_IFD)
    private_photo.share()
    assert_only_the_shareable_part(client.get(f"/s/{private_photo.share_token}/download?format={fmt}"))
    client.post("/accounts/", {})  # unticked
    assert b"SN-4417" not in body(client.get(f"/photos/{private_photo.pk}/download?format={fmt}"))


def test_the_account_setting_is_off_until_ticked(client, owner):
    client.force_login(owner)
    def box():
        html = client.get("/accounts/").content.decode()
        return re.search(r'<input [^>]*id="keep-photo-metadata"[^>]*>', html).group(0)

    assert " checked" not in box()
    client.post("/accounts/", {"keep_photo_metadata": "on"})
    assert " checked" in box()


@pytest.mark.parametrize("keep_everything", [False, True])
def test_an_original_with_64_kb_of_exif_never_breaks_a_jpeg_download(client, owner, redis_conn, tiny_model,
                                                                     django_capture_on_commit_callbacks,
                                                                     keep_everything):
    # As large as a JPEG's EXIF may be, less a little: too large once our provenance is added.
    comment = "x" * 64_000
    comment += "x" * (65_450 - len(Image.open(private_jpeg(comment)).getexif().tobytes()))
    upload = private_jpeg(comment)
    with django_capture_on_commit_callbacks(execute=True):
        photo = create_photo(Gallery.default_for(owner), check_image(upload))
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    client.force_login(owner)
    if keep_everything:
        client.post("/accounts/", {"keep_photo_metadata": "on"})
    response = client.get(f"/photos/{photo.pk}/download?format=jpeg")
    assert response.status_code == 200
    data = body(response)  # a file kept beside the result (gallery.photos.result_jpeg)
    jpeg = Image.open(io.BytesIO(data))
    jpeg.load()
    assert jpeg.getexif()[SOFTWARE] == "colorsite" and jpeg.getexif()[MAKE] == "Leica"
    assert b"x" * 1000 not in data  # too large for a JPEG: the shareable part only
    photo.share()
    assert client.get(f"/s/{photo.share_token}/download?format=jpeg").status_code == 200


def test_the_share_dialog_says_what_the_links_downloads_keep(client, owner, private_photo):
    client.force_login(owner)
    html = client.get(f"/photos/{private_photo.pk}/").content.decode()
    assert "never the place (GPS)" in html
    private_photo.share()
    html = client.get(f"/photos/{private_photo.pk}/").content.decode()
    assert 'id="share-metadata"' in html and "never the place (GPS)" in html


def test_the_stored_result_itself_carries_only_the_shareable_part(private_photo):
    with default_storage.open(private_photo.result.name, "rb") as f:
        stored = Image.open(io.BytesIO(f.read()))
    assert carries_only_shareable(stored) and "colorsite:source" not in stored.info
    assert stored.getexif()[MAKE] == "Leica" and not stored.getexif().get_ifd(GPS_IFD)


def test_a_result_stored_with_everything_is_rewritten_before_a_share_link_serves_it(client, private_photo, settings):
    # As results were stored before they kept only the shareable part.
    settings.SENDFILE_MODE = "nginx"
    facts = describe(private_photo)
    everything = io.BytesIO()
    save_result(Image.new("RGB", (60, 80)), everything, "png", *carried(private_photo, facts, everything=True))
    with default_storage.open(private_photo.result.name, "wb") as f:
        f.write(everything.getvalue())
    private_photo.share()
    response = client.get(f"/s/{private_photo.share_token}/download")
    assert "X-Accel-Redirect" not in response
    assert_only_the_shareable_part(response)


def test_the_shareable_check_sees_a_file_name_gps_or_a_serial_number():
    facts = make_facts("v1", 50, None, datetime.now(timezone.utc), None)
    original = Image.open(private_jpeg()).getexif()

    def written(facts, exif):
        buf = io.BytesIO()
        save_result(Image.new("RGB", (4, 4)), buf, "png", facts, exif)
        return Image.open(io.BytesIO(buf.getvalue()))

    assert carries_only_shareable(written(facts, shareable_exif(original)))
    assert not carries_only_shareable(written({**facts, "source": PRIVATE_NAME}, shareable_exif(original)))
    assert not carries_only_shareable(written(facts, original))
    serial_only = shareable_exif(original)
    serial_only.get_ifd(EXIF_IFD)[BODY_SERIAL] = "SN-4417"
    assert not carries_only_shareable(written(facts, serial_only))


def zip_members(response):
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.mark.parametrize("keep_everything", [False, True])
def test_the_gallery_zip_and_the_account_export_carry_what_the_owner_chose(client, owner, private_photo,
                                                                          keep_everything):
    client.force_login(owner)
    if keep_everything:
        client.post("/accounts/", {"keep_photo_metadata": "on"})
    gallery_zip = zip_members(client.get(f"/galleries/{private_photo.gallery_id}/download"))
    export = zip_members(client.get("/accounts/export/"))
    results = [data for name, data in [*gallery_zip.items(), *export.items()] if name.endswith("-color.png")]
    assert len(results) == 2
    for data in results:
        exif = Image.open(io.BytesIO(data)).getexif()
        assert exif[MAKE] == "Leica"
        assert (b"SN-4417" in data) == keep_everything and bool(exif.get_ifd(GPS_IFD)) == keep_everything
        assert (PRIVATE_NAME.encode() in data) == keep_everything


def test_the_writer_keeps_the_shareable_part_of_an_exif_too_large_for_a_jpeg():
    # `manage.py colorize --format jpeg` too: the writer itself never fails on it.
    original = Image.open(private_jpeg()).getexif()
    original.get_ifd(EXIF_IFD)[USER_COMMENT] = "x" * 70_000  # more than any JPEG holds
    facts = make_facts("v1", 50, None, datetime.now(timezone.utc), PRIVATE_NAME)
    out = io.BytesIO()
    save_result(Image.new("RGB", (8, 8)), out, "jpeg", facts, original)
    exif = Image.open(io.BytesIO(out.getvalue())).getexif()
    assert exif[MAKE] == "Leica" and exif[SOFTWARE] == "colorsite" and ARTIST not in exif
    assert original[ARTIST] == "Jean Dupont" and original[ORIENTATION] == 6  # the caller's is not changed


def test_the_shared_page_never_says_the_private_file_name(client, private_photo):
    private_photo.share()
    html = client.get(f"/s/{private_photo.share_token}/").content.decode()
    assert "<title>A colorized photo" in html and "<h1>A colorized photo</h1>" in html
    assert 'alt="A colorized photo, in color"' in html
    for part in ("Anna", "Rue Cler"):
        assert part not in html
