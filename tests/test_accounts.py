"""Sign-up, login, password change and reset, account deletion."""

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.storage import default_storage

from gallery.models import Gallery, Photo
from tests.test_jobs import new_photo

User = get_user_model()


def test_signup_creates_a_user_with_a_default_gallery_and_logs_in(client, db):
    r = client.post("/accounts/signup/", {
        "username": "ann", "email": "ann@example.com",
        "password1": "a long pass phrase", "password2": "a long pass phrase",
    })
    assert r.status_code == 302
    user = User.objects.get(username="ann")
    gallery = Gallery.objects.get(owner=user)
    assert gallery.is_default and gallery.name == "My photos"
    r = client.get("/", follow=True)
    assert r.redirect_chain[-1][0] == f"/galleries/{gallery.pk}/"
    assert b"Drop black-and-white photos here" in r.content


def test_signup_rejects_mismatched_passwords(client, owner):
    r = client.post("/accounts/signup/", {
        "username": "bob", "email": "bob@example.com", "password1": "a long pass phrase", "password2": "other",
    })
    assert r.status_code == 200
    assert "fields didn’t match" in r.content.decode()
    assert not User.objects.filter(username="bob").exists()


def test_signup_does_not_tell_whether_an_email_address_has_an_account(client, owner):
    # It used to answer "An account with this e-mail address already exists".
    r = client.post("/accounts/signup/", {
        "username": "bob", "email": "alice@example.com", "password1": "a long pass phrase", "password2": "a long pass phrase",
    })
    assert r.status_code == 302 and User.objects.filter(username="bob").exists()


def test_signups_are_throttled_per_address(client, db, settings):
    settings.SIGNUP_RATE = "2/hour"
    codes = []
    for n in range(3):
        client.logout()
        codes.append(client.post("/accounts/signup/", {
            "username": f"user{n}", "email": f"u{n}@example.com",
            "password1": "a long pass phrase", "password2": "a long pass phrase",
        }))
    assert [r.status_code for r in codes] == [302, 302, 429]
    assert int(codes[2]["Retry-After"]) > 0 and b"Too many sign-ups" in codes[2].content
    assert not User.objects.filter(username="user2").exists()


def test_password_reset_requests_are_throttled_per_address(client, owner, settings):
    settings.PASSWORD_RESET_RATE = "2/hour"
    codes = [client.post("/accounts/password_reset/", {"email": f"x{n}@example.com"}).status_code for n in range(3)]
    assert codes == [302, 302, 429]


def test_reset_mails_to_one_address_are_limited_without_saying_so(client, owner, settings):
    settings.PASSWORD_RESET_MAIL_RATE = "1/hour"
    answers = [client.post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=f"10.0.0.{n}")
               for n, email in enumerate(["alice@example.com", "ALICE@example.com", "nobody@example.com",
                                          "nobody@example.com"])]
    # The same answer whether the address has an account, and whether a mail went.
    assert {(r.status_code, r.url) for r in answers} == {(302, "/accounts/password_reset/done/")}
    assert len(mail.outbox) == 1


def test_login_and_logout(client, owner):
    r = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 302
    assert client.get("/galleries/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/galleries/").status_code == 302


def test_password_change(client, owner):
    client.force_login(owner)
    r = client.post("/accounts/password_change/", {
        "old_password": "correct horse battery", "new_password1": "new pass phrase 42", "new_password2": "new pass phrase 42",
    })
    assert r.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("new pass phrase 42")


def test_password_reset_sends_a_working_link(client, owner):
    r = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert r.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    r = client.get(link, follow=True)
    assert b"Choose a new password" in r.content
    r = client.post(r.redirect_chain[-1][0], {"new_password1": "brand new phrase 7", "new_password2": "brand new phrase 7"})
    assert r.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("brand new phrase 7")


def test_account_deletion_needs_the_password_and_removes_everything(
    client, owner, stranger, redis_conn, django_capture_on_commit_callbacks
):
    photo = new_photo(owner)
    theirs = new_photo(stranger)
    client.force_login(owner)
    r = client.post("/accounts/delete/", {"password": "wrong"})
    assert r.status_code == 200 and b"not your password" in r.content
    assert User.objects.filter(pk=owner.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/accounts/delete/", {"password": "correct horse battery"})
    assert r.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert not default_storage.exists(photo.original.name)
    # Someone else's photos are untouched.
    assert default_storage.exists(theirs.original.name)


def test_account_pages_need_login(client, db):
    for url in ["/accounts/", "/accounts/delete/", "/accounts/password_change/"]:
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith("/accounts/login/")


# -- keys and sessions die with the password ------------------------------------------


def keys_and_sessions(owner, stranger):
    """Two API keys and a second signed-in browser of the owner, and a key of a stranger."""
    from django.test import Client

    from tests.api_support import client_for

    elsewhere = Client()
    elsewhere.force_login(owner)
    return client_for(owner, "laptop"), client_for(owner, "server"), elsewhere, client_for(stranger)


def still_works(api_client):
    return api_client.get("/api/v1/photos/").status_code == 200


def test_changing_the_password_revokes_every_key_and_other_session(client, owner, stranger):
    laptop, server, elsewhere, strangers = keys_and_sessions(owner, stranger)
    assert still_works(laptop) and still_works(server) and still_works(elsewhere)
    client.force_login(owner)
    page = client.get("/accounts/password_change/").content.decode()
    assert "revokes all your API keys" in page  # said before they confirm
    r = client.post("/accounts/password_change/", {
        "old_password": "correct horse battery", "new_password1": "new pass phrase 42", "new_password2": "new pass phrase 42",
    })
    assert r.status_code == 302
    assert laptop.get("/api/v1/photos/").status_code == 401 and server.get("/api/v1/photos/").status_code == 401
    assert elsewhere.get("/galleries/").status_code == 302  # signed out: back to the login page
    assert client.get("/galleries/").status_code == 200  # the session that changed it stays
    assert still_works(strangers)


def test_resetting_the_password_revokes_every_key_and_session(client, owner, stranger):
    laptop, server, elsewhere, strangers = keys_and_sessions(owner, stranger)
    client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    r = client.get(link, follow=True)
    assert "revokes all your API keys" in r.content.decode()
    client.post(r.redirect_chain[-1][0], {"new_password1": "brand new phrase 7", "new_password2": "brand new phrase 7"})
    owner.refresh_from_db()
    assert owner.check_password("brand new phrase 7")
    assert laptop.get("/api/v1/photos/").status_code == 401 and server.get("/api/v1/photos/").status_code == 401
    assert elsewhere.get("/galleries/").status_code == 302
    assert still_works(strangers)


def test_a_login_that_upgrades_the_password_hash_keeps_the_keys(client, owner, settings):
    from tests.api_support import client_for

    laptop = client_for(owner, "laptop")
    # A stronger hasher first in the list: the next login re-hashes the same password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    assert client.login(username="alice", password="correct horse battery")
    owner.refresh_from_db()
    assert owner.password.startswith("pbkdf2_")
    assert still_works(laptop)


def test_the_login_page_calls_the_site_by_its_name_not_its_host(client, db, settings):
    html = client.get("/accounts/login/", HTTP_HOST="127.0.0.1:8000").content.decode()
    title = html.split("<title>")[1].split("</title>")[0]
    assert settings.SITE_NAME in title and "127.0.0.1" not in title
    assert "127.0.0.1:8000" not in html
