"""How sure the model is of each pixel's colour: the entropy of the stored distribution.

A Prediction keeps, per low-resolution pixel, the TOP_K most likely ab bins and their
log-probabilities (mlcore/render.py). Their entropy, with the probability left outside the
kept bins counted as one more outcome, says how spread the model's belief is: near 0 where
it is sure (sky, skin), high where many colours are plausible (a car, a dress). It is
divided by log(K + 1), the entropy of K + 1 equal outcomes, so 0 is certain and 1 is as
unsure as the stored distribution can say. numpy and Pillow only: web processes call it.
"""
import numpy as np
from PIL import Image


def entropy(log_probs):
    """(h, w) float32 in [0, 1] from (h, w, k) log-probabilities of the k kept bins."""
    p = np.exp(log_probs.astype(np.float32))
    rest = np.clip(1.0 - p.sum(-1), 0.0, 1.0)
    terms = -(p * np.log(np.maximum(p, 1e-12))).sum(-1) - rest * np.log(np.maximum(rest, 1e-12))
    return np.clip(terms / np.log(log_probs.shape[-1] + 1), 0.0, 1.0)


def uncertainty_image(prediction, width, height):
    """An 8-bit gray image of width x height, 0 certain to 255 most uncertain, or None for a
    model that predicts one colour per pixel (L2 regression: no distribution to measure)."""
    if prediction.log_probs is None:
        return None
    small = Image.fromarray(np.round(entropy(prediction.log_probs) * 255).astype(np.uint8), "L")
    # Upsampled in 8 bits, as ab is for the result: a 40-megapixel photo needs 40 MB here.
    return small.resize((width, height), Image.Resampling.BILINEAR)


# The overlay's colour: a warm orange that reads over gray and colour photos alike.
OVERLAY_RGB = (255, 96, 0)
OVERLAY_MAX_ALPHA = 0.85
# The overlay is a guide to the few places worth checking, so it is scaled per photo, by rank:
# a pixel among the least sure GUIDE_PEAK of the photo shows at full strength, one beyond the
# least sure GUIDE_SHARE not at all, and in between it fades with its rank. (In absolute terms
# almost every pixel of a photo is unsure of something, and an unscaled overlay was orange all
# over, pointing nowhere; scaled by level instead of rank, the top of a photo's entropies is so
# crowded that the whole GUIDE_SHARE showed at nearly full strength, in wide blocks.)
GUIDE_SHARE = 0.12
GUIDE_PEAK = 0.02
# Below this entropy (of 255) nothing is worth pointing at, whatever the photo's spread.
GUIDE_FLOOR = 40


def guide_alpha(gray):
    """The overlay's strength (0..1) for each of the 8-bit map's 256 levels, from the share of
    the photo's pixels at that level or less sure."""
    histogram = np.bincount(np.asarray(gray, dtype=np.uint8).ravel(), minlength=256)
    at_or_above = np.cumsum(histogram[::-1])[::-1] / max(1, histogram.sum())
    alpha = np.clip((GUIDE_SHARE - at_or_above) / (GUIDE_SHARE - GUIDE_PEAK), 0.0, 1.0)
    alpha[:GUIDE_FLOOR] = 0.0
    return alpha


def overlay_image(gray):
    """The gray map as a heat overlay (RGBA), scaled per photo: clear where the model is
    about as sure as anywhere on the photo, orange at the few places it was least sure."""
    table = np.round(guide_alpha(gray) * 255 * OVERLAY_MAX_ALPHA).astype(np.uint8)
    overlay = Image.new("RGBA", gray.size, OVERLAY_RGB + (0,))
    overlay.putalpha(gray.point(table.tolist()))
    return overlay
