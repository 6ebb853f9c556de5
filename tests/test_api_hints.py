"""Colour hints through the API: suggestions at a point, PUT .../hints/, and the render it queues."""
import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from gallery.models import HINTS_UNSUPPORTED, Photo
from mlcore.color import rgb_to_lab
from mlcore.hint_points import MAX_HINTS, hex_to_ab
from mlcore.networks import AB_HINT_SCALE
from mlcore.render import Prediction
from tests.api_support import api, client_for, fresh_throttles, png, queued_photo, stranger_api, upload  # noqa: F401
from tests.conftest import run_worker

HINTS = [{"x": 0.25, "y": 0.5, "color": "#B03A2E"}, {"x": 0.8, "y": 0.2, "color": "#2e86c1"}]


@pytest.fixture
def hinted_photo(queued_photo, tiny_hint_model):
    """A photo colorized by a tiny model that takes hints."""
    run_worker()
    queued_photo.refresh_from_db()
    assert queued_photo.status == Photo.DONE, queued_photo.error
    return queued_photo


def put_hints(client, photo, hints, capture=None):
    if capture is None:
        return client.put(f"/api/v1/photos/{photo.pk}/hints/", {"hints": hints}, format="json")
    with capture(execute=True):
        return client.put(f"/api/v1/photos/{photo.pk}/hints/", {"hints": hints}, format="json")


def stored_prediction(photo):
    with default_storage.open(photo.prediction.name, "rb") as f:
        return Prediction.from_bytes(f.read())


# -- suggestions ----------------------------------------------------------------


def test_suggestions_are_the_likeliest_stored_colours_at_the_photos_lightness(api, hinted_photo):
    r = api.get(f"/api/v1/photos/{hinted_photo.pk}/suggestions/?x=0.42&y=0.31")
    assert r.status_code == 200, r.content
    body = r.json()
    assert list(body) == ["x", "y", "colors"] and (body["x"], body["y"]) == (0.42, 0.31)
    colors = body["colors"]
    assert len(colors) >= 3
    assert all(set(c) == {"color", "p"} and len(c["color"]) == 7 and c["color"][0] == "#" for c in colors)
    ps = [c["p"] for c in colors]
    assert ps == sorted(ps, reverse=True) and all(p > 0 for p in ps) and sum(ps) <= 1
    # The most likely colour holds at least the top stored bin's probability there (merging only adds).
    prediction = stored_prediction(hinted_photo)
    h, w = prediction.indices.shape[:2]
    top = float(np.exp(prediction.log_probs[int(0.31 * h), int(0.42 * w)].astype(np.float64)).max())
    assert ps[0] >= round(top, 4) - 1e-4
    # Each swatch is shown at the photo's own lightness there (the test photo is a left-to-right
    # gradient in L, which a hint keeps).
    with default_storage.open(hinted_photo.before.name, "rb") as f:
        before = np.asarray(Image.open(f).convert("RGB"))
    l_there = rgb_to_lab(before[int(0.31 * before.shape[0]), int(0.42 * before.shape[1])])[0]
    for c in colors:
        rgb = np.array([int(c["color"][i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
        assert abs(rgb_to_lab(rgb)[0] - l_there) < 8


def test_suggestions_are_distinct_colours(api, hinted_photo):
    colors = api.get(f"/api/v1/photos/{hinted_photo.pk}/suggestions/?x=0.9&y=0.9").json()["colors"]
    labs = [rgb_to_lab(np.array([int(c["color"][i:i + 2], 16) for i in (1, 3, 5)], np.uint8)) for c in colors]
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(labs) for b in labs[i + 1:]]
    assert min(gaps) >= 5  # near-identical bins were merged


@pytest.mark.parametrize("query, field", [("x=0.5", "y"), ("x=1.5&y=0.5", "x"), ("x=0.5&y=-0.1", "y"),
                                          ("x=abc&y=0.5", "x")])
def test_suggestions_need_x_and_y_from_0_to_1(api, hinted_photo, query, field):
    r = api.get(f"/api/v1/photos/{hinted_photo.pk}/suggestions/?{query}")
    assert r.status_code == 400 and field in r.json()


def test_suggestions_of_nan_are_refused(api, hinted_photo):
    assert api.get(f"/api/v1/photos/{hinted_photo.pk}/suggestions/?x=nan&y=0.5").status_code == 400


def test_suggestions_before_colorizing_are_a_409(api, queued_photo):
    r = api.get(f"/api/v1/photos/{queued_photo.pk}/suggestions/?x=0.5&y=0.5")
    assert r.status_code == 409 and "not colorized" in r.json()["detail"]


def test_another_persons_photo_is_a_404_on_both_endpoints(stranger_api, hinted_photo):
    assert stranger_api.get(f"/api/v1/photos/{hinted_photo.pk}/suggestions/?x=0.5&y=0.5").status_code == 404
    r = put_hints(stranger_api, hinted_photo, HINTS)
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    r = put_hints(stranger_api, hinted_photo, "not even a list")  # 404 before looking at the body
    assert r.status_code == 404
    hinted_photo.refresh_from_db()
    assert hinted_photo.hints == [] and not hinted_photo.is_rendering


# -- PUT hints ----------------------------------------------------------------


def test_hints_are_stored_and_the_photo_is_coloured_again_with_them(api, hinted_photo, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from mlcore.colorizer import Colorizer

    seen = []
    outputs = Colorizer.outputs_and_attention

    def spy(self, lightness, hints=None):
        seen.append(hints)
        return outputs(self, lightness, hints)

    monkeypatch.setattr(Colorizer, "outputs_and_attention", spy)
    old = stored_prediction(hinted_photo)
    r = put_hints(api, hinted_photo, HINTS, django_capture_on_commit_callbacks)
    assert r.status_code == 202, r.content
    body = r.json()
    stored = [{"x": 0.25, "y": 0.5, "color": "#b03a2e"}, {"x": 0.8, "y": 0.2, "color": "#2e86c1"}]
    assert body["hints"] == stored and body["rendering"] is True
    assert body["provenance"]["hints"] == 0  # the current result is still the one without
    run_worker()

    # The hint map reached the network: each point's ab, where it was put, with its mask.
    (hint_map,) = seen
    grid = hint_map.shape[-1]
    for hint in stored:
        row, col = int(hint["y"] * grid), int(hint["x"] * grid)
        assert hint_map[0, 2, row, col] == 1
        a, b = hex_to_ab(hint["color"])
        assert float(hint_map[0, 0, row, col]) * AB_HINT_SCALE == pytest.approx(a, abs=1e-3)
        assert float(hint_map[0, 1, row, col]) * AB_HINT_SCALE == pytest.approx(b, abs=1e-3)
    assert hint_map[0, 2].sum() == 8  # two points of 2x2 cells

    body = api.get(f"/api/v1/photos/{hinted_photo.pk}/").json()
    assert body["rendering"] is False and body["render_error"] is None
    assert body["hints"] == stored and body["provenance"]["hints"] == 2
    hinted_photo.refresh_from_db()
    assert hinted_photo.render_count == 2 and not hinted_photo.hints_pending
    assert not np.array_equal(stored_prediction(hinted_photo).log_probs, old.log_probs)  # a new prediction
    with default_storage.open(hinted_photo.result.name, "rb") as f:
        result = Image.open(f)
        assert result.info["colorsite:hints"] == "2"
        assert "guided by 2 colour hints" in result.info["Description"]
        assert 'colorsite:hints="2"' in result.info["XML:com.adobe.xmp"]
        assert "guided by 2 colour hints" in result.getexif()[0x010E]


def test_an_empty_list_clears_the_hints(api, hinted_photo, django_capture_on_commit_callbacks):
    automatic = stored_prediction(hinted_photo)
    put_hints(api, hinted_photo, HINTS, django_capture_on_commit_callbacks)
    run_worker()
    r = put_hints(api, hinted_photo, [], django_capture_on_commit_callbacks)
    assert r.status_code == 202 and r.json()["hints"] == []
    run_worker()
    body = api.get(f"/api/v1/photos/{hinted_photo.pk}/").json()
    assert body["hints"] == [] and body["provenance"]["hints"] == 0
    hinted_photo.refresh_from_db()
    # Without hints the network gives the automatic colours again.
    np.testing.assert_array_equal(stored_prediction(hinted_photo).indices, automatic.indices)


def test_hints_keep_the_vividness_and_a_rerender_keeps_the_hints(api, hinted_photo,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/photos/{hinted_photo.pk}/rerender/", {"vividness": 80}, format="json")
    put_hints(api, hinted_photo, HINTS, django_capture_on_commit_callbacks)
    run_worker()
    body = api.get(f"/api/v1/photos/{hinted_photo.pk}/").json()
    assert body["vividness"] == 80 and body["provenance"]["hints"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/photos/{hinted_photo.pk}/rerender/", {"vividness": 20}, format="json")
    run_worker()
    body = api.get(f"/api/v1/photos/{hinted_photo.pk}/").json()
    assert body["vividness"] == 20 and body["provenance"]["hints"] == 2 and len(body["hints"]) == 2


BAD = [
    ({}, None, "required"),
    ({"hints": "red"}, None, "list"),
    ({"hints": [{"x": 0.5, "y": 0.5, "color": "#000000"}] * (MAX_HINTS + 1)}, None, f"At most {MAX_HINTS}"),
    ({"hints": [{"x": 1.5, "y": 0.5, "color": "#000000"}]}, ("0", "x"), "from 0 to 1"),
    ({"hints": [{"x": 0.5, "y": -0.01, "color": "#000000"}]}, ("0", "y"), "from 0 to 1"),
    ({"hints": [{"x": 0.5, "y": True, "color": "#000000"}]}, ("0", "y"), "number"),
    ({"hints": [{"x": "0.5", "y": 0.5, "color": "#000000"}]}, ("0", "x"), "number"),
    ({"hints": [HINTS[0], {"x": 0.5, "y": 0.5, "color": "red"}]}, ("1", "color"), "#rrggbb"),
    ({"hints": [{"x": 0.5, "y": 0.5, "color": "#12345g"}]}, ("0", "color"), "#rrggbb"),
    ({"hints": [{"x": 0.5, "y": 0.5}]}, ("0", "color"), "#rrggbb"),
    ({"hints": ["#000000"]}, ("0", "non_field_errors"), "object"),
]


@pytest.mark.parametrize("data, where, message", BAD)
def test_bad_hints_are_a_400_with_field_errors(api, hinted_photo, data, where, message):
    r = api.put(f"/api/v1/photos/{hinted_photo.pk}/hints/", data, format="json")
    assert r.status_code == 400, r.content
    errors = r.json()
    assert list(errors) == ["hints"]
    errors = errors["hints"]
    if where is not None:
        index, field = where
        assert list(errors) == [index] and list(errors[index]) == [field]
        errors = errors[index][field]
    assert message in " ".join(errors)
    hinted_photo.refresh_from_db()
    assert hinted_photo.hints == [] and not hinted_photo.is_rendering


def test_a_model_that_cannot_take_hints_says_so(api, queued_photo, tiny_model, django_capture_on_commit_callbacks):
    run_worker()
    r = put_hints(api, queued_photo, HINTS, django_capture_on_commit_callbacks)
    assert r.status_code == 409 and r.json()["detail"] == HINTS_UNSUPPORTED
    assert "cannot take colour hints" in HINTS_UNSUPPORTED
    queued_photo.refresh_from_db()
    assert queued_photo.hints == [] and not queued_photo.is_rendering


def test_hints_before_colorizing_are_a_409(api, queued_photo, tiny_hint_model):
    r = put_hints(api, queued_photo, HINTS)
    assert r.status_code == 409 and "not colorized" in r.json()["detail"]


# -- one job per photo, and a rate per person --------------------------------------


def test_a_newer_request_replaces_the_pending_one(api, hinted_photo, redis_conn, settings,
                                                  django_capture_on_commit_callbacks):
    from gallery.job import get_queue

    settings.RENDER_RATE = "1000/minute"
    for i in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            api.post(f"/api/v1/photos/{hinted_photo.pk}/rerender/", {"vividness": 10 + i}, format="json")
    last = [{"x": 0.5, "y": 0.5, "color": "#00ff00"}]
    for hints in (HINTS, last):
        put_hints(api, hinted_photo, hints, django_capture_on_commit_callbacks)
    # One job waits, whatever was asked: the first request sent it, the others joined it.
    assert len(get_queue("render")) + len(get_queue("colorize")) == 1
    run_worker()
    body = api.get(f"/api/v1/photos/{hinted_photo.pk}/").json()
    assert body["vividness"] == 19 and body["hints"] == last and body["provenance"]["hints"] == 1
    hinted_photo.refresh_from_db()
    assert hinted_photo.render_count == 2 and not hinted_photo.render_job_waiting


def test_a_request_while_a_render_runs_sends_a_job_of_its_own(api, hinted_photo, redis_conn,
                                                            django_capture_on_commit_callbacks):
    from gallery.job import get_queue

    put_hints(api, hinted_photo, HINTS, django_capture_on_commit_callbacks)
    started = Photo.take_render(hinted_photo.pk)  # the job has started: it read HINTS
    put_hints(api, hinted_photo, [], django_capture_on_commit_callbacks)
    assert len(get_queue("colorize")) == 2  # the newer request could not join a job already running
    # The running job's result is for the older request: it is thrown away, not shown.
    from inference.jobs import get_colorizer
    assert started.render_requested(get_colorizer) == "discarded"
    run_worker()
    hinted_photo.refresh_from_db()
    assert hinted_photo.hints == [] and hinted_photo.hints_used == 0 and not hinted_photo.is_rendering


def test_renders_are_rate_limited_per_person(api, hinted_photo, settings, stranger):
    settings.RENDER_RATE = "3/minute"
    codes = [put_hints(api, hinted_photo, HINTS).status_code,
             api.post(f"/api/v1/photos/{hinted_photo.pk}/rerender/", {"vividness": 60}, format="json").status_code,
             put_hints(api, hinted_photo, []).status_code]
    assert codes == [202, 202, 202]
    r = api.post(f"/api/v1/photos/{hinted_photo.pk}/rerender/", {"vividness": 70}, format="json")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert put_hints(api, hinted_photo, HINTS).status_code == 429
    # Another person's budget is their own.
    other = client_for(stranger)
    assert other.post(f"/api/v1/photos/{hinted_photo.pk}/rerender/", {"vividness": 70}, format="json").status_code == 404
