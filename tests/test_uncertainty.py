"""The uncertainty map: per-pixel entropy of the stored colour distribution,
at the photo's size, from the API as a gray PNG and on the photo page as an
overlay the person turns on."""

import io

import numpy as np
import pytest
from PIL import Image

from gallery.models import Photo
from mlcore.render import Prediction
from mlcore.uncertainty import entropy, uncertainty_image
from tests.api_support import client_for, fresh_throttles  # noqa: F401
from tests.conftest import run_worker
from tests.test_jobs import new_photo

K = 16


def test_entropy_is_zero_when_sure_and_one_when_every_kept_bin_is_as_likely():
    sure = np.full((1, 1, K), -30.0)
    sure[..., 0] = 0.0
    even = np.full((1, 1, K), np.log(1 / K))
    assert entropy(sure)[0, 0] < 0.01
    assert 0.95 < entropy(even)[0, 0] <= 1.0


def test_probability_outside_the_kept_bins_counts_as_uncertainty():
    kept_half = np.full((1, 1, K), -30.0)
    kept_half[..., 0] = np.log(0.5)
    assert entropy(kept_half)[0, 0] > 0.2


def test_the_map_is_at_the_photos_size_and_none_for_a_regression_model():
    log_probs = np.log(np.random.default_rng(0).dirichlet(np.ones(K), size=(8, 10))).astype(np.float16)
    prediction = Prediction(indices=np.zeros((8, 10, K), np.uint16), log_probs=log_probs)
    image = uncertainty_image(prediction, 333, 250)
    assert image.mode == "L" and image.size == (333, 250)
    assert uncertainty_image(Prediction(ab=np.zeros((8, 10, 2), np.float16)), 333, 250) is None


@pytest.fixture
def done_photo(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner, "Harbour.png", size=(90, 70))
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    return photo


def test_the_api_gives_the_map_as_a_gray_png_at_the_photos_size(done_photo, owner, stranger):
    r = client_for(owner).get(f"/api/v1/photos/{done_photo.pk}/uncertainty/")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert image.mode == "L" and image.size == (90, 70)
    assert np.asarray(image).max() > 0  # a random tiny model is unsure somewhere
    assert client_for(stranger).get(f"/api/v1/photos/{done_photo.pk}/uncertainty/").status_code == 404


def test_the_api_answers_409_before_the_photo_is_colorized(owner, redis_conn):
    photo = new_photo(owner)
    r = client_for(owner).get(f"/api/v1/photos/{photo.pk}/uncertainty/")
    assert r.status_code == 409 and r.json()["detail"]


def test_the_photo_page_offers_the_overlay_to_its_owner_only(client, done_photo, owner, stranger):
    client.force_login(owner)
    html = client.get(f"/photos/{done_photo.pk}/").content.decode()
    assert 'id="show-uncertainty"' in html and f"/photos/{done_photo.pk}/uncertainty.png" in html
    overlay = Image.open(io.BytesIO(client.get(f"/photos/{done_photo.pk}/uncertainty.png").content))
    assert overlay.mode == "RGBA" and overlay.size == (90, 70)
    client.force_login(stranger)
    assert client.get(f"/photos/{done_photo.pk}/uncertainty.png").status_code == 404


def test_the_overlay_lights_up_only_the_least_sure_places_of_each_photo():
    from mlcore.uncertainty import GUIDE_PEAK, GUIDE_SHARE, overlay_image

    # Unsure almost everywhere (as real photos are, in absolute terms), a little more in places.
    values = np.concatenate([np.full(9000, 150), np.linspace(160, 250, 1000)]).astype(np.uint8)
    gray = Image.fromarray(values.reshape(100, 100), "L")
    alpha = np.asarray(overlay_image(gray).getchannel("A"))
    lit = (alpha > 0).mean()
    assert 0 < lit <= GUIDE_SHARE  # not orange all over: the 150s stay clear
    assert (alpha == alpha.max()).mean() >= GUIDE_PEAK / 2 and alpha.max() > 200
    # A photo the model is sure of everywhere gets no overlay at all.
    sure = Image.fromarray(np.linspace(0, 30, 10000).astype(np.uint8).reshape(100, 100), "L")
    assert np.asarray(overlay_image(sure).getchannel("A")).max() == 0
