"""/api/v1/galleries/: list, create, read, rename, delete; only your own."""

import pytest
from django.core.files.storage import default_storage

from gallery.models import Gallery, Photo
from tests.api_support import api, client_for, fresh_throttles, png, stranger_api, upload  # noqa: F401

FIELDS = ["id", "name", "photo_count", "created_at"]


def test_the_list_has_the_default_gallery_from_the_start(api, owner):
    r = api.get("/api/v1/galleries/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    (gallery,) = body["results"]
    assert list(gallery) == FIELDS
    assert gallery["name"] == "My photos" and gallery["photo_count"] == 0
    assert Gallery.objects.get(owner=owner).is_default


def test_it_creates_reads_and_renames_a_gallery(api, owner):
    r = api.post("/api/v1/galleries/", {"name": "  Holidays 1962 "}, format="json")
    assert r.status_code == 201
    created = r.json()
    assert list(created) == FIELDS
    assert created["name"] == "Holidays 1962" and created["photo_count"] == 0
    gallery = Gallery.objects.get(pk=created["id"])
    assert gallery.owner == owner and not gallery.is_default

    r = api.get(f"/api/v1/galleries/{gallery.pk}/")
    assert r.status_code == 200 and r.json() == created

    r = api.patch(f"/api/v1/galleries/{gallery.pk}/", {"name": "Summer 1962"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "Summer 1962"
    gallery.refresh_from_db()
    assert gallery.name == "Summer 1962"


@pytest.mark.parametrize("data", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}])
def test_a_gallery_needs_a_name(api, data):
    r = api.post("/api/v1/galleries/", data, format="json")
    assert r.status_code == 400
    assert list(r.json()) == ["name"] and r.json()["name"][0]
    assert Gallery.objects.filter(is_default=False).count() == 0


def test_renaming_to_nothing_is_refused(api, owner):
    gallery = Gallery.default_for(owner)
    r = api.patch(f"/api/v1/galleries/{gallery.pk}/", {"name": ""}, format="json")
    assert r.status_code == 400 and "name" in r.json()


def test_put_is_not_offered(api, owner):
    gallery = Gallery.default_for(owner)
    r = api.put(f"/api/v1/galleries/{gallery.pk}/", {"name": "x"}, format="json")
    assert r.status_code == 405 and r.json()["detail"] == 'Method "PUT" not allowed.'


def test_photo_count_counts_the_gallerys_photos(api, owner, redis_conn, django_capture_on_commit_callbacks):
    holidays = api.post("/api/v1/galleries/", {"name": "Holidays"}, format="json").json()
    for _ in range(2):
        assert upload(api, django_capture_on_commit_callbacks, gallery=holidays["id"]).status_code == 202
    assert upload(api, django_capture_on_commit_callbacks).status_code == 202
    listed = {g["name"]: g["photo_count"] for g in api.get("/api/v1/galleries/").json()["results"]}
    assert listed == {"My photos": 1, "Holidays": 2}
    assert api.get(f"/api/v1/galleries/{holidays['id']}/").json()["photo_count"] == 2


def test_deleting_a_gallery_deletes_its_photos_and_files(
    api, owner, redis_conn, django_capture_on_commit_callbacks
):
    gallery = api.post("/api/v1/galleries/", {"name": "Old"}, format="json").json()
    photo_id = upload(api, django_capture_on_commit_callbacks, gallery=gallery["id"]).json()["id"]
    folder = Photo.objects.get(pk=photo_id).folder
    assert default_storage.listdir(folder)[1]
    with django_capture_on_commit_callbacks(execute=True):
        r = api.delete(f"/api/v1/galleries/{gallery['id']}/")
    assert r.status_code == 204 and r.content == b""
    assert not Gallery.objects.filter(pk=gallery["id"]).exists()
    assert not Photo.objects.filter(pk=photo_id).exists()
    assert not default_storage.exists(folder)
    assert api.get(f"/api/v1/galleries/{gallery['id']}/").status_code == 404


def test_the_default_gallery_cannot_be_deleted(api, owner):
    gallery = Gallery.default_for(owner)
    r = api.delete(f"/api/v1/galleries/{gallery.pk}/")
    assert r.status_code == 409
    assert "default gallery" in r.json()["detail"]
    assert Gallery.objects.filter(pk=gallery.pk).exists()


def test_it_paginates(api, owner):
    Gallery.objects.bulk_create(Gallery(owner=owner, name=f"G{i:02}") for i in range(24))
    r = api.get("/api/v1/galleries/")
    body = r.json()
    assert body["count"] == 25 and len(body["results"]) == 20
    assert body["results"][0]["name"] == "My photos"  # the default first, then by name
    assert body["next"].endswith("/api/v1/galleries/?page=2") and body["previous"] is None
    page2 = api.get(body["next"]).json()
    assert [g["name"] for g in page2["results"]] == ["G19", "G20", "G21", "G22", "G23"]
    assert page2["next"] is None and page2["previous"]
    assert len(api.get("/api/v1/galleries/?page_size=7").json()["results"]) == 7
    assert len(api.get("/api/v1/galleries/?page_size=1000").json()["results"]) == 25  # capped at 100
    r = api.get("/api/v1/galleries/?page=9")
    assert r.status_code == 404 and r.json() == {"detail": "Invalid page."}


def test_it_validates_ownership(api, stranger_api, owner, stranger):
    mine = Gallery.objects.create(owner=owner, name="Private")
    missing = Gallery.objects.order_by("-pk").first().pk + 100
    assert mine.pk not in [g["id"] for g in stranger_api.get("/api/v1/galleries/").json()["results"]]
    for method, data in [("get", None), ("patch", {"name": "Mine now"}), ("delete", None)]:
        call = getattr(stranger_api, method)
        theirs = call(f"/api/v1/galleries/{mine.pk}/", data, format="json")
        nothing = call(f"/api/v1/galleries/{missing}/", data, format="json")
        assert theirs.status_code == nothing.status_code == 404, method
        # Exactly like a gallery that does not exist.
        assert theirs.content == nothing.content == b'{"detail":"Not found."}'
    mine.refresh_from_db()
    assert mine.name == "Private"


def test_without_a_key_it_is_a_401(db, owner):
    gallery = Gallery.default_for(owner)
    anonymous = client_for(None)
    for method, url in [("get", "/api/v1/galleries/"), ("post", "/api/v1/galleries/"),
                        ("get", f"/api/v1/galleries/{gallery.pk}/"), ("patch", f"/api/v1/galleries/{gallery.pk}/"),
                        ("delete", f"/api/v1/galleries/{gallery.pk}/")]:
        r = getattr(anonymous, method)(url)
        assert r.status_code == 401, (method, url)
    assert Gallery.objects.filter(pk=gallery.pk).exists()
