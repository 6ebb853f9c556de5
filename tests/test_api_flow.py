"""The whole flow a developer codes against, over real HTTP to the live
server, with a real RQ worker (burst mode) on the test Redis: upload, poll
until done, download, compare with the input, re-render, delete."""

import io

import pytest
import requests
from django.core.files.storage import default_storage
from PIL import Image

from gallery.api.models import ApiToken
from gallery.models import Photo
from tests.api_support import fresh_throttles  # noqa: F401
from tests.conftest import run_worker

POLL_LIMIT = 50


@pytest.fixture
def http(live_server, transactional_db, redis_conn, tiny_model, owner):
    _, key = ApiToken.create(owner, "flow test")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    session.base = live_server.url + "/api/v1/"
    return session


def test_upload_poll_download_rerender_delete(http):
    original = io.BytesIO()
    Image.linear_gradient("L").resize((150, 100)).convert("RGB").save(original, "JPEG", quality=90)

    r = http.post(http.base + "photos/", files={"image": ("family 1948.jpg", original.getvalue(), "image/jpeg")})
    assert r.status_code == 202, r.text
    photo = r.json()
    assert photo["status"] == "queued"
    assert r.headers["Location"] == http.base + f"photos/{photo['id']}/"
    assert int(r.headers["X-Quota-Remaining"]) == int(r.headers["X-Quota-Limit"]) - 1

    # Poll as a client would; a burst worker runs between polls.
    for _ in range(POLL_LIMIT):
        photo = http.get(r.headers["Location"]).json()
        if photo["status"] not in ("queued", "running"):
            break
        assert http.get(http.base + f"photos/{photo['id']}/result/").status_code == 409
        run_worker()
    assert photo["status"] == "done", photo["error"]
    assert photo["model_version"] and photo["finished_at"] and photo["error"] is None

    result = http.get(photo["result_url"])
    assert result.status_code == 200 and result.headers["Content-Type"] == "image/png"
    assert result.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.size == (photo["width"], photo["height"]) == (150, 100)  # full resolution
        assert image.mode == "RGB"
    got = http.get(photo["original_url"])
    assert got.content == original.getvalue()

    r = http.post(http.base + f"photos/{photo['id']}/rerender/", json={"vividness": 75, "temperature": 0.8})
    assert r.status_code == 202 and r.json()["rendering"] is True
    # The re-render is a job on the light queue: poll until it is done.
    for _ in range(POLL_LIMIT):
        photo = http.get(http.base + f"photos/{photo['id']}/").json()
        if not photo["rendering"]:
            break
        run_worker()
    assert (photo["vividness"], photo["temperature"]) == (75, 0.8)
    rerendered = http.get(photo["result_url"])
    with Image.open(io.BytesIO(rerendered.content)) as image:
        assert image.size == (150, 100)
    assert Photo.objects.get(pk=photo["id"]).render_count == 2

    folder = Photo.objects.get(pk=photo["id"]).folder
    assert http.delete(http.base + f"photos/{photo['id']}/").status_code == 204
    assert http.get(http.base + f"photos/{photo['id']}/").status_code == 404
    assert not Photo.objects.filter(pk=photo["id"]).exists()
    assert not default_storage.exists(folder)


def test_a_failed_job_is_reported_and_retried(http, monkeypatch):
    from mlcore.colorizer import Colorizer

    r = http.post(http.base + "photos/", files={"image": ("p.png", _png(), "image/png")})
    photo_url = r.headers["Location"]

    real_predict = Colorizer.predict
    monkeypatch.setattr(Colorizer, "predict", lambda self, image: (_ for _ in ()).throw(MemoryError()))
    run_worker()
    photo = http.get(photo_url).json()
    assert photo["status"] == "failed"
    assert photo["error"] == "The photo is too large to colorize on this server."
    assert photo["result_url"] is None

    monkeypatch.setattr(Colorizer, "predict", real_predict)
    assert http.post(photo_url + "retry/").status_code == 202
    run_worker()
    assert http.get(photo_url).json()["status"] == "done"


def _png():
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((40, 30)).save(buf, "PNG")
    return buf.getvalue()
