"""The colour science of mlcore: conversion, quantization, rebalancing, decoding, models."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from skimage import color as skcolor
from skimage import data

from mlcore.color import gray_to_l, lab_to_rgb, rgb_to_l, rgb_to_lab
from mlcore.decode import annealed_mean
from mlcore.networks import build_model, count_parameters
from mlcore.quantize import ab_bin_centres, nearest_bins, soft_encode
from mlcore.render import annealed_mean_topk
from mlcore.training.losses import compute_loss, soft_cross_entropy
from mlcore.training.rebalance import rebalance_weights, smooth_distribution


def test_mlcore_imports_no_django_in_a_fresh_interpreter():
    code = ("import sys, mlcore.colorizer, mlcore.training.train, mlcore.training.dataset, mlcore.training.features;"
            "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lab_conversion_matches_scikit_image():
    rgb = data.astronaut()
    ours = rgb_to_lab(rgb)
    theirs = skcolor.rgb2lab(rgb)
    assert np.abs(ours - theirs).max() < 1e-3
    assert np.abs(rgb_to_l(rgb) - theirs[..., 0]).max() < 1e-3
    assert np.abs(lab_to_rgb(theirs) - 255 * skcolor.lab2rgb(theirs)).max() <= 0.5 + 1e-3
    assert np.abs(lab_to_rgb(ours).astype(int) - rgb).max() <= 1


def test_gray_lightness_equals_lightness_of_the_same_gray_rgb():
    gray = np.arange(256, dtype=np.uint8)
    assert np.allclose(gray_to_l(gray), rgb_to_l(np.stack([gray] * 3, -1)), atol=1e-3)


def test_quantization_has_261_in_gamut_bins_on_a_grid_of_10():
    centres = ab_bin_centres()
    assert centres.shape == (261, 2)
    assert np.all(centres % 10 == 0)
    assert len(np.unique(centres, axis=0)) == 261


def test_every_srgb_colour_falls_in_a_bin():
    rgb = np.random.default_rng(0).integers(0, 256, (20000, 3), dtype=np.uint8)
    ab = rgb_to_lab(rgb)[:, 1:]
    idx, d2 = nearest_bins(ab)
    # The nearest bin of any displayable colour is its own grid cell: at most 5*sqrt(2) away.
    assert np.sqrt(d2).max() <= 5 * np.sqrt(2) + 1e-3
    assert np.array_equal(ab_bin_centres()[idx[:, 0]], np.round(ab / 10) * 10)


def test_nearest_bin_of_a_centre_is_itself():
    centres = ab_bin_centres()
    idx, d2 = nearest_bins(centres + 1.0)
    assert np.array_equal(idx[:, 0], np.arange(len(centres)))


def test_soft_encoding_sums_to_one_and_favours_the_nearest_bins():
    ab = np.array([[3.0, -2.0], [41.0, 17.0]], dtype=np.float32)
    idx, w = soft_encode(ab, k=5, sigma=5.0)
    assert idx.shape == (2, 5)
    assert np.allclose(w.sum(-1), 1.0)
    assert np.all(np.diff(w, axis=-1) <= 1e-6)  # nearest first, weights non-increasing
    idx, w = soft_encode(ab, k=10)
    assert [len(set(row)) for row in idx.tolist()] == [10, 10] and (w > 0).all()


def test_rebalancing_has_expected_weight_one_and_rare_bins_weigh_more():
    centres = ab_bin_centres()
    rng = np.random.default_rng(0)
    p = rng.random(len(centres)) ** 4
    p[np.abs(centres).sum(1) < 15] += 50  # grays dominate, as in real photos
    p /= p.sum()
    w, smoothed = rebalance_weights(p, centres)
    assert np.isclose((smoothed * w).sum(), 1.0, atol=1e-5)
    common, rare = np.argmax(smoothed), np.argmin(smoothed)
    assert w[rare] > w[common]
    # With lambda = 1/2 the largest weight is bounded by 2Q (the mixture is at least 1/(2Q)).
    assert w.max() / w.min() < 2 * len(centres)


def test_smoothing_preserves_mass_and_spreads_it():
    centres = ab_bin_centres()
    p = np.zeros(len(centres))
    p[100] = 1.0
    s = smooth_distribution(p, centres)
    assert np.isclose(s.sum(), 1.0)
    assert s[100] < 1.0 and (s > 1e-3).sum() > 1


def test_annealed_mean_at_t1_is_the_mean_and_small_t_approaches_the_mode():
    centres = torch.from_numpy(ab_bin_centres())
    # Seeded: with unseeded logits the two best of a pixel were sometimes close enough that
    # T = 0.01 still mixed them, and the test failed about one run in two.
    logits = torch.randn(1, len(centres), 2, 3, generator=torch.Generator().manual_seed(0)) * 3
    probs = torch.softmax(logits, 1)
    mean = torch.einsum("nqhw,qc->nchw", probs, centres)
    assert torch.allclose(annealed_mean(logits, centres, 1.0), mean, atol=1e-4)
    mode = centres[logits.argmax(1)].permute(0, 3, 1, 2)
    assert torch.allclose(annealed_mean(logits, centres, 0.01), mode, atol=1e-2)


def test_top_k_decoding_agrees_with_full_decoding():
    centres = ab_bin_centres()
    logits = torch.randn(len(centres), 4, 4) * 4
    logits[7] += 6
    full = annealed_mean(logits[None], torch.from_numpy(centres), 0.38)[0].permute(1, 2, 0).numpy()
    log_probs = torch.log_softmax(logits, 0)
    top, idx = log_probs.topk(16, 0)
    approx = annealed_mean_topk(idx.permute(1, 2, 0).numpy(), top.permute(1, 2, 0).numpy(), centres, 0.38)
    assert np.abs(full - approx).max() < 1.0  # ab units; colours differ by under one Lab unit


def test_soft_cross_entropy_is_minimised_by_the_target_distribution():
    q = 6
    idx = torch.tensor([[[[1, 2]]]])
    w = torch.tensor([[[[0.75, 0.25]]]])
    target = torch.full((1, q, 1, 1), -30.0)
    target[0, 1], target[0, 2] = np.log(0.75), np.log(0.25)
    other = torch.zeros(1, q, 1, 1)
    assert soft_cross_entropy(target, idx, w) < soft_cross_entropy(other, idx, w)
    weighted = soft_cross_entropy(other, idx, w, pixel_weights=torch.full((1, 1, 1), 2.0))
    assert torch.isclose(weighted, 2 * soft_cross_entropy(other, idx, w))


def test_eccv16_full_width_is_the_papers_size_and_outputs_quarter_resolution():
    full = build_model("eccv16", 313, width=1.0)
    assert 30e6 < count_parameters(full) < 34e6
    small = build_model("eccv16", 261, width=0.125)
    assert small(torch.rand(1, 1, 64, 64) * 100).shape == (1, 261, 16, 16)


def test_lite0_model_outputs_quarter_resolution_and_freezes_its_encoder():
    model = build_model("lite0", 261, pretrained=False)
    assert model(torch.rand(2, 1, 64, 64) * 100).shape == (2, 261, 16, 16)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())


def test_lite1ctx_taps_the_same_strides_and_channels_as_lite0ctx_from_a_deeper_encoder():
    # One decoder serves both encoders: the taps must end each stride's stage, with Lite0's channels.
    lite0, lite1 = build_model("lite0ctx", 261, pretrained=False), build_model("lite1ctx", 261, pretrained=False)
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        shapes0 = [f.shape for f in lite0.encoder(lightness)]
        shapes1 = [f.shape for f in lite1.encoder(lightness)]
        assert lite1(lightness).shape == (1, 261, 16, 16)
    assert shapes1 == shapes0 == [(1, 24, 16, 16), (1, 40, 8, 8), (1, 112, 4, 4), (1, 320, 2, 2), (1, 1280, 1, 1)]
    assert len(lite1.encoder.blocks) == 21 > len(lite0.encoder.blocks) == 16
    assert count_parameters(lite1.decoder) == count_parameters(lite0.decoder)


def _generated_batch(n=8, size=32, seed=0):
    """Images whose colour follows their lightness: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    centres = ab_bin_centres()
    lightness = rng.uniform(20, 80, (n, 1, 1, 1)) * np.ones((1, 1, size, size))
    ab = np.zeros((n, size // 4, size // 4, 2), dtype=np.float32)
    ab[..., 0] = (lightness[:, 0, ::4, ::4] - 50) * 1.5
    ab[..., 1] = 40.0
    idx, w = soft_encode(ab)
    return {"L": torch.tensor(lightness, dtype=torch.float32), "ab": torch.from_numpy(ab).permute(0, 3, 1, 2),
            "idx": torch.from_numpy(idx), "w": torch.from_numpy(w)}, torch.ones(len(centres))


@pytest.mark.parametrize("loss", ["rebalanced", "classification", "l2"])
def test_a_tiny_model_learns_generated_images(loss):
    torch.manual_seed(0)
    batch, weights = _generated_batch()
    model = build_model("eccv16", 2 if loss == "l2" else 261, width=1 / 16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        value = compute_loss(loss, model(batch["L"]), batch, weights)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3])


def test_the_differentiable_lab_to_srgb_agrees_with_the_numpy_conversion():
    from mlcore.color import lab_to_rgb, rgb_to_lab
    from mlcore.training.semantic import lab_to_srgb

    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    lab = torch.from_numpy(rgb_to_lab(rgb)).permute(2, 0, 1)[None]
    got = lab_to_srgb(lab[:, :1], lab[:, 1:])[0].permute(1, 2, 0).numpy()
    assert np.abs(got * 255 - lab_to_rgb(rgb_to_lab(rgb))).max() <= 0.5 + 1e-2
    assert np.abs(got * 255 - rgb).max() < 0.6


def test_the_semantic_loss_is_zero_for_the_true_colours_and_has_gradients_otherwise():
    from mlcore.quantize import ab_bin_centres
    from mlcore.training.semantic import SemanticJudge, semantic_loss

    torch.manual_seed(0)
    judge = SemanticJudge()  # the real ImageNet weights (a random head answers every photo alike)
    centres = torch.from_numpy(ab_bin_centres()).float()
    lightness = torch.rand(2, 1, 32, 32) * 100
    target = torch.randint(0, len(centres), (2, 8, 8))
    sharp = torch.nn.functional.one_hot(target, len(centres)).permute(0, 3, 1, 2).float() * 100.0
    ab_true = centres[target].permute(0, 3, 1, 2)
    assert semantic_loss(judge, lightness, sharp, ab_true, centres).item() < 1e-4
    logits = torch.zeros(2, len(centres), 8, 8, requires_grad=True)
    loss = semantic_loss(judge, lightness, logits, ab_true, centres)
    loss.backward()
    assert loss.item() > 0 and logits.grad.abs().sum() > 0


def test_cached_features_are_the_encoders_own_to_float16_precision():
    # They come from a BatchNorm-folded copy of the encoder (faster); the decoder is trained on
    # them and then run behind the real encoder, so they must be the same features.
    from types import SimpleNamespace

    from mlcore.training.train import encoder_features

    torch.manual_seed(0)
    model = build_model("lite0ctx", 8).eval()
    arrays = SimpleNamespace(L=(torch.rand(5, 1, 64, 64) * 100).numpy())
    cached = encoder_features(model, arrays, 5, torch.device("cpu"), batch_size=2, show=False)
    with torch.no_grad():
        own = model.encoder(torch.from_numpy(arrays.L))
    assert [c.shape for c in cached] == [o.shape for o in own] and all(c.dtype == torch.float16 for c in cached)
    for c, o in zip(cached, own):
        assert torch.allclose(c.float(), o, rtol=2e-3, atol=2e-3)
    assert isinstance(model.encoder.stem[1], torch.nn.BatchNorm2d)  # the model itself is left unfolded


def test_an_interrupted_feature_cache_goes_on_where_it_stopped(tmp_path):
    from types import SimpleNamespace

    from mlcore.training.train import cached_encoder_features

    torch.manual_seed(0)
    model = build_model("lite0ctx", 8).eval()
    arrays = SimpleNamespace(L=(torch.rand(6, 1, 64, 64) * 100).numpy())
    whole = [np.array(f) for f in cached_encoder_features(model, arrays, 6, torch.device("cpu"), tmp_path / "a", False)]
    # The state a run killed after its flush of the first 4 photos leaves: no "done", a progress mark.
    part = tmp_path / "b"
    cached_encoder_features(model, arrays, 6, torch.device("cpu"), part, False)
    (part / "done").unlink()
    (part / "progress").write_text("4")
    for name in part.glob("f*.npy"):
        cache = np.load(name, mmap_mode="r+")
        cache[4:] = 0
        cache[0] = 7  # a mark: rows before the progress mark are kept, not computed again
        cache.flush()
    resumed = cached_encoder_features(model, arrays, 6, torch.device("cpu"), part, False)
    assert all(np.array_equal(w[1:], r[1:]) and (r[0] == 7).all() for w, r in zip(whole, resumed))
    assert (part / "done").exists() and not (part / "progress").exists()


def test_auto_precision_is_bf16_only_where_the_cpu_computes_it(tmp_path):
    from mlcore.training.train import cpu_has_bf16, resolve_precision
    avx2, bf16 = tmp_path / "avx2", tmp_path / "bf16"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse2 fma avx avx2\n")
    bf16.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert not cpu_has_bf16(str(avx2)) and cpu_has_bf16(str(bf16))
    assert not cpu_has_bf16(str(tmp_path / "missing"))
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_has_bf16() else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
