"""Fixtures and helpers shared by the tests/test_api_*.py modules. A test
module imports the fixtures it uses from here (pytest picks up fixtures
found in a module's namespace)."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from gallery.api.models import ApiToken
from gallery.models import Photo
from tests.conftest import image_bytes, run_worker


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counts live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def client_for(user, name="test key"):
    client = APIClient()
    if user is not None:
        _, key = ApiToken.create(user, name)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.key = key
    return client


@pytest.fixture
def api(owner):
    return client_for(owner)


@pytest.fixture
def stranger_api(stranger):
    return client_for(stranger)


def png(name="photo.png", size=(64, 48), mode="L", fmt="PNG"):
    return SimpleUploadedFile(name, image_bytes(fmt, size=size, mode=mode), content_type="image/png")


def upload(client, capture, image=None, **data):
    """POST /api/v1/photos/ with the job really enqueued (after the test's
    transaction 'commits')."""
    with capture(execute=True):
        return client.post("/api/v1/photos/", {"image": image or png(), **data}, format="multipart")


@pytest.fixture
def queued_photo(api, redis_conn, django_capture_on_commit_callbacks):
    r = upload(api, django_capture_on_commit_callbacks, png("Grandma 1931.png", size=(90, 70)))
    assert r.status_code == 202, r.content
    return Photo.objects.get(pk=r.json()["id"])


@pytest.fixture
def done_photo(queued_photo, tiny_model):
    run_worker()
    queued_photo.refresh_from_db()
    assert queued_photo.status == Photo.DONE, queued_photo.error
    return queued_photo


@pytest.fixture
def failed_photo(queued_photo):
    Photo.objects.filter(pk=queued_photo.pk).update(
        status=Photo.FAILED, error="Colorizing failed: the test said so.", attempts=1
    )
    queued_photo.refresh_from_db()
    return queued_photo
