"""Colours worth suggesting at one point of a photo, read from its stored prediction.

A Prediction keeps, per low-resolution cell, the model's TOP_K most likely ab bins and their
log-probabilities (mlcore/render.py). At a tapped point the most likely of them are the
colours the model hesitated between: each is shown at the photo's own lightness there (the
colour a hint of it would give, since the result keeps the photo's L). Bins that render to
nearly the same colour (neighbours in ab, or squeezed together by the sRGB gamut at a very
dark or light point) are merged, their probabilities added. numpy only: web processes call
it, and no network runs.
"""
import math

import numpy as np

from .color import lab_to_rgb, rgb_to_lab
from .render import lightness

MIN_SUGGESTIONS = 3
MAX_SUGGESTIONS = 8
# Swatches closer than this (CIE76 delta E of the rendered sRGB) look the same side by side.
MERGE_DELTA_E = 6.0
# Near black or white every bin renders alike; swatches are then shown at a lightness where
# they can be told apart, still in the order and with the probabilities of that point.
READABLE_L = (25.0, 85.0)


def cell_of(x, y, height, width):
    """The (row, column) of the low-resolution cell under fractions x, y from the top-left."""
    return min(height - 1, int(y * height)), min(width - 1, int(x * width))


def lightness_at(img, x, y, height, width):
    """Mean L (0..100) of the photo `img` (PIL, any size) over the low-resolution cell under
    x, y: the lightness a colour placed there would be shown at."""
    row, col = cell_of(x, y, height, width)
    box = (int(col * img.width / width), int(row * img.height / height),
           max(int(col * img.width / width) + 1, int((col + 1) * img.width / width)),
           max(int(row * img.height / height) + 1, int((row + 1) * img.height / height)))
    return float(lightness(np.asarray(img.crop(box).convert("RGB"))).mean())


def _swatches(ab, p, lightness_value, merge_delta_e):
    lab = np.concatenate([np.full((len(ab), 1), lightness_value, np.float32), ab], 1)
    rgb = lab_to_rgb(lab[None])[0]
    shown = rgb_to_lab(rgb[None])[0]
    kept = []  # [rgb, lab as shown, p], most likely first
    for colour, seen, prob in zip(rgb, shown, p):
        near = next((k for k in kept if np.linalg.norm(k[1] - seen) < merge_delta_e), None)
        if near is None:
            kept.append([colour, seen, float(prob)])
        else:
            near[2] += float(prob)
    kept.sort(key=lambda k: -k[2])
    return kept


def suggest(prediction, x, y, lightness_value):
    """[{"color": "#rrggbb", "p": probability}, ...] at fractions x, y, most likely first; the
    p values are the model's probabilities, rounded down (they sum to at most 1: what the stored
    bins hold).
    None for a model without a distribution (L2 regression)."""
    if prediction.log_probs is None:
        return None
    height, width = prediction.indices.shape[:2]
    row, col = cell_of(x, y, height, width)
    p = np.exp(prediction.log_probs[row, col].astype(np.float64))
    order = np.argsort(-p)
    ab = prediction.centres[prediction.indices[row, col][order].astype(np.int64)].astype(np.float32)
    p = p[order]
    kept = _swatches(ab, p, lightness_value, MERGE_DELTA_E)
    if len(kept) < MIN_SUGGESTIONS:
        kept = _swatches(ab, p, float(np.clip(lightness_value, *READABLE_L)), MERGE_DELTA_E)
    if len(kept) < MIN_SUGGESTIONS:
        kept = _swatches(ab, p, float(np.clip(lightness_value, *READABLE_L)), 0.5)
    return [{"color": "#{:02x}{:02x}{:02x}".format(*map(int, colour)), "p": math.floor(prob * 1e4) / 1e4}
            for colour, _, prob in kept[:MAX_SUGGESTIONS]]
