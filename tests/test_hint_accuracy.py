"""A hinted point takes its colour, and the colour spreads over the object: a check of the trained
model, so it runs only when the configured model (COLORIZER_MODEL, else the shipped one) takes
hints, and is skipped otherwise. The plumbing is tested with a tiny model in test_api_hints.py."""
import numpy as np
import pytest
from django.conf import settings
from PIL import Image
from scipy.ndimage import uniform_filter
from skimage import data

from mlcore.color import rgb_to_lab
from mlcore.hint_points import hex_to_ab, hint_points
from mlcore.modelfile import takes_hints
from mlcore.paths import model_path

MODEL = model_path(getattr(settings, "COLORIZER_MODEL_PATH", None))
pytestmark = pytest.mark.skipif(not takes_hints(MODEL), reason=f"{MODEL} takes no colour hints")

WITHIN_AB = 20  # the bar: the result around each hint within 20 ab units of it


def flat_colourful_spots(rgb, count, window=15):
    """(y, x) of `count` spots where the true colour is saturated and even (an object's colour,
    not an edge), far apart."""
    ab = rgb_to_lab(rgb)[..., 1:]
    mean = np.stack([uniform_filter(ab[..., c], window) for c in range(2)], -1)
    spread = sum(uniform_filter(ab[..., c] ** 2, window) - mean[..., c] ** 2 for c in range(2))
    score = np.hypot(mean[..., 0], mean[..., 1]) - 3 * np.sqrt(np.maximum(spread, 0))
    h, w = score.shape
    margin = window * 2
    score[:margin], score[-margin:], score[:, :margin], score[:, -margin:] = -1e9, -1e9, -1e9, -1e9
    spots = []
    for _ in range(count):
        y, x = np.unravel_index(np.argmax(score), score.shape)
        spots.append((int(y), int(x)))
        score[max(0, y - h // 5):y + h // 5, max(0, x - w // 5):x + w // 5] = -1e9
    return spots, ab


def test_a_hinted_spot_takes_its_colour_and_the_object_follows():
    from mlcore.colorizer import Colorizer
    from mlcore.render import render

    rgb = data.astronaut()
    spots, true_ab = flat_colourful_spots(rgb, 3)
    h, w = true_ab.shape[:2]
    hints = []
    for y, x in spots:
        colour = rgb[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0).round().astype(int)
        hints.append({"x": (x + 0.5) / w, "y": (y + 0.5) / h, "color": "#%02x%02x%02x" % tuple(colour)})
    colorizer = Colorizer.load(MODEL, device="cpu")
    gray = Image.fromarray(rgb).convert("L")
    result = np.asarray(render(colorizer.predict(gray, hint_points(hints)), gray))
    ab = rgb_to_lab(result)[..., 1:]
    for (y, x), hint in zip(spots, hints):
        wanted = np.array(hex_to_ab(hint["color"]))
        around = ab[y - 4:y + 5, x - 4:x + 5].reshape(-1, 2).mean(0)
        assert np.linalg.norm(around - wanted) <= WITHIN_AB, (hint, around)
        # The object, not a dot: nearby pixels of that true colour take it too.
        box = (slice(max(0, y - 30), y + 31), slice(max(0, x - 30), x + 31))
        same_object = np.linalg.norm(true_ab[box] - wanted, axis=-1) <= 10
        followed = np.linalg.norm(ab[box] - wanted, axis=-1) <= WITHIN_AB
        assert followed[same_object].mean() >= 0.7, hint
