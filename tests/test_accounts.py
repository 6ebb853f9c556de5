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


def test_signup_rejects_a_taken_email_and_mismatched_passwords(client, owner):
    r = client.post("/accounts/signup/", {
        "username": "bob", "email": "alice@example.com", "password1": "a long pass phrase", "password2": "other",
    })
    assert r.status_code == 200
    assert b"already exists" in r.content
    assert not User.objects.filter(username="bob").exists()


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
