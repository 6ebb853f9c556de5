"""/api/v1/photos/: upload, list and filter, read, files, re-render, retry,
delete; the site's validation and job pipeline; only your own photos."""

import io
import os

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gallery.models import Gallery, Photo
import gallery.job
from mlcore.render import DEFAULT_VIVIDNESS, MIN_TEMPERATURE
from tests.api_support import (  # noqa: F401
    api,
    client_for,
    done_photo,
    failed_photo,
    fresh_throttles,
    png,
    queued_photo,
    stranger_api,
    upload,
)
from tests.conftest import image_bytes, run_worker

FIELDS = [
    "id", "gallery", "status", "error", "width", "height", "vividness", "temperature", "rendering",
    "requested_vividness", "model_version",
    "created_at", "finished_at", "original_url", "result_url", "warnings", "provenance",
    "title", "status_label", "render_error", "page_url", "thumbnail_url", "preview_url", "hints",
]


def media_files(settings):
    return [os.path.join(d, f) for d, _, files in os.walk(settings.MEDIA_ROOT) for f in files]


def photo_urls(pk):
    """Every URL of one photo, with the method and data to call it."""
    return [
        ("get", f"/api/v1/photos/{pk}/", None),
        ("get", f"/api/v1/photos/{pk}/result/", None),
        ("get", f"/api/v1/photos/{pk}/result/?format=jpeg", None),
        ("get", f"/api/v1/photos/{pk}/original/", None),
        ("post", f"/api/v1/photos/{pk}/rerender/", {"temperature": 0.5}),
        ("post", f"/api/v1/photos/{pk}/retry/", None),
        ("delete", f"/api/v1/photos/{pk}/", None),
    ]


# -- upload -------------------------------------------------------------------


def test_an_upload_is_stored_queued_and_answered_with_202(
    api, owner, redis_conn, django_capture_on_commit_callbacks, settings
):
    data = image_bytes("PNG", size=(80, 60))
    r = upload(api, django_capture_on_commit_callbacks, SimpleUploadedFile("Grandpa.png", data))
    assert r.status_code == 202
    body = r.json()
    assert list(body) == FIELDS
    photo = Photo.objects.get()
    assert body["id"] == photo.pk and body["gallery"] == Gallery.default_for(owner).pk
    assert body["status"] == "queued" and body["error"] is None and body["model_version"] is None
    assert (body["width"], body["height"]) == (80, 60)
    # No setting of the site's own: the model file's, recorded when the job has run.
    assert body["vividness"] == DEFAULT_VIVIDNESS and body["temperature"] is None and body["rendering"] is False
    assert body["finished_at"] is None and body["result_url"] is None
    assert body["original_url"] == f"http://testserver/api/v1/photos/{photo.pk}/original/"
    assert r["Location"] == f"http://testserver/api/v1/photos/{photo.pk}/"
    # The site's pipeline: the original byte for byte, the job sent to Redis
    # with the photo's primary key only.
    assert photo.original.read() == data and photo.owner == owner
    (job,) = gallery.job.get_queue().jobs
    assert job.args == (photo.pk,)
    photo.refresh_from_db()
    assert photo.enqueued_at is not None and photo.rq_job_id == job.id


def test_an_upload_into_a_gallery_at_a_temperature_and_vividness(
    api, owner, redis_conn, django_capture_on_commit_callbacks, tiny_model
):
    gallery = Gallery.objects.create(owner=owner, name="Holidays")
    r = upload(api, django_capture_on_commit_callbacks, gallery=gallery.pk, temperature=0.9, vividness=80)
    assert r.status_code == 202
    assert r.json()["gallery"] == gallery.pk and r.json()["temperature"] == 0.9 and r.json()["vividness"] == 80
    run_worker()
    body = api.get(f"/api/v1/photos/{r.json()['id']}/").json()
    assert body["status"] == "done" and (body["temperature"], body["vividness"]) == (0.9, 80)
    assert Photo.objects.get().gallery == gallery


def test_a_done_photo_reports_the_model_files_own_settings(api, done_photo, tiny_model):
    from mlcore.colorizer import Colorizer

    body = api.get(f"/api/v1/photos/{done_photo.pk}/").json()
    model = Colorizer.load(tiny_model, device="cpu")
    assert (body["vividness"], body["temperature"]) == (DEFAULT_VIVIDNESS, model.default_temperature)


def bad_uploads():
    good = image_bytes("PNG", size=(40, 30))
    gif = io.BytesIO()
    Image.new("L", (10, 10)).save(gif, "GIF")
    return [
        ("not an image", SimpleUploadedFile("notes.jpg", b"hello, this is text" * 10), "is not an image we can read"),
        ("truncated", SimpleUploadedFile("cut.png", good[: len(good) // 2]), "damaged or incomplete"),
        ("empty", SimpleUploadedFile("empty.png", b""), "The submitted file is empty."),
        ("gif", SimpleUploadedFile("anim.gif", gif.getvalue()), "is a GIF image; we accept JPEG, PNG, WEBP, BMP and TIFF"),
    ]


@pytest.mark.parametrize("name,upload_file,reason", bad_uploads(), ids=[b[0] for b in bad_uploads()])
def test_a_bad_image_is_a_400_with_a_reason_and_nothing_stored(api, settings, redis_conn, name, upload_file, reason):
    r = api.post("/api/v1/photos/", {"image": upload_file}, format="multipart")
    assert r.status_code == 400
    assert r["Content-Type"] == "application/json"
    assert list(r.json()) == ["image"]
    assert reason in r.json()["image"][0]
    assert not Photo.objects.exists() and media_files(settings) == []
    assert gallery.job.get_queue().count == 0


def test_an_image_over_the_pixel_limit_is_refused(api, settings):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    r = api.post("/api/v1/photos/", {"image": png(size=(101, 100))}, format="multipart")
    assert r.status_code == 400 and "megapixels" in r.json()["image"][0]
    assert not Photo.objects.exists()


def test_an_image_is_required(api):
    r = api.post("/api/v1/photos/", {}, format="multipart")
    assert r.status_code == 400 and r.json() == {"image": ["No file was submitted."]}


@pytest.mark.parametrize("temperature", [0, MIN_TEMPERATURE / 2, 1.01, -1, "nan", "inf", "warm"])
def test_a_temperature_out_of_range_is_refused(api, temperature):
    r = api.post("/api/v1/photos/", {"image": png(), "temperature": temperature}, format="multipart")
    assert r.status_code == 400 and list(r.json()) == ["temperature"]
    assert not Photo.objects.exists()


@pytest.mark.parametrize("vividness", [-1, 101, 50.5, "lots"])
def test_a_vividness_out_of_range_is_refused(api, vividness):
    r = api.post("/api/v1/photos/", {"image": png(), "vividness": vividness}, format="multipart")
    assert r.status_code == 400 and list(r.json()) == ["vividness"]
    assert not Photo.objects.exists()


def test_an_upload_into_someone_elses_gallery_is_a_404(api, stranger, settings):
    theirs = Gallery.default_for(stranger)
    missing = theirs.pk + 100
    r1 = api.post("/api/v1/photos/", {"image": png(), "gallery": theirs.pk}, format="multipart")
    r2 = api.post("/api/v1/photos/", {"image": png(), "gallery": missing}, format="multipart")
    assert r1.status_code == r2.status_code == 404
    assert r1.json() == r2.json()
    assert not Photo.objects.exists() and media_files(settings) == []


# -- list ---------------------------------------------------------------------


@pytest.fixture
def several(api, owner, redis_conn, django_capture_on_commit_callbacks):
    """Three photos in the default gallery and two in "Holidays", one done, one failed."""
    holidays = Gallery.objects.create(owner=owner, name="Holidays")
    ids = [upload(api, django_capture_on_commit_callbacks).json()["id"] for _ in range(3)]
    ids += [upload(api, django_capture_on_commit_callbacks, gallery=holidays.pk).json()["id"] for _ in range(2)]
    Photo.objects.filter(pk=ids[0]).update(status=Photo.DONE)
    Photo.objects.filter(pk=ids[3]).update(status=Photo.FAILED, error="Broken.")
    return holidays, ids


def ids_of(r):
    assert r.status_code == 200, r.content
    return [p["id"] for p in r.json()["results"]]


def test_the_list_is_newest_first_and_filters(api, several):
    holidays, ids = several
    assert ids_of(api.get("/api/v1/photos/")) == ids[::-1]
    assert ids_of(api.get(f"/api/v1/photos/?gallery={holidays.pk}")) == [ids[4], ids[3]]
    assert ids_of(api.get("/api/v1/photos/?status=done")) == [ids[0]]
    assert ids_of(api.get(f"/api/v1/photos/?gallery={holidays.pk}&status=failed")) == [ids[3]]
    assert ids_of(api.get(f"/api/v1/photos/?gallery={holidays.pk}&status=done")) == []
    failed = api.get("/api/v1/photos/?status=failed").json()["results"][0]
    assert failed["status"] == "failed" and failed["error"] == "Broken."


@pytest.mark.parametrize("query,field", [("status=finished", "status"), ("gallery=abc", "gallery")])
def test_a_bad_filter_is_a_400(api, query, field):
    r = api.get(f"/api/v1/photos/?{query}")
    assert r.status_code == 400 and list(r.json()) == [field]


def test_filtering_by_someone_elses_gallery_is_a_404(api, stranger):
    theirs = Gallery.default_for(stranger)
    r1 = api.get(f"/api/v1/photos/?gallery={theirs.pk}")
    r2 = api.get(f"/api/v1/photos/?gallery={theirs.pk + 100}")
    assert r1.status_code == r2.status_code == 404 and r1.content == r2.content


def test_the_list_paginates(api, several):
    _, ids = several
    r = api.get("/api/v1/photos/?page_size=2")
    body = r.json()
    assert body["count"] == 5 and ids_of(r) == [ids[4], ids[3]]
    assert body["next"].endswith("/api/v1/photos/?page=2&page_size=2")
    assert ids_of(api.get(body["next"])) == [ids[2], ids[1]]
    assert ids_of(api.get("/api/v1/photos/?page_size=2&page=3")) == [ids[0]]
    assert api.get("/api/v1/photos/?page_size=2&page=4").status_code == 404


def test_the_list_holds_only_your_photos(several, stranger_api):
    assert stranger_api.get("/api/v1/photos/").json() == {"count": 0, "next": None, "previous": None, "results": []}


# -- one photo, its files -----------------------------------------------------


def test_while_queued_the_result_is_a_409(api, queued_photo):
    r = api.get(f"/api/v1/photos/{queued_photo.pk}/result/")
    assert r.status_code == 409
    assert r.json() == {"detail": "This photo is not colorized: its status is queued."}
    assert api.get(f"/api/v1/photos/{queued_photo.pk}/").json()["result_url"] is None


def test_the_original_is_served_as_uploaded(api, queued_photo):
    r = api.get(f"/api/v1/photos/{queued_photo.pk}/original/", HTTP_ACCEPT="image/*")
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == queued_photo.original.read()
    assert r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Disposition"] == 'attachment; filename="Grandma 1931.png"'


def test_a_done_photo_has_its_result_at_full_resolution(api, done_photo):
    body = api.get(f"/api/v1/photos/{done_photo.pk}/").json()
    assert body["status"] == "done" and body["model_version"] and body["finished_at"]
    assert body["result_url"] == f"http://testserver/api/v1/photos/{done_photo.pk}/result/"

    r = api.get(body["result_url"], HTTP_ACCEPT="image/png")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Disposition"] == 'attachment; filename="Grandma 1931-color.png"'
    image = Image.open(io.BytesIO(b"".join(r.streaming_content)))
    assert image.format == "PNG" and image.size == (90, 70) and image.mode == "RGB"

    r = api.get(body["result_url"] + "?format=jpeg&quality=60")
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert r["Content-Disposition"] == 'attachment; filename="Grandma 1931-color.jpg"'
    image = Image.open(io.BytesIO(r.getvalue()))
    assert image.format == "JPEG" and image.size == (90, 70)


@pytest.mark.parametrize("query,field", [("format=gif", "format"), ("format=jpeg&quality=0", "quality"),
                                         ("format=jpeg&quality=101", "quality")])
def test_a_bad_download_option_is_a_400(api, done_photo, query, field):
    r = api.get(f"/api/v1/photos/{done_photo.pk}/result/?{query}")
    assert r.status_code == 400 and list(r.json()) == [field]


# -- re-render, retry, delete -------------------------------------------------


def test_rerender_redecodes_without_running_the_network(api, done_photo, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    from mlcore.colorizer import Colorizer

    def no_network(*args, **kwargs):
        raise AssertionError("re-rendering must not run the network")

    monkeypatch.setattr(Colorizer, "predict", no_network)
    old_result = done_photo.result.name
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/v1/photos/{done_photo.pk}/rerender/", {"temperature": 0.9}, format="json")
    assert r.status_code == 202, r.content
    # Accepted: the current result is still the old one until the render job has run.
    assert r.json()["rendering"] is True and r.json()["temperature"] == done_photo.temperature
    run_worker()
    body = api.get(f"/api/v1/photos/{done_photo.pk}/").json()
    assert body["rendering"] is False and body["temperature"] == 0.9 and body["status"] == "done"
    assert body["vividness"] == DEFAULT_VIVIDNESS  # left out: kept
    done_photo.refresh_from_db()
    assert done_photo.temperature == 0.9 and done_photo.render_count == 2
    assert done_photo.result.name != old_result and not default_storage.exists(old_result)
    with default_storage.open(done_photo.result.name) as f:
        assert Image.open(f).size == (90, 70)


def test_rerender_at_a_vividness_changes_the_result_and_reports_it(api, done_photo,
                                                                   django_capture_on_commit_callbacks):
    before = default_storage.open(done_photo.result.name).read()
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/v1/photos/{done_photo.pk}/rerender/", {"vividness": 100}, format="json")
    # The 202 says both: the current result's vividness, and the one on its way.
    assert r.status_code == 202 and r.json()["vividness"] == DEFAULT_VIVIDNESS
    assert r.json()["rendering"] and r.json()["requested_vividness"] == 100
    run_worker()
    body = api.get(f"/api/v1/photos/{done_photo.pk}/").json()
    assert body["vividness"] == 100 and body["temperature"] == done_photo.temperature
    assert body["requested_vividness"] is None
    done_photo.refresh_from_db()
    assert default_storage.open(done_photo.result.name).read() != before


def test_rerender_needs_a_vividness_or_temperature_in_range(api, done_photo):
    for data, field in [({}, "non_field_errors"), ({"temperature": 2}, "temperature"),
                        ({"temperature": "nan"}, "temperature"), ({"vividness": 101}, "vividness"),
                        ({"vividness": -1, "temperature": 0.5}, "vividness")]:
        r = api.post(f"/api/v1/photos/{done_photo.pk}/rerender/", data, format="json")
        assert r.status_code == 400 and list(r.json()) == [field], data
    done_photo.refresh_from_db()
    assert not done_photo.is_rendering


def test_rerender_before_done_is_a_409(api, queued_photo):
    r = api.post(f"/api/v1/photos/{queued_photo.pk}/rerender/", {"temperature": 0.5}, format="json")
    assert r.status_code == 409 and "queued" in r.json()["detail"]


def test_rerender_without_the_saved_colours_is_a_409(api, done_photo):
    default_storage.delete(done_photo.prediction.name)
    r = api.post(f"/api/v1/photos/{done_photo.pk}/rerender/", {"temperature": 0.5}, format="json")
    assert r.status_code == 409 and "missing" in r.json()["detail"]


def test_a_failed_photo_can_be_retried(api, failed_photo, tiny_model):
    assert api.get(f"/api/v1/photos/{failed_photo.pk}/").json()["error"] == "Colorizing failed: the test said so."
    r = api.post(f"/api/v1/photos/{failed_photo.pk}/retry/")
    assert r.status_code == 202
    assert r.json()["status"] == "queued" and r.json()["error"] is None
    run_worker()
    assert api.get(f"/api/v1/photos/{failed_photo.pk}/").json()["status"] == "done"


def test_only_a_failed_photo_can_be_retried(api, queued_photo):
    r = api.post(f"/api/v1/photos/{queued_photo.pk}/retry/")
    assert r.status_code == 409 and r.json()["detail"].startswith("Only a failed photo can be retried")


def test_delete_removes_the_photo_and_its_files(api, done_photo, django_capture_on_commit_callbacks):
    folder = done_photo.folder
    assert len(default_storage.listdir(folder)[1]) >= 4
    with django_capture_on_commit_callbacks(execute=True):
        r = api.delete(f"/api/v1/photos/{done_photo.pk}/")
    assert r.status_code == 204 and r.content == b""
    assert not Photo.objects.filter(pk=done_photo.pk).exists()
    assert not default_storage.exists(folder)
    assert api.get(f"/api/v1/photos/{done_photo.pk}/").status_code == 404


# -- who may --------------------------------------------------------------------


def test_it_validates_ownership(done_photo, stranger_api, settings):
    missing = done_photo.pk + 100
    for method, url, data in photo_urls(done_photo.pk):
        theirs = getattr(stranger_api, method)(url, data, format="json")
        nothing = getattr(stranger_api, method)(url.replace(f"/{done_photo.pk}/", f"/{missing}/"), data, format="json")
        assert theirs.status_code == nothing.status_code == 404, url
        # Exactly like a photo that does not exist.
        assert theirs.content == nothing.content == b'{"detail":"Not found."}', url
        assert theirs["Content-Type"] == "application/json"
    done_photo.refresh_from_db()
    assert done_photo.status == Photo.DONE and not done_photo.is_rendering and done_photo.render_count == 1
    assert default_storage.exists(done_photo.result.name)


def test_without_a_key_it_is_a_401(done_photo):
    anonymous = client_for(None)
    for method, url, data in [*photo_urls(done_photo.pk), ("get", "/api/v1/photos/", None),
                              ("post", "/api/v1/photos/", {"image": png()})]:
        r = getattr(anonymous, method)(url, data)
        assert r.status_code == 401, url
        assert r["Content-Type"] == "application/json"
    assert Photo.objects.filter(pk=done_photo.pk).exists()
