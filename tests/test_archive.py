"""Whole galleries as one ZIP (site and API), several photos selected at once
(download or delete), and the export of everything of a person."""

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse

from gallery.archive import safe_name
from gallery.models import Gallery, Photo
from tests.api_support import client_for, fresh_throttles  # noqa: F401
from tests.conftest import run_worker
from tests.test_jobs import new_photo


def unzip(response):
    assert isinstance(response, StreamingHttpResponse)  # streamed, never built whole in memory
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


@pytest.fixture
def photos(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    """Two finished photos both called scan.png, one still queued."""
    with django_capture_on_commit_callbacks(execute=True):
        done = [new_photo(owner, "scan.png", size=(40, 30)), new_photo(owner, "scan.png", size=(50, 30))]
    run_worker()
    queued = new_photo(owner, "later.png")
    for p in done:
        p.refresh_from_db()
        assert p.status == Photo.DONE, p.error
    return done, queued


def test_a_gallery_downloads_as_a_zip_of_its_results_without_name_collisions(client, owner, photos):
    done, queued = photos
    client.force_login(owner)
    gallery = done[0].gallery
    archive = unzip(client.get(f"/galleries/{gallery.pk}/download"))
    assert sorted(archive.namelist()) == ["scan (2)-color.png", "scan-color.png"]
    stored = {default_storage.open(p.result.name).read() for p in done}
    assert {archive.read(n) for n in archive.namelist()} == stored


def test_the_api_gives_the_same_zip_and_404_to_anyone_else(owner, stranger, photos):
    gallery = photos[0][0].gallery
    r = client_for(owner).get(f"/api/v1/galleries/{gallery.pk}/download/")
    assert r.status_code == 200 and len(unzip(r).namelist()) == 2
    assert client_for(stranger).get(f"/api/v1/galleries/{gallery.pk}/download/").status_code == 404


def test_selected_photos_download_together_and_nobody_elses(client, owner, stranger, photos, redis_conn):
    done, queued = photos
    theirs = new_photo(stranger, "theirs.png")
    client.force_login(owner)
    r = client.post(f"/galleries/{done[0].gallery_id}/download", {"photo": [done[1].pk, queued.pk, theirs.pk, "x"]})
    assert unzip(r).namelist() == ["scan-color.png"]
    r = client.post(f"/galleries/{done[0].gallery_id}/download", {"photo": [queued.pk]})
    assert r.status_code == 302  # nothing colorized among them: back, with a message


def test_selected_photos_are_deleted_together_and_nobody_elses(client, owner, stranger, photos, redis_conn):
    done, queued = photos
    theirs = new_photo(stranger, "theirs.png")
    client.force_login(owner)
    r = client.post(f"/galleries/{done[0].gallery_id}/delete-photos", {"photo": [done[0].pk, queued.pk, theirs.pk]})
    assert r.status_code == 302
    assert set(Photo.objects.values_list("pk", flat=True)) == {done[1].pk, theirs.pk}
    client.force_login(stranger)
    assert client.post(f"/galleries/{done[0].gallery_id}/delete-photos", {"photo": [done[1].pk]}).status_code == 404
    assert Photo.objects.filter(pk=done[1].pk).exists()


def test_the_gallery_page_offers_download_all_and_selection(client, owner, photos):
    client.force_login(owner)
    html = client.get(f"/galleries/{photos[0][0].gallery_id}/").content.decode()
    assert 'id="download-all"' in html and html.count('class="select-photo"') == 3


def test_an_account_exports_originals_results_and_a_list_of_everything(client, owner, photos):
    done, queued = photos
    Gallery.objects.create(owner=owner, name="Empty/../one")
    client.force_login(owner)
    archive = unzip(client.get("/accounts/export/"))
    names = set(archive.namelist())
    assert {"My photos/originals/scan.png", "My photos/originals/scan (2).png", "My photos/originals/later.png",
            "My photos/colorized/scan-color.png", "My photos/colorized/scan (2)-color.png", "account.json"} == names
    assert archive.read("My photos/originals/later.png") == default_storage.open(queued.original.name).read()
    record = json.loads(archive.read("account.json"))
    assert record["username"] == "alice"
    assert sorted(g["name"] for g in record["galleries"]) == ["Empty/../one", "My photos"]
    photos_listed = {p["original"]: p for g in record["galleries"] for p in g["photos"]}
    assert photos_listed["My photos/originals/later.png"]["status"] == "queued"
    assert photos_listed["My photos/originals/scan.png"]["provenance"]["software"] == "colorsite"


def test_names_in_an_archive_stay_inside_it():
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("  ") == "photo" and safe_name('a:b*c?"d<e>f|g') == "a_b_c__d_e_f_g"


def test_a_person_runs_at_most_the_set_number_of_zips_at_once_and_gets_a_429_beyond(
    client, owner, stranger, photos, settings, redis_conn
):
    settings.DOWNLOAD_STREAMS_PER_PERSON = 2
    gallery = photos[0][0].gallery
    client.force_login(owner)
    running = [client.get(f"/galleries/{gallery.pk}/download"), client.get("/accounts/export/")]
    assert [r.status_code for r in running] == [200, 200]  # streaming, not read yet

    refused = client.get(f"/galleries/{gallery.pk}/download")
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    assert b"You have 2 downloads running already" in refused.content
    api = client_for(owner).get(f"/api/v1/galleries/{gallery.pk}/download/")
    assert api.status_code == 429 and api["Retry-After"] == "30"
    assert api.json()["detail"].startswith("You have 2 downloads running already")
    # Another person's downloads are theirs to count.
    assert client_for(stranger).get(f"/api/v1/galleries/{Gallery.default_for(stranger).pk}/download/").status_code == 200

    assert len(unzip(running[0]).namelist()) == 2  # read to its end: its slot is free again
    assert client.get(f"/galleries/{gallery.pk}/download").status_code == 200


def test_a_download_closed_before_its_end_frees_its_slot(owner, settings, redis_conn):
    # What the WSGI server does when a reader goes away: it closes the response's iterator.
    from gallery.streams import TooManyDownloads, capped

    settings.DOWNLOAD_STREAMS_PER_PERSON = 1
    first = capped(owner, iter([b"one", b"two"]))
    assert next(first) == b"one"
    with pytest.raises(TooManyDownloads):
        capped(owner, iter([]))
    first.close()
    never_started = capped(owner, iter([b"x"]))  # a response closed before it sent anything
    never_started.close()
    assert list(capped(owner, iter([b"a", b"b"]))) == [b"a", b"b"]
    assert redis_conn.zcard(f"colorsite-streams:{owner.pk}") == 0


def test_the_download_cap_lets_zips_through_while_redis_is_down(client, owner, photos, settings, monkeypatch):
    import redis

    from gallery import streams

    def down():
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(streams, "_redis", down)
    settings.DOWNLOAD_STREAMS_PER_PERSON = 1
    client.force_login(owner)
    url = f"/galleries/{photos[0][0].gallery_id}/download"
    held = [client.get(url), client.get(url)]
    assert [r.status_code for r in held] == [200, 200]
    assert len(unzip(held[1]).namelist()) == 2
