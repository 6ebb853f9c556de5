"""Errors from the API are always JSON, never the site's HTML pages."""

import logging

import pytest

from gallery.quota import QuotaUsage
from gallery.models import Photo
from tests.api_support import api, fresh_throttles, png  # noqa: F401


@pytest.mark.parametrize(
    "url",
    ["/api/", "/api/v1/", "/api/v1/nothing/", "/api/v2/photos/", "/api/v1/photos/abc/", "/api/v1/photos/1/colours/",
     "/api/v1/galleries/-1/"],
)
def test_an_unknown_api_url_is_a_json_404(api, url):
    r = api.get(url)
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert r.json() == {"detail": "Not found."}


def test_unsafe_methods_on_an_unknown_url_are_a_json_404_too(client, db):
    # No CSRF 403 page from the site's middleware, whatever the method.
    for method in ("post", "put", "patch", "delete"):
        r = getattr(type(client)(enforce_csrf_checks=True), method)("/api/v1/galleries/-1/")
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}, method


def test_a_missing_final_slash_gets_a_hint(api):
    for method in ("get", "post"):
        r = getattr(api, method)("/api/v1/photos")
        assert r.status_code == 404
        assert r.json() == {"detail": "Not found. Did you mean /api/v1/photos/ (with a final slash)?"}


def test_the_site_keeps_its_html_404(client):
    r = client.get("/no-such-page/")
    assert r.status_code == 404 and r["Content-Type"].startswith("text/html")


def test_a_method_not_allowed_is_a_json_405(api):
    r = api.put("/api/v1/photos/", {})
    assert r.status_code == 405
    assert r.json() == {"detail": 'Method "PUT" not allowed.'}


def test_malformed_json_is_a_json_400(api):
    r = api.post("/api/v1/galleries/", "{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["detail"].startswith("JSON parse error")


def test_an_unsupported_body_is_a_json_415(api):
    r = api.post("/api/v1/photos/", b"\x89PNG", content_type="image/png")
    assert r.status_code == 415 and "Unsupported media type" in r.json()["detail"]


def test_any_accept_header_still_gets_json_errors(api):
    r = api.get("/api/v1/photos/999999/", HTTP_ACCEPT="text/html")
    assert r.status_code in (404, 406) and r["Content-Type"] == "application/json"
    r = api.get("/api/v1/photos/999999/result/", HTTP_ACCEPT="image/png")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}


def test_a_server_error_is_json_logged_and_rolled_back(api, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # After the quota unit is taken, inside the same transaction.
    monkeypatch.setattr(Photo, "enqueue_on_commit", broken)
    with caplog.at_level(logging.ERROR, logger="gallery"):
        r = api.post("/api/v1/photos/", {"image": png()}, format="multipart")
    assert r.status_code == 500
    assert r["Content-Type"] == "application/json"
    assert r.json()["detail"].startswith("Server error.")
    assert "disk on fire" not in r.content.decode()  # no internals in the answer
    assert any("disk on fire" in str(rec.exc_info) for rec in caplog.records)
    # The quota unit taken in the same transaction is given back.
    assert not Photo.objects.exists()
    assert not QuotaUsage.objects.filter(count__gt=0).exists()
    assert int(r["X-Quota-Remaining"]) == int(r["X-Quota-Limit"])


# -- JSON for whoever asked for it, whatever failed --------------------------------------

DEEP = "[" * 50_000


def test_deeply_nested_json_is_a_400_even_anonymously(client, db):
    r = client.post("/api/v1/auth/token/", DEEP, content_type="application/json")
    assert r.status_code == 400 and r.json()["detail"] == "JSON parse error - nested too deeply."


def test_deeply_nested_json_to_the_study_is_a_400(client, db):
    r = client.post("/study/answer", DEEP, content_type="application/json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_a_forged_host_header_is_a_json_400_for_an_api_client(client, db, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    r = client.get("/api/v1/photos/", HTTP_HOST="evil.example")
    assert r.status_code == 400 and r.json() == {"detail": "Bad Request."}
    page = client.get("/accounts/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


def test_a_site_endpoint_asked_for_json_answers_its_errors_in_json(owner, db):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    refused = browser.post("/galleries/1/rename", {"name": "x"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 403 and refused.json() == {"detail": "Forbidden."}
    missing = browser.get("/photos/999999/", HTTP_ACCEPT="application/json")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found."}
    html = browser.post("/galleries/1/rename", {"name": "x"}, HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert html.status_code == 403 and html["Content-Type"].startswith("text/html")
