"""Galleries: list, create, rename, delete, status; strangers get 404."""

import pytest

from gallery.models import Gallery, Photo
from tests.test_jobs import new_photo


@pytest.fixture
def holiday(owner):
    return Gallery.objects.create(owner=owner, name="Holiday 1952")


def test_the_list_shows_my_galleries_only(client, owner, stranger, holiday):
    Gallery.objects.create(owner=stranger, name="Mallory's secrets")
    client.force_login(owner)
    html = client.get("/galleries/").content.decode()
    assert "Holiday 1952" in html and "My photos" in html
    assert "secrets" not in html


def test_each_gallery_in_the_list_has_its_newest_colorized_photo_as_cover(client, owner, holiday, redis_conn):
    done = new_photo(owner, "done.png")
    newer_queued = new_photo(owner, "queued.png")
    Photo.objects.filter(pk=done.pk).update(status=Photo.DONE, render_count=2)
    client.force_login(owner)
    html = client.get("/galleries/").content.decode()
    assert f'src="/photos/{done.pk}/thumbnail.jpg?v=2"' in html
    assert f"/photos/{newer_queued.pk}/thumbnail.jpg" not in html
    assert html.count('class="cover empty-cover"') == 1  # the holiday gallery has no photo yet


def test_create_rename_delete(client, owner, redis_conn, django_capture_on_commit_callbacks):
    client.force_login(owner)
    r = client.post("/galleries/new", {"name": "Wedding"})
    g = Gallery.objects.get(name="Wedding")
    assert r.url == f"/galleries/{g.pk}/"
    client.post(f"/galleries/{g.pk}/rename", {"name": "Wedding 1948"})
    g.refresh_from_db()
    assert g.name == "Wedding 1948"
    photo = new_photo(owner)
    Photo.objects.filter(pk=photo.pk).update(gallery=g)
    assert b"1 photo" in client.get(f"/galleries/{g.pk}/delete").content
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/galleries/{g.pk}/delete")
    assert r.url == "/galleries/"
    assert not Gallery.objects.filter(pk=g.pk).exists() and not Photo.objects.exists()


def test_an_empty_name_is_refused(client, owner):
    client.force_login(owner)
    assert client.post("/galleries/new", {"name": ""}).status_code == 400


def test_the_default_gallery_cannot_be_deleted(client, owner):
    default = Gallery.default_for(owner)
    client.force_login(owner)
    client.post(f"/galleries/{default.pk}/delete")
    assert Gallery.objects.filter(pk=default.pk).exists()


def test_the_gallery_page_shows_photos_with_their_state(client, owner, redis_conn):
    photo = new_photo(owner, "Uncle Bob.png")
    Photo.objects.filter(pk=photo.pk).update(status=Photo.FAILED, error="boom")
    client.force_login(owner)
    html = client.get(f"/galleries/{photo.gallery_id}/").content.decode()
    assert 'alt="Uncle Bob"' in html and "status-failed" in html
    # What the page's script polls: the API, with the browser's session.
    (listed,) = client.get(f"/api/v1/photos/?gallery={photo.gallery_id}").json()["results"]
    assert (listed["id"], listed["status"], listed["status_label"], listed["error"]) == (photo.pk, "failed", "Failed", "boom")


def test_it_validates_ownership(client, stranger, holiday):
    client.force_login(stranger)
    for url in [f"/galleries/{holiday.pk}/", f"/galleries/{holiday.pk}/delete"]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/galleries/{holiday.pk}/rename", {"name": "mine"}).status_code == 404
    assert client.post(f"/galleries/{holiday.pk}/delete").status_code == 404
    holiday.refresh_from_db()
    assert holiday.name == "Holiday 1952"


def test_anonymous_visitors_are_sent_to_log_in(client, holiday):
    for url in ["/galleries/", f"/galleries/{holiday.pk}/"]:
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith("/accounts/login/")
