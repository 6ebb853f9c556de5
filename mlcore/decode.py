"""From per-pixel bin distributions to ab values (paper, Sec. 2.3, Eq. 5)."""
import numpy as np
import torch

ANNEALED_T = 0.38  # paper: "T = 0.38 ... captures the vibrancy of the mode while maintaining the spatial coherence of the mean"


def annealed_mean(logits, centres, temperature=ANNEALED_T, dim=1):
    """Expectation of the bin centres under softmax(logits / T).

    logits: tensor with Q along `dim`; centres: (Q, 2) tensor. Returns ab with 2 along `dim`.
    T = 1 is the mean of the distribution; T -> 0 approaches its mode.
    """
    probs = torch.softmax(logits.float() / temperature, dim=dim)
    ab = torch.tensordot(probs.movedim(dim, -1), centres.to(probs), dims=([-1], [0]))
    return ab.movedim(-1, dim)


def annealed_mean_topk(indices, log_probs, centres, temperature=ANNEALED_T):
    """The same decoding from a truncated distribution (the k most likely bins per pixel).

    indices: (..., k) int bin indices; log_probs: (..., k) float log-probabilities at T = 1.
    Softmax over the kept bins renormalises them; at T < 1 the dropped tail matters little.
    """
    z = log_probs.astype(np.float32) / temperature
    z -= z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    return np.einsum("...k,...kc->...c", p, centres[indices])
