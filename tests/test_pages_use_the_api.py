"""One JSON contract: the pages' scripts talk to /api/v1/ with the browser's session (CSRF on
writes), the site has no JSON endpoints of its own, and each value (vividness, download
format and quality) is validated once, by the API's serializers, for every door."""

import pytest
from django.test import Client

from gallery.models import Photo
from tests.conftest import run_worker
from tests.test_jobs import new_photo
from tests.test_photos import done_photo  # noqa: F401


@pytest.fixture
def browser(owner):
    """A logged-in browser whose writes must carry the CSRF token, as a real one's do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get("/", follow=True)  # the gallery page sets the CSRF cookie
    return client


def csrf(client):
    return client.cookies["csrftoken"].value


def test_the_sites_own_json_endpoints_are_gone(browser, owner, redis_conn):
    photo = new_photo(owner)
    for url in (f"/galleries/{photo.gallery_id}/status.json", f"/photos/{photo.pk}/status.json"):
        assert browser.get(url, HTTP_ACCEPT="application/json").status_code == 404, url
    r = browser.post(f"/photos/{photo.pk}/render", {"vividness": "60"}, HTTP_X_CSRFTOKEN=csrf(browser))
    assert r.status_code == 404


def test_the_pages_point_their_scripts_at_the_api(browser, owner, done_photo):  # noqa: F811
    gallery_page = browser.get(f"/galleries/{done_photo.gallery_id}/").content.decode()
    assert 'data-photos-url="/api/v1/photos/"' in gallery_page and f'data-gallery="{done_photo.gallery_id}"' in gallery_page
    photo_page = browser.get(f"/photos/{done_photo.pk}/").content.decode()
    assert f'data-rerender-url="/api/v1/photos/{done_photo.pk}/rerender/"' in photo_page
    assert f'data-api-url="/api/v1/photos/{done_photo.pk}/"' in photo_page


def test_a_session_upload_needs_the_csrf_token_and_answers_with_the_quota(browser, owner, redis_conn, settings):
    from tests.api_support import png

    settings.COLORIZE_DAILY_QUOTA = 5
    assert browser.post("/api/v1/photos/", {"image": png()}).status_code == 403
    assert not Photo.objects.exists()
    r = browser.post("/api/v1/photos/", {"image": png("Aunt May.png")}, HTTP_X_CSRFTOKEN=csrf(browser))
    assert r.status_code == 202, r.content
    assert (r["X-Quota-Remaining"], r["X-Quota-Limit"]) == ("4", "5")  # what the page's quota note shows
    body = r.json()
    assert (body["title"], body["status"]) == ("Aunt May", "queued") and body["status_label"].startswith("Queued")
    assert body["page_url"].endswith(f"/photos/{body['id']}/")
    assert browser.get(body["thumbnail_url"])["Content-Type"] == "image/jpeg"
    assert body["preview_url"] is None


def test_a_session_rerender_needs_the_csrf_token_and_shows_the_new_result(
    browser, done_photo, django_capture_on_commit_callbacks  # noqa: F811
):
    url = f"/api/v1/photos/{done_photo.pk}/rerender/"
    assert browser.post(url, {"vividness": 100}, content_type="application/json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        r = browser.post(url, {"vividness": 100}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf(browser))
    assert r.status_code == 202 and r.json()["rendering"] is True
    run_worker()
    body = browser.get(f"/api/v1/photos/{done_photo.pk}/").json()
    assert body["rendering"] is False and body["vividness"] == 100 and body["render_error"] is None
    assert body["preview_url"].endswith("/preview/?v=2")
    assert browser.get(body["preview_url"])["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("vividness", [50.5, "lots", 101, -1])
def test_vividness_is_a_whole_number_from_0_to_100_for_every_client(browser, done_photo, vividness):  # noqa: F811
    r = browser.post(f"/api/v1/photos/{done_photo.pk}/rerender/", {"vividness": vividness},
                     content_type="application/json", HTTP_X_CSRFTOKEN=csrf(browser))
    assert r.status_code == 400 and list(r.json()) == ["vividness"]


def test_downloads_take_jpg_for_jpeg_at_every_door(browser, done_photo):  # noqa: F811
    done_photo.share()
    for url in (f"/photos/{done_photo.pk}/download", f"/api/v1/photos/{done_photo.pk}/result/",
                f"/s/{done_photo.share_token}/download"):
        r = browser.get(url + "?format=jpg&quality=80")
        assert r.status_code == 200 and r["Content-Type"] == "image/jpeg", url


def test_the_site_refuses_a_bad_download_query_with_the_apis_words(browser, done_photo):  # noqa: F811
    site = browser.get(f"/photos/{done_photo.pk}/download?format=gif")
    api = browser.get(f"/api/v1/photos/{done_photo.pk}/result/?format=gif")
    assert site.status_code == api.status_code == 400
    assert site.content.decode() == api.json()["format"][0]


def test_a_preview_of_a_photo_not_colorized_is_a_409(browser, owner, redis_conn):
    photo = new_photo(owner)
    assert browser.get(f"/api/v1/photos/{photo.pk}/preview/").status_code == 409
    assert browser.get(f"/api/v1/photos/{photo.pk}/thumbnail/").status_code == 200
