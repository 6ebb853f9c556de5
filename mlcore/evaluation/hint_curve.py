"""The hint curve (`evaluate --hints 0,1,2,5,...`): quality against the number of colour hints.

As Zhang et al. (SIGGRAPH 2017, Fig. 6) measured it: for each count N, every photo gets N hints
drawn from its own true colours as in training (mlcore.hints.simulate_hints: each the mean true
ab of a 1-9 px patch, at random places), and is coloured through the product's path (the
network, then render.render); PSNR is in RGB over the whole photo. The points of photo i at
count N come from a generator seeded with (seed, i, N): every model whose network has the same
output grid gets the same points, whatever the batch size or the models beside it.
"""
import numpy as np


def hint_maps(ab_true, grid, photo_indices, count, seed):
    """(N, 3, grid, grid) simulated hint maps for true ab (N, S, S, 2) of the photos numbered
    photo_indices (their places in the evaluated list), `count` hints each."""
    import torch
    import torch.nn.functional as F

    from ..hints import simulate_hints

    ab = torch.from_numpy(np.ascontiguousarray(ab_true, dtype=np.float32)).permute(0, 3, 1, 2)
    ab = F.adaptive_avg_pool2d(ab, grid)  # the true colours on the network's output grid
    return torch.cat([simulate_hints(ab[k:k + 1], np.random.default_rng([seed, i, count]), counts=[count])
                      for k, i in enumerate(photo_indices)])


def curve(rows, counts, ground_truth_colorfulness):
    """[{"hints", "psnr", "auc_plain", "auc_rebal"}] from one evaluate Row per count."""
    points = []
    for count in counts:
        row = rows[count].as_dict(ground_truth_colorfulness)
        points.append({"hints": count, "psnr": row["psnr"], "auc_plain": row["auc_plain"],
                       "auc_rebal": row["auc_rebal"]})
    return points
