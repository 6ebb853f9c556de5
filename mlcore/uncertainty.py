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


def overlay_image(gray):
    """The gray map as a heat overlay (RGBA): clear where the model is sure, orange where not."""
    overlay = Image.new("RGBA", gray.size, OVERLAY_RGB + (0,))
    overlay.putalpha(gray.point(lambda v: round(v * OVERLAY_MAX_ALPHA)))
    return overlay
