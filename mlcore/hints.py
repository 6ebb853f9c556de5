"""Point hints: a person's "this spot is this colour", as the network reads it.

A hint map is (N, 3, h, w) on the network's output grid (networks.HINT_CHANNELS): a and b divided
by AB_HINT_SCALE where a hint lies, and a mask that is 1 there. Training draws hints from the true
photo as Zhang et al. (SIGGRAPH 2017) did: a geometric number of points per photo (p = 1/8, zero
included), each the mean true ab of a small square patch, at places spread over the photo.
The product places a person's points the same way (`hint_map`).
"""
import numpy as np
import torch

from .networks import AB_HINT_SCALE, HINT_CHANNELS

HINT_P = 1 / 8
PATCH_SIDES_FULL = 9    # patches of 1-9 px at full (network input) resolution
OUTPUT_STRIDE = 4       # the hint map is at 1/4 of the network's input
PRODUCT_PATCH = 2       # a person's point covers 2x2 cells of the grid (8x8 px of the network's input)


def simulate_hints(ab, rng, counts=None):
    """Hints drawn from true ab (N, 2, h, w) in ab units; returns (N, 3, h, w) float32.
    `counts` fixes the number of points per photo (the hint curve); by default geometric."""
    n, _, h, w = ab.shape
    hints = torch.zeros((n, HINT_CHANNELS, h, w), dtype=torch.float32)
    if counts is None:
        counts = rng.geometric(HINT_P, size=n) - 1
    for i, count in enumerate(counts):
        for _ in range(int(count)):
            side = int(np.ceil(rng.integers(1, PATCH_SIDES_FULL + 1) / OUTPUT_STRIDE))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            mean = ab[i, :, y:y + side, x:x + side].float().mean(dim=(1, 2))
            hints[i, :2, y:y + side, x:x + side] = (mean / AB_HINT_SCALE)[:, None, None]
            hints[i, 2, y:y + side, x:x + side] = 1.0
    return hints


def hint_map(points, height, width):
    """A (1, 3, height, width) hint map from a person's points: (x, y, a, b) with x and y fractions
    of the photo's width and height from the top-left (the network sees the whole photo squeezed
    to its square, so fractions carry over)."""
    hints = torch.zeros((1, HINT_CHANNELS, height, width), dtype=torch.float32)
    for x, y, a, b in points:
        cx = min(width - PRODUCT_PATCH, max(0, int(round(x * width - PRODUCT_PATCH / 2))))
        cy = min(height - PRODUCT_PATCH, max(0, int(round(y * height - PRODUCT_PATCH / 2))))
        hints[0, 0, cy:cy + PRODUCT_PATCH, cx:cx + PRODUCT_PATCH] = a / AB_HINT_SCALE
        hints[0, 1, cy:cy + PRODUCT_PATCH, cx:cx + PRODUCT_PATCH] = b / AB_HINT_SCALE
        hints[0, 2, cy:cy + PRODUCT_PATCH, cx:cx + PRODUCT_PATCH] = 1.0
    return hints

