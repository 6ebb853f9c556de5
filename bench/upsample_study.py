"""Validation study: the network's ab (1/4 of its input size) brought to the photo's size
bilinearly, as the product does, or by a guided filter with the photo's own L as the guide
(He & Sun, "Fast guided filter", 2015: a local linear model ab = a L + b fitted at low
resolution, its coefficients upsampled), which keeps chroma edges where lightness has them.

    python bench/upsample_study.py MODEL [N]   # N seeded validation photos of data/pool
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mlcore.color import lab_to_rgb, rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import find_photos, load_photo
from mlcore.evaluation.metrics import AccuracyHistogram, GroundTruthBins

SIZE = 256


def box(x, r):
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)


def guided_upsample(ab_small, lightness, radius, eps):
    """ab (N, 2, h, w) to lightness's (N, 1, H, W) size, guided by lightness."""
    guide = F.adaptive_avg_pool2d(lightness, ab_small.shape[-2:])
    mean_i, mean_p = box(guide, radius), box(ab_small, radius)
    cov = box(guide * ab_small, radius) - mean_i * mean_p
    var = box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    up = lambda t: F.interpolate(box(t, radius), size=lightness.shape[-2:], mode="bilinear", align_corners=False)
    return up(a) * lightness + up(b)


def main():
    colorizer = Colorizer.load(sys.argv[1], "cpu")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 96
    photos = [p for p in (load_photo(ph.path, SIZE) for ph in find_photos("data/pool", "val", n)) if not isinstance(p, str)]
    configs = [("bilinear", None)] + [(f"guided r{r} eps{e}", (r, e)) for r in (1, 2) for e in (4, 16, 64, 256)]
    bins_of = GroundTruthBins()
    hists = {name: AccuracyHistogram(len(bins_of)) for name, _ in configs}
    for start in range(0, len(photos), 16):
        lab = rgb_to_lab(np.stack(photos[start:start + 16]))
        lightness, ab_true = lab[..., 0].astype(np.float32), lab[..., 1:]
        gt_bins = bins_of(ab_true)
        net_in = torch.stack([torch.from_numpy(np.array(Image.fromarray(l).resize(
            (colorizer.size, colorizer.size), Image.Resampling.BILINEAR), dtype=np.float32)) for l in lightness])[:, None]
        ab_small = colorizer.ab_from_outputs(colorizer.outputs(net_in)).float()
        full_l = torch.from_numpy(lightness)[:, None]
        for name, params in configs:
            ab = (F.interpolate(ab_small, size=(SIZE, SIZE), mode="bilinear", align_corners=False) if params is None
                  else guided_upsample(ab_small, full_l, *params))
            out = np.concatenate([lightness[..., None], ab.permute(0, 2, 3, 1).numpy()], -1)
            hists[name].add(rgb_to_lab(lab_to_rgb(out))[..., 1:], ab_true, gt_bins)
    for name, _ in configs:
        print(f"{name:18s} plain {hists[name].auc():.2f}  rebalanced {hists[name].auc(True):.2f}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
