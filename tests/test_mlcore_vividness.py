"""Vividness means more colour: with the shipped model, mean chroma rises with the
vividness control on real photos, and 50 is the model file's own decoding."""
import numpy as np
import pytest
from PIL import Image
from skimage import data

from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.paths import DEFAULT_MODEL_PATH
from mlcore.render import DEFAULT_VIVIDNESS, Prediction, render

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL_PATH.exists(), reason="the shipped model is not there")
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera"]
STEPS = [0, 10, 25, 40, 50, 60, 75, 90, 100]


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer.load(DEFAULT_MODEL_PATH, device="cpu")


def gray_photo(name):
    img = Image.fromarray(getattr(data, name)()).convert("L")
    img.thumbnail((320, 320))
    return img


def mean_chroma(image):
    lab = rgb_to_lab(np.asarray(image.convert("RGB")))
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


@pytest.mark.parametrize("name", PHOTOS)
def test_mean_chroma_rises_monotonically_with_vividness(colorizer, name):
    photo = gray_photo(name)
    # Through the stored form, as a re-render on the site decodes it.
    prediction = Prediction.from_bytes(colorizer.predict(photo).to_bytes())
    chroma = [mean_chroma(render(prediction, photo, vividness=v)) for v in STEPS]
    assert all(b > a for a, b in zip(chroma, chroma[1:])), dict(zip(STEPS, chroma))
    assert chroma[-1] > 1.5 * chroma[0]


def test_vividness_50_is_the_model_files_own_settings(colorizer):
    photo = gray_photo("chelsea")
    prediction = colorizer.predict(photo)
    # The defaults come from the model file, stored with the prediction.
    assert prediction.temperature == colorizer.default_temperature == \
        colorizer.info["meta"]["inference"]["temperature"]
    default = np.asarray(render(prediction, photo))
    assert np.array_equal(np.asarray(render(prediction, photo, vividness=DEFAULT_VIVIDNESS)), default)
    explicit = render(prediction, photo, vividness=50, temperature=colorizer.default_temperature)
    assert np.array_equal(np.asarray(explicit), default)
    assert np.array_equal(np.asarray(colorizer.colorize(photo)), default)
