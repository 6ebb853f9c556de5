"""API authentication: token login, several named keys per person, hashed
storage, last use, revocation, session auth for the site's pages, and the
throttling of logins and of requests without valid credentials."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gallery.api.models import ApiToken, hash_key
from tests.api_support import api, client_for, fresh_throttles  # noqa: F401

PASSWORD = "correct horse battery"  # tests.conftest.make_user's


def login(client, username="alice", password=PASSWORD):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_token_login_returns_a_working_key(owner):
    r = login(APIClient())
    assert r.status_code == 200
    assert list(r.json()) == ["token"]
    key = r.json()["token"]
    assert key.startswith("csk_") and len(key) > 40

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/galleries/").status_code == 200


def test_logins_reuse_one_api_login_key_instead_of_piling_up(owner):
    keys = [login(APIClient()).json()["token"] for _ in range(3)]
    assert len(set(keys)) == 3
    token = ApiToken.objects.get(user=owner)
    assert token.from_login and token.name == "API login"
    assert token.key_hash == hash_key(keys[-1])
    # Only the latest secret works: we keep hashes, so an earlier one cannot be handed out again.
    for key, status in ((keys[0], 401), (keys[-1], 200)):
        assert APIClient().get("/api/v1/galleries/", HTTP_AUTHORIZATION=f"Token {key}").status_code == status


def test_a_login_keeps_named_keys_and_folds_older_login_keys_into_one(owner):
    named, named_key = ApiToken.create(owner, "named by hand")
    for _ in range(3):  # as earlier versions made them, one per login
        ApiToken.objects.create(user=owner, name="API login, old", key_hash=hash_key(str(_)), from_login=True)
    login(APIClient())
    assert sorted(ApiToken.objects.filter(user=owner).values_list("name", flat=True)) == ["API login", "named by hand"]
    assert APIClient().get("/api/v1/galleries/", HTTP_AUTHORIZATION=f"Token {named_key}").status_code == 200


def test_login_also_accepts_a_form(owner):
    r = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token"]


@pytest.mark.parametrize("username,password", [("alice", "wrong"), ("nobody", PASSWORD), ("alice", "")])
def test_bad_credentials_are_a_400_with_a_reason(owner, username, password):
    r = login(APIClient(), username, password)
    assert r.status_code == 400
    assert r["Content-Type"] == "application/json"
    body = r.json()
    assert body.get("non_field_errors") or body.get("password")
    assert not ApiToken.objects.exists()


def test_login_needs_both_fields(db):
    r = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert r.status_code == 400
    assert r.json() == {"username": ["This field is required."], "password": ["This field is required."]}


def test_an_inactive_account_cannot_log_in_or_use_its_keys(owner):
    client = client_for(owner)
    owner.is_active = False
    owner.save()
    assert login(APIClient()).status_code == 400
    r = client.get("/api/v1/galleries/")
    assert r.status_code == 401 and r.json() == {"detail": "User inactive or deleted."}


def test_logins_are_throttled_per_address(owner, settings):
    settings.API_LOGIN_RATE = "3/minute"
    client = APIClient()
    assert [login(client, password="wrong").status_code for _ in range(3)] == [400, 400, 400]
    r = login(client)  # even the right password, once throttled
    assert r.status_code == 429
    assert int(r["Retry-After"]) > 0
    assert "throttled" in r.json()["detail"]
    # Another address is not affected.
    assert login(APIClient(REMOTE_ADDR="10.9.9.9")).status_code == 200


def test_keys_are_stored_hashed(owner):
    token, key = ApiToken.create(owner, "laptop")
    token.refresh_from_db()
    assert token.key_hash == hash_key(key) != key
    assert key not in str([f.value_from_object(token) for f in ApiToken._meta.fields])
    assert key.startswith(token.key_start) and len(token.key_start) == len("csk_") + 8


def test_a_person_has_several_keys_each_working_until_revoked(owner):
    laptop, phone = client_for(owner, "laptop"), client_for(owner, "phone")
    assert laptop.get("/api/v1/photos/").status_code == 200
    assert phone.get("/api/v1/photos/").status_code == 200
    ApiToken.objects.get(name="laptop").delete()
    assert laptop.get("/api/v1/photos/").status_code == 401
    assert phone.get("/api/v1/photos/").status_code == 200


def test_the_last_use_is_recorded_at_most_once_a_minute(owner):
    client = client_for(owner, "script")
    token = ApiToken.objects.get(name="script")
    assert token.last_used_at is None
    client.get("/api/v1/photos/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)
    client.get("/api/v1/photos/")
    token.refresh_from_db()
    assert token.last_used_at == first  # no write for every request
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/photos/")
    token.refresh_from_db()
    assert token.last_used_at > first


@pytest.mark.parametrize("header", ["Token nope", "Token csk_notakey", "Token a b", "Token"])
def test_a_bad_key_is_a_401_in_json(db, header):
    r = APIClient().get("/api/v1/photos/", HTTP_AUTHORIZATION=header)
    assert r.status_code == 401
    assert r["Content-Type"] == "application/json"
    assert r["WWW-Authenticate"] == "Token"
    assert r.json()["detail"]


def test_no_credentials_is_a_401(db):
    r = APIClient().get("/api/v1/photos/")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Token"
    assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_the_sites_session_works_too_with_csrf(client, owner):
    client.force_login(owner)
    assert client.get("/api/v1/galleries/").status_code == 200
    # Unsafe methods with a session need the CSRF token, like the site's forms.
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    r = csrf_client.post("/api/v1/galleries/", {"name": "Holidays"}, content_type="application/json")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_anonymous_requests_are_throttled_per_address(db, settings, owner):
    settings.API_ANON_RATE = "4/minute"
    anonymous = APIClient()
    codes = [anonymous.get("/api/v1/photos/").status_code for _ in range(2)]
    codes += [anonymous.get("/api/v1/photos/", HTTP_AUTHORIZATION="Token guess").status_code for _ in range(2)]
    assert codes == [401, 401, 401, 401]
    r = anonymous.get("/api/v1/photos/", HTTP_AUTHORIZATION="Token guess")
    assert r.status_code == 429
    assert int(r["Retry-After"]) > 0
    assert r.json()["detail"].startswith("Request was throttled.")
    assert APIClient().get("/api/schema/").status_code == 429  # public pages count too
    # A person with a valid key is not held back by the anonymous rate.
    assert client_for(owner).get("/api/v1/photos/").status_code == 200
    assert APIClient(REMOTE_ADDR="10.1.2.3").get("/api/v1/photos/").status_code == 401


def test_a_forged_forwarded_for_does_not_escape_the_login_throttle(owner, settings):
    settings.API_LOGIN_RATE = "2/minute"
    client = APIClient()
    codes = [login(client, password="wrong").status_code for _ in range(2)]
    codes += [
        client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"},
                    HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429, 429, 429]
