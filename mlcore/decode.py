"""From per-pixel bin distributions to ab values (paper, Sec. 2.3, Eq. 5)."""
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
