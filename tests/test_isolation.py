"""
Every URL of the site and the API, found by walking the URL resolver (a new
URL is covered the day it is added), tried by a stranger and by an anonymous
visitor against the owner's objects: a 404, a 405, a 401 from the API or a
redirect to a login page, exactly as for an object that does not exist, and
never a byte of the owner's photos or names.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import Resolver404, get_resolver, resolve

from gallery.api.models import ApiToken
from gallery.models import Gallery, Photo
from tests.api_support import client_for, fresh_throttles  # noqa: F401 (fixture)
from tests.conftest import run_worker
from tests.test_jobs import new_photo

SECRET_FILENAME = "Owner-private-photo-4f2a.png"
SECRET_GALLERY = "Owner private gallery 9c1e"
MISSING_ID = 987654321
MISSING_TOKEN = "no-such-token-000000000000000000"
LOGIN_PATHS = ("/accounts/login/", "/admin/login/")
# Anything else means the view answered for an object that is not theirs.
REFUSALS = {404, 405, 401}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def url_formats(resolver=None, prefix=""):
    """(format, params) of every URL pattern, e.g. ("photos/%(pk)s/", ["pk"]),
    namespaced ones (admin, django_rq) included."""
    resolver = resolver or get_resolver()
    found = set()
    for key in list(resolver.reverse_dict):
        for possibilities, *_ in resolver.reverse_dict.getlist(key):
            for fmt, params in possibilities:
                found.add((prefix + fmt, tuple(params)))
    for ns_prefix, sub in resolver.namespace_dict.values():
        found |= set(url_formats(sub, prefix + ns_prefix))
    return sorted(found)


@pytest.fixture
def owned(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    """The owner's things: a gallery, a colorized photo once shared and then
    made private again (its old link must be dead), an API key."""
    gallery = Gallery.objects.create(owner=owner, name=SECRET_GALLERY)
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner, SECRET_FILENAME, size=(40, 30))
    Photo.objects.filter(pk=photo.pk).update(gallery=gallery)
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    photo.share()
    old_token = photo.share_token
    photo.unshare()
    token, _ = ApiToken.create(owner, "owner key")
    return {"gallery": gallery, "photo": photo, "old_token": old_token, "api_token": token}


def object_for(fmt, owned, owner):
    """Which of the owner's objects an id in this URL names."""
    for word, obj in (("api-keys", owned["api_token"]), ("apitoken", owned["api_token"]),
                      ("galler", owned["gallery"]), ("auth/user", owner), ("photo", owned["photo"])):
        if word in fmt:
            return obj
    return owned["photo"]


def concrete_urls(owned, owner):
    """[(url, url for a missing object or None, names an owner's object?)]"""
    photo = owned["photo"]
    urls = []
    for fmt, params in url_formats():
        target = object_for(fmt, owned, owner)
        real = {
            "pk": target.pk, "id": target.pk, "object_id": target.pk, "token": owned["old_token"], "job_id": photo.rq_job_id,
            "kind": "after", "app_label": "gallery", "queue_index": 0, "scheduler_index": 0,
            "content_type_id": ContentType.objects.get_for_model(type(target)).pk, "uidb64": "MQ", "key": "x",
            "url": "x",
        }
        missing = {**real, "pk": MISSING_ID, "id": MISSING_ID, "object_id": MISSING_ID, "token": MISSING_TOKEN, "job_id": "photo-0-none"}
        url = "/" + fmt % real
        try:
            resolve(urlsplit(url).path)
        except Resolver404:
            pytest.fail(f"Cannot build a URL for {fmt}: teach concrete_urls() its parameters")
        names_object = bool({"pk", "id", "object_id", "token", "job_id"} & set(params)) and not fmt.startswith(
            ("accounts/reset/", "admin/rq/stats")  # a reset link's token, the RQ stats API key: not objects
        )
        urls.append((url, "/" + fmt % missing if names_object else None, names_object))
    return urls


def is_login_redirect(r):
    return r.status_code in (301, 302) and urlsplit(r["Location"]).path in LOGIN_PATHS


def body(r):
    return b"".join(r.streaming_content) if r.streaming else r.content


def assert_refused(r, missing_r, what):
    assert r.status_code not in range(200, 300), what
    assert r.status_code in REFUSALS or is_login_redirect(r), (what, r.status_code)
    # Exactly like an object that does not exist.
    assert r.status_code == missing_r.status_code, (what, missing_r.status_code)
    if is_login_redirect(r):
        assert is_login_redirect(missing_r)


def assert_no_secrets(r, owned, what):
    data = body(r)
    for secret in (SECRET_FILENAME[:-4], SECRET_GALLERY, owned["photo"].folder.rsplit("/", 1)[1], owned["old_token"]):
        assert secret.encode() not in data, (what, secret)


def request(client, method, url):
    return client.generic(method, url, b"", content_type="application/json", HTTP_ACCEPT=BROWSER_ACCEPT)


def walk(client, owned, owner, who):
    checked = 0
    urls = concrete_urls(owned, owner)
    # Reading first, then every other method (a stranger's DELETE must not
    # remove the photo the rest of the walk is about).
    for url, missing, names_object in urls:
        r = request(client, "GET", url)
        assert r.status_code != 500, (who, url)
        assert_no_secrets(r, owned, (who, "GET", url))
        if names_object:
            assert_refused(r, request(client, "GET", missing), (who, "GET", url))
        checked += 1
    for url, missing, names_object in urls:
        if not names_object:
            continue  # e.g. POST /accounts/logout/ would end the stranger's session
        for method in METHODS[1:]:
            r = request(client, method, url)
            assert_no_secrets(r, owned, (who, method, url))
            assert_refused(r, request(client, method, missing), (who, method, url))
            checked += 1
    return checked


def assert_untouched(owned, owner):
    photo = Photo.objects.get(pk=owned["photo"].pk)
    assert photo.status == Photo.DONE and photo.share_token is None and photo.owner == owner
    assert photo.original.storage.exists(photo.original.name)
    assert photo.result.storage.exists(photo.result.name)
    assert Gallery.objects.get(pk=owned["gallery"].pk).name == SECRET_GALLERY
    assert ApiToken.objects.filter(pk=owned["api_token"].pk).exists()


@pytest.fixture
def open_throttles(settings):
    settings.API_ANON_RATE = "100000/minute"


def test_the_url_walk_covers_the_site_and_the_api():
    formats = {fmt for fmt, _ in url_formats()}
    for fmt in ("photos/%(pk)s/original", "s/%(token)s/download", "api/v1/photos/%(pk)s/result/",
                "api/v1/galleries/%(pk)s/", "accounts/api-keys/%(pk)s/revoke"):
        assert fmt in formats


def test_a_stranger_gets_404_for_every_url_of_my_things(client, owner, stranger, owned, open_throttles):
    client.force_login(stranger)
    assert walk(client, owned, owner, "stranger") > 100
    assert_untouched(owned, owner)


def test_a_stranger_with_an_api_key_gets_404_for_every_api_url_of_my_things(owner, stranger, owned, open_throttles):
    api = client_for(stranger)
    for url, missing, names_object in concrete_urls(owned, owner):
        if not url.startswith("/api/"):
            continue
        for method in METHODS if names_object else ["GET"]:
            r = api.generic(method, url)
            assert_no_secrets(r, owned, ("api key", method, url))
            if names_object:
                assert r.status_code in (404, 405), (method, url, r.status_code)
                assert api.generic(method, missing).status_code == r.status_code
    assert_untouched(owned, owner)


def test_an_anonymous_visitor_gets_404_or_the_login_page_for_every_url(client, owner, owned, open_throttles):
    assert walk(client, owned, owner, "anonymous") > 100
    assert_untouched(owned, owner)


def test_a_new_account_sees_nothing_it_does_not_own(client, owner, owned):
    r = client.post("/accounts/signup/", {
        "username": "newcomer", "email": "new@example.com",
        "password1": "a long fresh passphrase 81", "password2": "a long fresh passphrase 81",
    })
    assert r.status_code == 302
    assert [g.name for g in Gallery.objects.filter(owner__username="newcomer")] == ["My photos"]
    for url in ("/", "/galleries/", "/accounts/", "/accounts/api-keys/", "/api/v1/photos/", "/api/v1/galleries/"):
        r = client.get(url, follow=True)
        assert r.status_code == 200, url
        assert_no_secrets(r, owned, url)
    assert client.get("/api/v1/photos/").json()["count"] == 0
    assert re.search(rb"My photos", client.get("/galleries/").content)
