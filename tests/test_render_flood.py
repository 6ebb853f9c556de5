"""Renders that cannot be flooded: one job waits per photo, a rate per person, and a flood on one
photo costs another person's upload a job or two of waiting, not hundreds (issue 25, item 2)."""
import time

import pytest
from django.utils import timezone

from gallery.job import RENDER_QUEUE_NAME, QUEUE_NAME, get_queue
from gallery.models import Photo
from tests.api_support import api, client_for, fresh_throttles, png, queued_photo, upload  # noqa: F401
from tests.conftest import run_worker

FLOOD = 477  # what the probe sent in 62 s, which grew the render queue to 410


@pytest.fixture
def flooded_photo(queued_photo, tiny_hint_model):
    run_worker()
    queued_photo.refresh_from_db()
    assert queued_photo.status == Photo.DONE
    return queued_photo


def flood(client, photo, capture, count=FLOOD):
    """Re-renders and hint renders, one after the other as fast as the site answers."""
    codes = []
    for i in range(count):
        with capture(execute=True):
            if i % 3:
                r = client.post(f"/api/v1/photos/{photo.pk}/rerender/", {"vividness": i % 101}, format="json")
            else:
                r = client.put(f"/api/v1/photos/{photo.pk}/hints/",
                               {"hints": [{"x": (i % 10) / 10, "y": 0.5, "color": "#8a2be2"}]}, format="json")
        codes.append(r.status_code)
    return codes


def test_a_flood_on_one_photo_queues_one_job_and_another_persons_upload_waits_seconds(
    api, flooded_photo, stranger, redis_conn, settings, django_capture_on_commit_callbacks
):
    settings.RENDER_RATE = "100000/minute"  # the rate aside: what merging alone holds
    codes = flood(api, flooded_photo, django_capture_on_commit_callbacks)
    assert codes == [202] * FLOOD
    assert len(get_queue(RENDER_QUEUE_NAME)) + len(get_queue(QUEUE_NAME)) == 1

    other = client_for(stranger)
    r = upload(other, django_capture_on_commit_callbacks, png("Aunt Rose.png"))
    assert r.status_code == 202
    assert len(get_queue(RENDER_QUEUE_NAME)) + len(get_queue(QUEUE_NAME)) == 2

    started = timezone.now()
    t0 = time.monotonic()
    run_worker()
    took = time.monotonic() - t0
    theirs = Photo.objects.get(pk=r.json()["id"])
    assert theirs.status == Photo.DONE
    assert (theirs.finished_at - started).total_seconds() < 5
    assert took < 10  # two jobs: the flood's one render, and the upload

    # The flood's last request is the one rendered.
    flooded_photo.refresh_from_db()
    assert not flooded_photo.is_rendering and flooded_photo.render_count == 2
    assert flooded_photo.vividness == (FLOOD - 1) % 101
    last_hint = max(i for i in range(FLOOD) if i % 3 == 0)
    assert flooded_photo.hints == [{"x": (last_hint % 10) / 10, "y": 0.5, "color": "#8a2be2"}]
    assert flooded_photo.hints_used == 1


def test_a_flood_at_the_default_rate_is_mostly_refused(api, flooded_photo, redis_conn, settings,
                                                       django_capture_on_commit_callbacks):
    from django.conf import settings as configured

    allowed = int(configured.RENDER_RATE.split("/")[0])
    codes = flood(api, flooded_photo, django_capture_on_commit_callbacks, count=100)
    assert codes.count(202) == allowed and codes.count(429) == 100 - allowed
    assert len(get_queue(RENDER_QUEUE_NAME)) + len(get_queue(QUEUE_NAME)) == 1


def test_renders_of_many_photos_are_bounded_by_the_persons_rate(api, owner, tiny_hint_model, redis_conn, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.RENDER_RATE = "5/minute"
    photos = []
    for i in range(8):
        r = upload(api, django_capture_on_commit_callbacks, png(f"p{i}.png"))
        photos.append(r.json()["id"])
    run_worker()
    codes = []
    for pk in photos:
        with django_capture_on_commit_callbacks(execute=True):
            codes.append(api.post(f"/api/v1/photos/{pk}/rerender/", {"vividness": 90}, format="json").status_code)
    assert codes == [202] * 5 + [429] * 3
    assert len(get_queue(RENDER_QUEUE_NAME)) == 5
