"""Point hints: drawn in training as Zhang et al. 2017 did, placed in use, read by the network."""
import numpy as np
import pytest
import torch
from django.core.management import call_command
from PIL import Image

from mlcore.hints import HINT_P, hint_map, simulate_hints
from mlcore.networks import AB_HINT_SCALE, build_model, hints_at
from tests.conftest import prepare_tiny_pool


def test_simulated_hint_counts_are_geometric_with_zero_included():
    rng = np.random.default_rng(0)
    ab = torch.zeros(4000, 2, 8, 8)
    masks = simulate_hints(ab, rng)[:, 2]
    with_none = (masks.flatten(1).sum(1) == 0).float().mean().item()
    assert abs(with_none - HINT_P) < 0.03  # P(0) = p for a geometric count that includes zero


def test_a_simulated_hint_is_the_mean_true_colour_of_its_patch():
    ab = torch.zeros(1, 2, 16, 16)
    ab[0, 0, :, :8], ab[0, 1, :, :8] = 40.0, -20.0  # the left half is one colour, the right gray
    hints = simulate_hints(ab, np.random.default_rng(1), counts=[30])
    mask = hints[0, 2] > 0
    left = mask.clone()
    left[:, 7:] = False  # cells whose patch can only cover the left half
    assert left.any()
    assert torch.allclose(hints[0, 0][left] * AB_HINT_SCALE, torch.tensor(40.0))
    assert torch.allclose(hints[0, 1][left] * AB_HINT_SCALE, torch.tensor(-20.0))


def test_a_persons_point_lands_where_they_tapped():
    hints = hint_map([(0.0, 0.0, 10, 20), (0.75, 0.5, -30, 5)], 8, 8)
    assert hints[0, 2, 0, 0] == 1 and hints[0, 0, 0, 0] * AB_HINT_SCALE == pytest.approx(10)
    assert hints[0, 2, 4, 6] == 1 and hints[0, 0, 4, 6] * AB_HINT_SCALE == pytest.approx(-30)
    assert hints[0, 2].sum() == 8  # two 2x2 patches


def test_pooled_hints_keep_the_hinted_colour_and_its_presence():
    hints = hint_map([(0.1, 0.1, 50, -10)], 16, 16)
    coarse = hints_at(hints, (2, 2))
    assert coarse[0, 2, 0, 0] == 1 and coarse[0, 2, 1, 1] == 0
    assert coarse[0, 0, 0, 0] * AB_HINT_SCALE == pytest.approx(50)


def test_no_hints_is_the_same_as_an_empty_hint_map_and_a_hint_changes_the_colours():
    model = build_model("lite0hint", 261, width=0.25, pretrained=False).eval()
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        plain = model(lightness)
        empty = model(lightness, torch.zeros(1, 3, 16, 16))
        hinted = model(lightness, hint_map([(0.5, 0.5, 60, 40)], 16, 16))
    assert torch.equal(plain, empty)
    assert not torch.allclose(plain, hinted)


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    """A tiny lite0hint trained for an epoch on generated photos, with degraded, normalised L."""
    root = tmp_path_factory.mktemp("hintdata")
    prepare_tiny_pool(root)
    out = root / "hint.pt"
    call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(out), "--arch", "lite0hint",
                 "--size", "32", "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--precision", "fp32",
                 "--degrade", "0.75", "--normalise", "--no-progress", verbosity=0)
    return root, out


def test_a_hint_model_colours_with_and_without_hints(hint_model):
    from mlcore.colorizer import Colorizer
    _, path = hint_model
    colorizer = Colorizer.load(path, device="cpu")
    assert colorizer.takes_hints and colorizer.normalises_lightness
    photo = Image.new("L", (40, 30), 100)
    plain = colorizer.predict(photo)
    hinted = colorizer.predict(photo, [(0.5, 0.5, 60.0, 40.0)])
    assert plain.log_probs.shape == hinted.log_probs.shape
    assert not np.array_equal(plain.log_probs, hinted.log_probs)
    assert np.array_equal(colorizer.predict(photo, []).log_probs, plain.log_probs)


def test_degraded_arrays_are_cached_apart_from_clean_ones(hint_model):
    root, _ = hint_model
    names = sorted(p.name for p in (root / "pool" / "cache").iterdir())
    assert names and all(n.endswith("_deg0.75_norm") for n in names)


def test_a_model_without_hints_refuses_them(tiny_model_path):
    from mlcore.colorizer import Colorizer
    colorizer = Colorizer.load(tiny_model_path, device="cpu")
    with pytest.raises(ValueError):
        colorizer.predict(Image.new("L", (20, 20), 50), [(0.5, 0.5, 10.0, 10.0)])
