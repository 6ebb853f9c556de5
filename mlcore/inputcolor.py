"""Is an uploaded photo gray, a tinted monochrome (sepia, cyanotype, selenium
toning), or already in colour? The colorizer sees only lightness in every
case; people deserve to know when a colour photo loses its own colours, and
when a scan's tint is replaced.

A tint gives every pixel of one lightness the same colour: ab is a function of
L (a sepia print is browner in the mid-tones than in the highlights, but
always the same brown at the same lightness). A colour photo has different
colours at the same lightness (a green eye and an orange nose). So: fit ab
per lightness band and measure what is left. Measured on scikit-image's
sample photos re-saved as JPEG (quality 75): tinted versions of all of them
(sepia, cyan, split tones) leave 0.4 to 3.7 ab units; their colour originals
4.8 (a retina, all red-orange) to 52.
"""
import numpy as np
from PIL import Image

from .color import rgb_to_lab

GRAY, TINTED, COLOR = "gray", "tinted", "color"
# Judged on a copy this size: plenty for the statistics, a few ms.
ANALYSIS_SIZE = 256
# Mean chroma (ab units) under which a photo is gray for our purposes: scanner
# noise and JPEG artefacts of a gray photo stay well below it.
GRAY_CHROMA = 3.0
# RMS of ab around its per-lightness mean above which the colours are the
# photo's own, not a tint (see above: 3.7 tinted at most, 4.8 colour at least).
TINT_RESIDUAL = 4.3
LIGHTNESS_BANDS = 20


def classify(img):
    """GRAY, TINTED or COLOR for a PIL image of any mode."""
    if img.mode in ("L", "LA", "I", "I;16", "F", "1"):
        return GRAY
    small = img.convert("RGB")
    small.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BILINEAR)
    lab = rgb_to_lab(np.asarray(small)).reshape(-1, 3)
    lightness, ab = lab[:, 0], lab[:, 1:]
    if np.hypot(ab[:, 0], ab[:, 1]).mean() < GRAY_CHROMA:
        return GRAY
    bands = np.clip((lightness / 100 * LIGHTNESS_BANDS).astype(int), 0, LIGHTNESS_BANDS - 1)
    counts = np.bincount(bands, minlength=LIGHTNESS_BANDS)[:, None]
    sums = np.stack([np.bincount(bands, weights=ab[:, i], minlength=LIGHTNESS_BANDS) for i in (0, 1)], 1)
    fitted = (sums / np.maximum(counts, 1))[bands]
    residual = np.sqrt(((ab - fitted) ** 2).sum(1).mean())
    return COLOR if residual > TINT_RESIDUAL else TINTED
