"""Quantization of the ab plane into in-gamut bins and soft-encoding (paper, Sec. 2.1).

The ab plane is cut into cells of GRID_SIZE x GRID_SIZE centred on multiples of 10. A cell is
kept when some displayable 8-bit sRGB colour falls in it: we convert a lattice of sRGB colours
(every third level of each channel, plus 255; every level gives the same set) to Lab and keep
the cells they land in. That gives Q = 261 (tests/test_mlcore_quantize.py pins it). The paper
reports Q = 313 for its set, which it derived empirically and did not specify exactly; ours is
the smallest set such that every sRGB colour's nearest grid centre is a bin. The centres are
stored in every checkpoint, so a model never depends on recomputing them.
"""
import functools

import numpy as np

from .color import rgb_to_lab

GRID_SIZE = 10          # paper: "grid size 10"
SOFT_NEIGHBOURS = 5     # paper: 5 nearest neighbours ...
SOFT_SIGMA = 5.0        # ... weighted by a Gaussian with sigma 5
AB_SCALE = 100.0  # the L2 model predicts ab / AB_SCALE, which keeps its outputs near unit scale


def output_channels(loss, num_bins):
    """A network's outputs per pixel: a score per bin, or ab itself for the L2 (regression) loss."""
    return 2 if loss == "l2" else num_bins


@functools.lru_cache(maxsize=1)
def ab_bin_centres():
    """(Q, 2) float32 centres of the in-gamut ab bins, sorted by a then b."""
    levels = np.unique(np.r_[np.arange(0, 256, 3), 255]).astype(np.uint8)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    lab = rgb_to_lab(np.stack([r, g, b], axis=-1).reshape(-1, 3))
    cells = np.unique(np.round(lab[:, 1:] / GRID_SIZE).astype(np.int64), axis=0)
    return (cells * GRID_SIZE).astype(np.float32)


def nearest_bins(ab, centres=None, k=1):
    """Indices (..., k) of the k nearest bin centres and their squared distances (..., k)."""
    centres = ab_bin_centres() if centres is None else centres
    flat = ab.reshape(-1, 2).astype(np.float32)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, computed in chunks to bound memory.
    out_idx = np.empty((flat.shape[0], k), dtype=np.int64)
    out_d2 = np.empty((flat.shape[0], k), dtype=np.float32)
    c2 = (centres ** 2).sum(1)
    for start in range(0, flat.shape[0], 65536):
        x = flat[start:start + 65536]
        d2 = (x ** 2).sum(1, keepdims=True) - 2.0 * x @ centres.T + c2
        np.maximum(d2, 0.0, out=d2)
        if k == 1:
            idx = d2.argmin(1)[:, None]
        else:
            idx = np.argpartition(d2, k, axis=1)[:, :k]
            order = np.take_along_axis(d2, idx, 1).argsort(1)
            idx = np.take_along_axis(idx, order, 1)
        out_idx[start:start + len(x)] = idx
        out_d2[start:start + len(x)] = np.take_along_axis(d2, idx, 1)
    shape = ab.shape[:-1] + (k,)
    return out_idx.reshape(shape), out_d2.reshape(shape)


def soft_encode(ab, k=SOFT_NEIGHBOURS, sigma=SOFT_SIGMA, centres=None):
    """Soft targets for ab values (..., 2): bin indices (..., k), nearest first, and weights
    (..., k) from a Gaussian of the distance to each centre, summing to 1."""
    idx, d2 = nearest_bins(ab, centres, k)
    w = np.exp(-d2 / (2.0 * sigma ** 2))
    w /= w.sum(-1, keepdims=True)
    return idx, w.astype(np.float32)
