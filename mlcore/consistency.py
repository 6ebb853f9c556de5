"""Spatially consistent colour distributions: one object, one colour.

Per-pixel classification picks its colour pixel by pixel. Where the distribution is flat between
two modes (a coat that could be red or navy), neighbouring pixels can fall on different sides and
the coat comes out in stains. Averaging each pixel's distribution with its neighbours', weighted by
how alike their lightness is (a joint bilateral filter guided by L: edges of the photo stay edges),
makes a region agree on one distribution before the annealed mean picks its colour.
"""
import torch
import torch.nn.functional as F


def smooth_log_probs(logits, lightness, radius, sigma_l, sigma_xy=None):
    """(N, Q, h, w) log-probabilities averaged over a (2r+1)^2 neighbourhood; weights fall with
    distance (sigma_xy, default r/1.5 cells) and with lightness difference (sigma_l, L units)
    on L pooled to the same grid. Computed photo by photo to bound memory."""
    n, q, h, w = logits.shape
    k, sigma_xy = 2 * radius + 1, sigma_xy or max(radius / 1.5, 0.5)
    offsets = torch.arange(k, dtype=torch.float32, device=logits.device) - radius
    spatial = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma_xy ** 2)).reshape(1, k * k, 1)
    grid_l = F.adaptive_avg_pool2d(lightness.to(logits.device, torch.float32), (h, w))
    out = torch.empty_like(logits)
    for i in range(n):
        probs = torch.softmax(logits[i:i + 1], 1)
        inside = F.unfold(torch.ones(1, 1, h, w, device=logits.device), k, padding=radius)   # (1, k*k, h*w)
        centre = grid_l[i:i + 1].reshape(1, 1, h * w)
        around = F.unfold(grid_l[i:i + 1], k, padding=radius)
        weights = spatial * inside * torch.exp(-(around - centre) ** 2 / (2 * sigma_l ** 2))
        neighbours = F.unfold(probs, k, padding=radius).reshape(1, q, k * k, h * w)
        mixed = (neighbours * weights[:, None]).sum(2) / weights.sum(1, keepdim=True)
        out[i] = torch.log(mixed.clamp_min(1e-12)).reshape(q, h, w)
    return out
