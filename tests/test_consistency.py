"""Edge-aware smoothing of the colour distribution: a region agrees, an edge stays an edge."""
import torch

from mlcore.consistency import smooth_log_probs


def _two_mode_noise(h=12, w=12, q=4, seed=0):
    """A coat of bin 0 with stains of bin 1 on three pixels in ten."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.rand(h, w, generator=g) < 0.7
    logits = torch.full((1, q, h, w), -4.0)
    logits[0, 0][pick] = 1.0
    logits[0, 1][~pick] = 0.8
    return logits


def test_smoothing_returns_log_probabilities():
    out = smooth_log_probs(torch.randn(2, 5, 6, 6), torch.rand(2, 1, 24, 24) * 100, 1, 5.0)
    assert torch.allclose(torch.logsumexp(out, 1), torch.zeros(2, 6, 6), atol=1e-5)


def test_a_region_of_even_lightness_agrees_on_one_colour():
    logits = _two_mode_noise()
    flat = torch.full((1, 1, 48, 48), 50.0)
    before = logits.argmax(1)
    after = smooth_log_probs(logits, flat, 2, 5.0).argmax(1)
    agreement = lambda picks: max((picks == b).float().mean().item() for b in (0, 1))
    assert agreement(after) > 0.95 > agreement(before)


def test_distributions_do_not_bleed_across_a_lightness_edge():
    logits = torch.full((1, 2, 8, 8), -4.0)
    logits[0, 0, :, :4] = 2.0   # left: bin 0
    logits[0, 1, :, 4:] = 2.0   # right: bin 1
    lightness = torch.zeros(1, 1, 32, 32)
    lightness[..., 16:] = 90.0  # the photo has an edge where the colours change
    smoothed = smooth_log_probs(logits, lightness, 2, 4.0).exp()
    assert smoothed[0, 0, :, 3].min() > 0.95 and smoothed[0, 1, :, 4].min() > 0.95


def test_an_unsure_pixel_falls_back_toward_its_mean_and_a_sure_one_keeps_its_colour():
    from mlcore.decode import annealed_mean, soften_where_unsure
    centres = torch.tensor([[60.0, 40.0], [-20.0, -50.0], [0.0, 0.0], [10.0, 10.0]])  # red, blue, gray, beige
    logits = torch.full((1, 4, 1, 2), -6.0)
    logits[0, 0, 0, 0] = 6.0                              # sure: red
    logits[0, 0, 0, 1] = logits[0, 1, 0, 1] = 0.0         # unsure: red or blue, nearly evenly
    logits[0, 0, 0, 1] = 0.4
    chroma = lambda scores: annealed_mean(scores, centres, 0.6).norm(dim=1)[0, 0]
    before, after = chroma(logits), chroma(soften_where_unsure(logits, 2.0))
    assert abs(after[0] - before[0]) < 0.5                 # the sure pixel stays red
    assert after[1] < 0.8 * before[1]                     # the unsure one is painted duller, not red
    same = soften_where_unsure(logits, 0.0)
    assert torch.allclose(same, torch.log_softmax(logits, 1), atol=1e-6)


def test_the_colorizer_paints_unsure_pixels_duller_when_its_fallback_is_on(tiny_model_path):
    from PIL import Image
    from mlcore.colorizer import Colorizer
    colorizer = Colorizer.load(tiny_model_path, device="cpu")
    photo = Image.radial_gradient("L").resize((40, 30))
    plain = colorizer.predict(photo).ab_at()
    colorizer.unsure_fallback = 3.0
    softened = colorizer.predict(photo).ab_at()
    assert not (plain == softened).all()
    assert (abs(softened).mean() < abs(plain).mean())
