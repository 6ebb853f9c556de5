"""Status polls stay cheap: few queries, one indexed key lookup, a strong ETag with
If-None-Match -> 304 (never across people), and Server-Timing per stage."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.api.models import ApiToken
from gallery.models import Photo
from tests.api_support import api, client_for, fresh_throttles, stranger_api  # noqa: F401
from tests.test_jobs import new_photo

TIMING = re.compile(r"^auth;dur=\d+\.\d{3}, db;dur=\d+\.\d{3}(, ser;dur=\d+\.\d{3})?, total;dur=\d+\.\d{3}$")


def detail(photo):
    return f"/api/v1/photos/{photo.pk}/"


def gallery_poll(photo):
    return f"/api/v1/photos/?gallery={photo.gallery_id}&page_size=100"


def stages(response):
    return {name: float(ms) for name, ms in re.findall(r"(\w+);dur=([\d.]+)", response["Server-Timing"])}


@pytest.fixture
def photo(owner):
    return new_photo(owner)  # queued; no Redis needed


@pytest.fixture
def browser(owner):
    client = Client()
    client.force_login(owner)
    return client


# -- ETag and 304 ------------------------------------------------------------


@pytest.mark.parametrize("url", [detail, gallery_poll])
def test_an_unchanged_status_is_a_304_with_no_body_and_a_change_a_new_etag(api, photo, url):
    first = api.get(url(photo))
    assert first.status_code == 200
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    assert "private" in first["Cache-Control"] and "no-cache" in first["Cache-Control"]

    again = api.get(url(photo), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    Photo.objects.filter(pk=photo.pk).update(status=Photo.RUNNING)
    changed = api.get(url(photo), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    body = changed.json()
    assert (body["results"][0] if "results" in body else body)["status"] == "running"
    assert changed["ETag"] != etag


@pytest.mark.parametrize("change", [
    {"status": Photo.DONE, "finished_at": timezone.now(), "model_version": "v-test"},  # result URLs appear
    {"vividness": 61},
    {"hints": [{"x": 0.5, "y": 0.5, "color": "#336699"}]},
    {"render_count": 7},  # thumbnail_url's ?v=
    {"render_requested_at": timezone.now()},  # rendering
    {"render_error": "It went wrong."},
    {"original_filename": "renamed.png"},  # title
])
def test_the_etag_changes_with_anything_in_the_json(api, photo, change):
    before = api.get(detail(photo))
    Photo.objects.filter(pk=photo.pk).update(**change)
    after = api.get(detail(photo), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json() != before.json() and after["ETag"] != before["ETag"]


def test_galleries_answer_conditionally_too_and_a_new_photo_changes_the_count(api, owner, photo):
    url = f"/api/v1/galleries/{photo.gallery_id}/"
    first = api.get(url)
    assert api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    new_photo(owner, "second.png")
    changed = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed.json()["photo_count"] == 2


def test_the_session_poll_gets_the_same_conditional_answers(browser, photo):
    first = browser.get(detail(photo))
    assert first.status_code == 200
    assert browser.get(detail(photo), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_another_persons_photo_is_a_404_whatever_etag_comes_with_it(api, stranger_api, photo):
    etag = api.get(detail(photo))["ETag"]
    r = stranger_api.get(detail(photo), HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    assert "ETag" not in r


def test_a_304_never_crosses_people_even_for_the_same_json(owner, stranger):
    # Two people with no photos get byte-identical lists; each still has an ETag of their own.
    alice, mallory = client_for(owner), client_for(stranger)
    mine = alice.get("/api/v1/photos/")
    theirs = mallory.get("/api/v1/photos/", HTTP_IF_NONE_MATCH=mine["ETag"])
    assert mine.content == theirs.content
    assert theirs.status_code == 200 and theirs["ETag"] != mine["ETag"]


def test_another_persons_gallery_is_still_a_404(api, stranger, photo):
    other = new_photo(stranger)
    r = api.get(gallery_poll(other))
    assert r.status_code == 404 and r.json() == {"detail": "Not found: no such gallery."}
    r = api.get(gallery_poll(other) + "&page=2")
    assert r.status_code == 404 and r.json() == {"detail": "Not found: no such gallery."}


def test_an_empty_gallery_of_ones_own_is_an_empty_list(api, owner):
    from gallery.models import Gallery

    empty = Gallery.objects.create(owner=owner, name="Empty")
    r = api.get(f"/api/v1/photos/?gallery={empty.pk}")
    assert r.status_code == 200 and r.json()["count"] == 0


def test_writes_get_no_etag(api, photo):
    Photo.objects.filter(pk=photo.pk).update(status=Photo.FAILED, error="x")
    r = api.post(detail(photo) + "retry/")
    assert r.status_code == 202 and "ETag" not in r and "Server-Timing" not in r


# -- queries -----------------------------------------------------------------


def count_queries(client, url, **headers):
    with CaptureQueriesContext(connection) as queries:
        r = client.get(url, **headers)
    return r, [q["sql"] for q in queries.captured_queries]


def test_a_key_poll_is_two_queries_the_key_with_its_person_and_the_photo(api, photo, django_assert_num_queries):
    api.get(detail(photo))  # records the key's last use (once a minute)
    with django_assert_num_queries(2):
        r = api.get(detail(photo))
    assert r.status_code == 200
    with django_assert_num_queries(2):
        assert api.get(detail(photo), HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    _, sql = count_queries(api, detail(photo))
    assert "api_apitoken" in sql[0] and "JOIN" in sql[0]  # the person comes with the key


def test_a_session_poll_is_three_queries_session_person_photo(browser, photo, django_assert_num_queries):
    with django_assert_num_queries(3):
        assert browser.get(detail(photo)).status_code == 200


def test_a_gallery_poll_is_three_queries_with_a_key(api, photo, django_assert_num_queries):
    api.get(gallery_poll(photo))
    with django_assert_num_queries(3):  # key, count, page: the gallery's owner shows in its photos
        r = api.get(gallery_poll(photo))
    assert r.status_code == 200 and r.json()["count"] == 1


# -- the key lookup keeps its security ---------------------------------------


def test_a_revoked_key_is_refused_on_the_next_poll(owner, photo):
    client = client_for(owner)
    assert client.get(detail(photo)).status_code == 200
    ApiToken.objects.filter(user=owner).delete()
    r = client.get(detail(photo))
    assert r.status_code == 401 and "ETag" not in r


def test_a_key_of_an_inactive_person_is_refused(owner, photo):
    client = client_for(owner)
    owner.is_active = False
    owner.save()
    assert client.get(detail(photo)).status_code == 401


def test_a_key_that_differs_in_one_character_is_refused(owner, photo):
    client = client_for(owner)
    key = client.key
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    r = Client().get(detail(photo), HTTP_AUTHORIZATION=f"Token {wrong}")
    assert r.status_code == 401


# -- Server-Timing -----------------------------------------------------------


@pytest.mark.parametrize("url", [detail, gallery_poll])
def test_a_poll_says_where_its_time_went(api, photo, url):
    r = api.get(url(photo))
    assert TIMING.match(r["Server-Timing"]), r["Server-Timing"]
    t = stages(r)
    assert set(t) == {"auth", "db", "ser", "total"}
    assert t["db"] > 0 and t["auth"] > 0
    assert t["auth"] + t["db"] + t["ser"] <= t["total"] + 0.003  # disjoint stages, within the rounding
    assert TIMING.match(api.get(url(photo), HTTP_IF_NONE_MATCH=r["ETag"])["Server-Timing"])


SLOW_MS = 30


@pytest.mark.parametrize("stage,target", [
    ("auth", "gallery.api.models.ApiToken.find"),
    ("db", "gallery.api.views.owned_or_404"),
    ("ser", "gallery.api.serializers.PhotoSerializer.to_representation"),
])
def test_each_stage_is_timed_where_its_work_is_done(api, photo, monkeypatch, stage, target):
    import time
    from importlib import import_module

    module_name, _, attr = target.rpartition(".")
    try:
        owner_obj = import_module(module_name)
    except ModuleNotFoundError:  # a method: module.Class.method
        module_name, _, cls = module_name.rpartition(".")
        owner_obj = getattr(import_module(module_name), cls)
    real = getattr(owner_obj, attr)

    def slow(*args, **kwargs):
        time.sleep(SLOW_MS / 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner_obj, attr, slow)
    t = stages(api.get(detail(photo)))
    assert t[stage] >= SLOW_MS
    assert all(t[other] < SLOW_MS for other in ("auth", "db", "ser") if other != stage), t


def test_a_refused_poll_still_times_its_auth(db, photo):
    r = Client().get(detail(photo), HTTP_AUTHORIZATION="Token csk_nope")
    assert r.status_code == 401
    assert set(stages(r)) == {"auth", "db", "total"} and TIMING.match(r["Server-Timing"])


def test_a_404_poll_is_timed_too(stranger_api, photo):
    r = stranger_api.get(detail(photo))
    assert r.status_code == 404 and set(stages(r)) == {"auth", "db", "ser", "total"}


# -- the pages poll the same way ---------------------------------------------


@pytest.mark.parametrize("script", ["gallery.js", "photo.js"])
def test_the_pages_polls_revalidate_so_the_browser_sends_if_none_match(script):
    # fetch's default may answer from the HTTP cache by heuristics; "no-cache" always asks
    # the server, with the cached answer's ETag, and hands the script the cached body on a 304.
    source = (Path(settings.BASE_DIR) / "static" / "js" / script).read_text()
    gets = re.findall(r"fetch\(url, (\{.*)", source)  # the rest of the line: the options
    assert gets and all('cache: "no-cache"' in options for options in gets), gets
