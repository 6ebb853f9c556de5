"""Class rebalancing (paper, Sec. 2.2, Eq. 3-4).

w ∝ ((1 - λ) p̃ + λ / Q)^-1 with p̃ the empirical ab-bin distribution of the training set
smoothed by a Gaussian (σ = 5) in the ab plane, normalised so that E_p̃[w] = 1.
"""
import numpy as np

REBALANCE_LAMBDA = 0.5  # paper: λ = 1/2 mixes the smoothed distribution with uniform
SMOOTHING_SIGMA = 5.0   # paper: σ = 5


class BinCounter:
    """Accumulates how often each bin is the nearest one over a stream of images."""

    def __init__(self, num_bins):
        self.counts = np.zeros(num_bins, dtype=np.float64)

    def add(self, nearest_bin_indices):
        self.counts += np.bincount(np.asarray(nearest_bin_indices).ravel(), minlength=len(self.counts))

    def distribution(self):
        total = self.counts.sum()
        if total == 0:
            raise ValueError("no pixels counted")
        return self.counts / total


def smooth_distribution(p, centres, sigma=SMOOTHING_SIGMA):
    """Gaussian smoothing of a distribution over bins, in the ab plane (kernel renormalised per bin)."""
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2.0 * sigma ** 2))
    kernel /= kernel.sum(1, keepdims=True)
    smoothed = kernel.T @ p  # each bin spreads its mass to its neighbours
    return smoothed / smoothed.sum()


def rebalance_weights(p, centres, lam=REBALANCE_LAMBDA, sigma=SMOOTHING_SIGMA):
    """Per-bin loss weights from an empirical distribution p over the bins."""
    smoothed = smooth_distribution(np.asarray(p, dtype=np.float64), centres, sigma)
    w = 1.0 / ((1.0 - lam) * smoothed + lam / len(p))
    w /= (smoothed * w).sum()
    return w.astype(np.float32), smoothed.astype(np.float32)
