"""From per-pixel bin distributions to ab values (paper, Sec. 2.3, Eq. 5)."""
import math

import torch

# The numpy decoding of a stored top-k prediction (annealed_mean_topk) lives with the rest of
# the torch-free path, in render.py.
from .render import ANNEALED_T


def annealed_mean(logits, centres, temperature=ANNEALED_T, dim=1):
    """Expectation of the bin centres under softmax(logits / T).

    logits: tensor with Q along `dim`; centres: (Q, 2) tensor. Returns ab with 2 along `dim`.
    T = 1 is the mean of the distribution; T -> 0 approaches its mode.
    """
    probs = torch.softmax(logits.float() / temperature, dim=dim)
    ab = torch.tensordot(probs.movedim(dim, -1), centres.to(probs), dims=([-1], [0]))
    return ab.movedim(-1, dim)


def soften_where_unsure(logits, strength, dim=1):
    """Uncertainty-aware decoding: where the distribution is flat, fall back toward its mean.

    Each pixel's scores are divided by 1 + strength * u, u being the entropy of its distribution
    over log(Q) (0: one bin, 1: uniform). The annealed mean of the result is the annealed mean at
    a temperature raised by that factor: a sure pixel keeps its vivid mode, an unsure one (a coat
    that could be red or blue) drifts toward the conditional mean instead of painting one guess here
    and another beside it. strength 0 changes nothing. Returns log-probs. Measured on a rebalanced
    model it paints more neutral pixels, not fewer (RESULTS.md, session 14): the saturated bins that
    rebalancing boosts fill the distribution's tail, so its mean is not gray. No shipped file uses it."""
    log_probs = torch.log_softmax(logits.float(), dim=dim)
    unsure = -(log_probs.exp() * log_probs).sum(dim, keepdim=True) / math.log(logits.shape[dim])
    return torch.log_softmax(log_probs / (1.0 + strength * unsure), dim=dim)
