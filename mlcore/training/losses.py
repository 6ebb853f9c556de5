"""The three objectives of the paper's Table 1 (Sec. 2.1-2.2)."""
import torch
import torch.nn.functional as F

from ..quantize import AB_SCALE

LOSSES = ("rebalanced", "classification", "l2")


def soft_cross_entropy(logits, idx, w, pixel_weights=None):
    """Multinomial cross-entropy against soft targets held as (indices, weights) of k bins.

    logits (N,Q,h,w); idx, w (N,h,w,k). Eq. 2 of the paper, with Eq. 3's per-pixel weight
    v(Z) when pixel_weights (N,h,w) is given.
    """
    # Bins last: for the channels-last logits the decoder gives, a view, and the fast layout
    # for softmax and gather (a training step on a CPU is faster than over dim 1).
    log_probs = F.log_softmax(logits.float().permute(0, 2, 3, 1), dim=-1)
    picked = torch.gather(log_probs, -1, idx.long())
    ce = -(picked * w.float()).sum(-1)
    if pixel_weights is not None:
        ce = ce * pixel_weights
    return ce.mean()


def compute_loss(loss, outputs, batch, bin_weights):
    if loss == "l2":
        return 0.5 * ((outputs.float() - batch["ab"] / AB_SCALE) ** 2).sum(1).mean()
    if loss == "classification":
        return soft_cross_entropy(outputs, batch["idx"], batch["w"])
    if loss == "rebalanced":
        # Each pixel weighs as its most likely (nearest) bin: v(Z) = w[argmax_q Z_q].
        return soft_cross_entropy(outputs, batch["idx"], batch["w"], bin_weights[batch["idx"][..., 0].long()])
    raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
