"""The daily colorization quota: X-Quota-* headers on every upload answer,
a 429 with a reason and Retry-After when it is used up, plans that raise
it, and a new quota each day (UTC)."""

import re
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from gallery import quota
from gallery.quota import Plan, QuotaUsage
from gallery.models import Photo
from tests.api_support import api, client_for, fresh_throttles, png, stranger_api, upload  # noqa: F401


@pytest.fixture
def quota_of_2(settings, redis_conn):
    settings.COLORIZE_DAILY_QUOTA = 2


def headers(r):
    return int(r["X-Quota-Limit"]), int(r["X-Quota-Remaining"])


def test_every_upload_answer_tells_the_quota_and_the_third_is_refused(
    api, quota_of_2, django_capture_on_commit_callbacks
):
    first = upload(api, django_capture_on_commit_callbacks)
    second = upload(api, django_capture_on_commit_callbacks)
    assert (first.status_code, headers(first)) == (202, (2, 1))
    assert (second.status_code, headers(second)) == (202, (2, 0))

    third = upload(api, django_capture_on_commit_callbacks)
    assert third.status_code == 429
    assert headers(third) == (2, 0)
    body = third.json()
    assert body["detail"] == "You have used today's 2 colorizations; the quota starts again at 00:00 UTC."
    assert body["limit"] == 2 and body["remaining"] == 0
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(dt_timezone.utc).date()
    assert body["resets_at"] == f"{tomorrow.isoformat()}T00:00:00Z"
    seconds_to_midnight = (datetime.fromisoformat(body["resets_at"]) - timezone.now()).total_seconds()
    assert 0 < int(third["Retry-After"]) <= seconds_to_midnight + 1
    assert Photo.objects.count() == 2  # nothing stored for the refused one


def test_a_refused_upload_does_not_use_the_quota(api, quota_of_2, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = api.post("/api/v1/photos/", {"image": SimpleUploadedFile("x.png", b"not a png")}, format="multipart")
    assert bad.status_code == 400 and headers(bad) == (2, 2)
    elsewhere = api.post("/api/v1/photos/", {"image": png(), "gallery": 999999}, format="multipart")
    assert elsewhere.status_code == 404 and headers(elsewhere) == (2, 2)
    assert headers(upload(api, django_capture_on_commit_callbacks)) == (2, 1)


def test_deleting_photos_does_not_give_the_quota_back(api, quota_of_2, django_capture_on_commit_callbacks):
    for _ in range(2):
        photo_id = upload(api, django_capture_on_commit_callbacks).json()["id"]
        assert api.delete(f"/api/v1/photos/{photo_id}/").status_code == 204
    assert upload(api, django_capture_on_commit_callbacks).status_code == 429


def test_rerender_and_retry_do_not_count(api, quota_of_2, django_capture_on_commit_callbacks):
    photo_id = upload(api, django_capture_on_commit_callbacks).json()["id"]
    Photo.objects.filter(pk=photo_id).update(status=Photo.FAILED, error="x")
    assert api.post(f"/api/v1/photos/{photo_id}/retry/").status_code == 202
    assert headers(upload(api, django_capture_on_commit_callbacks)) == (2, 0)


def test_the_quota_is_per_person(api, stranger_api, quota_of_2, django_capture_on_commit_callbacks):
    for _ in range(2):
        upload(api, django_capture_on_commit_callbacks)
    r = upload(stranger_api, django_capture_on_commit_callbacks)
    assert r.status_code == 202 and headers(r) == (2, 1)


def test_a_plan_raises_a_persons_quota(api, owner, quota_of_2, django_capture_on_commit_callbacks):
    Plan.objects.create(user=owner, name="Family", daily_quota=3)
    codes = [upload(api, django_capture_on_commit_callbacks).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]


def test_a_zero_quota_refuses_everything(api, settings, redis_conn, django_capture_on_commit_callbacks):
    settings.COLORIZE_DAILY_QUOTA = 0
    r = upload(api, django_capture_on_commit_callbacks)
    assert r.status_code == 429 and headers(r) == (0, 0)


def test_the_quota_starts_again_the_next_day(api, owner, quota_of_2, django_capture_on_commit_callbacks, monkeypatch):
    for _ in range(2):
        upload(api, django_capture_on_commit_callbacks)
    assert upload(api, django_capture_on_commit_callbacks).status_code == 429
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(quota.timezone, "now", lambda: tomorrow)
    r = upload(api, django_capture_on_commit_callbacks)
    assert r.status_code == 202 and headers(r) == (2, 1)
    assert sorted(QuotaUsage.objects.filter(user=owner).values_list("count", flat=True)) == [1, 2]


def test_two_racing_uploads_cannot_both_take_the_last_unit(owner, settings, db, monkeypatch):
    settings.COLORIZE_DAILY_QUOTA = 1
    # Both uploads read the day's row while it still said 0 used...
    stale, _ = QuotaUsage.objects.get_or_create(user=owner, day=quota.today())
    assert quota.consume(owner).remaining == 0
    # ...the second one decides on that stale row: the conditional UPDATE
    # in the database still finds no unit left.
    reads = []
    monkeypatch.setattr(QuotaUsage.objects, "get_or_create", lambda **kwargs: reads.append(stale) or (stale, False))
    assert stale.count == 0
    with pytest.raises(quota.QuotaExceeded) as refused:
        quota.consume(owner)
    assert reads == [stale]
    assert refused.value.quota.used == 1 and refused.value.quota.remaining == 0
    assert QuotaUsage.objects.get(user=owner).count == 1


def test_the_keys_page_shows_todays_use(client, owner, settings, db):
    settings.COLORIZE_DAILY_QUOTA = 7
    quota.consume(owner)
    client.force_login(owner)
    assert "started 1 of your 7 daily colorizations" in client.get("/accounts/api-keys/").content.decode()


# -- the site's upload form: the same quota -------------------------------------------


def site_upload(client, owner, count=1, capture=None):
    """The upload form without its script (with it, the page uploads through the API)."""
    from gallery.models import Gallery
    from tests.conftest import upload_file

    url = f"/galleries/{Gallery.default_for(owner).pk}/upload"
    files = [upload_file(f"p{n}.png") for n in range(count)]
    with capture(execute=True):
        return client.post(url, {"photos": files})


def test_the_upload_form_and_the_api_take_from_one_quota(
    client, api, owner, quota_of_2, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    assert upload(api, django_capture_on_commit_callbacks).status_code == 202
    assert site_upload(client, owner, capture=django_capture_on_commit_callbacks).status_code == 302
    refused = site_upload(client, owner, capture=django_capture_on_commit_callbacks)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "You have used today&#x27;s 2 colorizations; the quota starts again at 00:00 UTC." in refused.content.decode()
    api_refused = upload(api, django_capture_on_commit_callbacks)
    # The same wait from both doors, less the seconds between the two requests on a busy machine.
    assert api_refused.status_code == 429
    assert 0 <= int(refused["Retry-After"]) - int(api_refused["Retry-After"]) <= 5
    assert Photo.objects.count() == 2


def test_without_the_upload_script_the_gallery_page_says_why_with_a_429(
    client, owner, settings, redis_conn, django_capture_on_commit_callbacks
):
    settings.COLORIZE_DAILY_QUOTA = 0
    client.force_login(owner)
    r = site_upload(client, owner, capture=django_capture_on_commit_callbacks)
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert "used today&#x27;s 0 colorizations" in r.content.decode()
    assert not Photo.objects.exists()


def test_a_batch_larger_than_what_is_left_is_refused_whole_and_takes_nothing(
    client, owner, quota_of_2, django_capture_on_commit_callbacks, settings
):
    client.force_login(owner)
    r = site_upload(client, owner, count=3, capture=django_capture_on_commit_callbacks)
    assert r.status_code == 429
    assert "That is 3 photos, and you have 2 of today&#x27;s 2 colorizations left" in r.content.decode()
    assert not Photo.objects.exists() and quota.status(owner).remaining == 2
    assert os_listing(settings.MEDIA_ROOT) == []
    assert site_upload(client, owner, count=2, capture=django_capture_on_commit_callbacks).status_code == 302


def os_listing(root):
    import os

    return [f for _, _, files in os.walk(root) for f in files]


def test_the_gallery_page_shows_todays_quota(client, owner, settings, db):
    from gallery.models import Gallery

    settings.COLORIZE_DAILY_QUOTA = 7
    quota.consume(owner, 3)
    client.force_login(owner)
    page = client.get(f"/galleries/{Gallery.default_for(owner).pk}/").content.decode()
    assert re.sub(r"<[^>]+>", "", page).count("Today you have 4 of your 7 daily colorizations left") == 1


def test_staff_give_a_person_a_plan_in_the_admin_and_see_their_usage(client, owner, quota_of_2):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.org", "staff password 123")
    client.force_login(get_user_model().objects.get(username="root"))
    r = client.post("/admin/gallery/plan/add/", {"user": owner.pk, "name": "Family", "daily_quota": 5},
                    secure=True)
    assert r.status_code == 302, r.content[-2000:]
    assert quota.status(owner).limit == 5
    quota.consume(owner, 2)
    r = client.get("/admin/gallery/quotausage/", secure=True)
    assert r.status_code == 200 and owner.username in r.content.decode()
