"""The shipped model itself, on photos it never saw (scikit-image's samples)."""
import numpy as np
from PIL import Image
from skimage import data

from mlcore.color import rgb_to_lab
from mlcore.colorizer import DEFAULT_MODEL_PATH, Colorizer


def _colorized_lab(photo):
    colorizer = Colorizer.load(DEFAULT_MODEL_PATH, device="cpu")
    return rgb_to_lab(np.asarray(colorizer.colorize(Image.fromarray(photo).convert("L"))))


def test_the_default_model_is_small_and_records_its_inference_settings():
    assert DEFAULT_MODEL_PATH.stat().st_size < 10_000_000
    c = Colorizer.load(DEFAULT_MODEL_PATH, device="cpu")
    assert c.info["loss"] == "rebalanced" and c.size == 160
    assert 0 < c.default_temperature <= 1


def test_it_colours_a_sky_blue():
    lab = _colorized_lab(data.rocket())
    sky = lab[20:150, 100:180]
    assert sky[..., 2].mean() < -10  # b* well into blue


def test_it_colours_a_face_in_skin_tones():
    lab = _colorized_lab(data.astronaut())
    face = lab[100:180, 190:270]
    a, b = face[..., 1].mean(), face[..., 2].mean()
    assert 4 < a < 30 and 8 < b < 35  # warm: red-yellow, as skin is, not gray or green
