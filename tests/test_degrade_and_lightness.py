"""Old-print damage for training, and the tone normalisation the network sees in use."""
import numpy as np
from skimage import data

from mlcore.color import rgb_to_lab
from mlcore.lightness import normalise_lightness
from mlcore.training.degrade import degrade


def _lightness():
    return rgb_to_lab(data.astronaut()[::4, ::4])[..., 0].astype(np.float32)


def test_degrade_is_seeded_stays_in_range_and_changes_the_photo():
    L = _lightness()
    a, b = degrade(L, np.random.default_rng(3)), degrade(L, np.random.default_rng(3))
    assert np.array_equal(a, b)
    changed = [np.abs(degrade(L, np.random.default_rng(s)) - L).mean() for s in range(12)]
    assert all(0 <= d.min() and d.max() <= 100 for d in (a, b))
    assert np.mean(changed) > 1.0  # most chains visibly damage the print


def test_every_chain_of_damage_runs(tmp_path):
    # 200 seeds reach every branch, including dust on a rescaled or JPEG-decoded print.
    L = _lightness()[:48, :48]
    for seed in range(200):
        out = degrade(L, np.random.default_rng(seed))
        assert out.shape == L.shape and np.isfinite(out).all()


def test_degrade_leaves_its_input_alone():
    L = _lightness()
    before = L.copy()
    degrade(L, np.random.default_rng(0))
    assert np.array_equal(L, before)


def test_a_faded_print_and_the_crisp_one_look_alike_after_normalisation():
    L = _lightness()
    faded = 25.0 + L * 0.45  # gray blacks, dull whites
    gap_before = np.abs(faded - L).mean()
    gap_after = np.abs(normalise_lightness(faded) - normalise_lightness(L)).mean()
    assert gap_after < gap_before / 4


def test_normalisation_never_compresses_a_full_range_photo_nor_blows_up_a_flat_one():
    full = np.linspace(0, 100, 10000, dtype=np.float32).reshape(100, 100)
    assert np.allclose(normalise_lightness(full), full, atol=2.5)
    flat = np.full((50, 50), 60.0, dtype=np.float32) + np.random.default_rng(0).normal(0, 0.5, (50, 50))
    out = normalise_lightness(flat)
    assert out.std() <= flat.std() * 2.5 + 1e-3 and out.dtype == np.float32
