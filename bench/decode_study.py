"""Validation study: annealed mean against the posterior's geometric median (Weiszfeld), at several
temperatures and prior corrections, as AuC differences to gray (mlcore.evaluation's histograms).

    python bench/decode_study.py MODEL N      # N seeded validation photos of data/pool
"""
import sys, numpy as np, torch
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent.parent))
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import EVAL_SIZE, find_photos, load_photo
from mlcore.evaluation.metrics import AccuracyHistogram
from mlcore.color import rgb_to_lab, lab_to_rgb
from mlcore.quantize import nearest_bins, ab_bin_centres
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(1)
model = sys.argv[1]; n = int(sys.argv[2])
col = Colorizer.load(model, device="cpu")
photos = find_photos("data/pool", split="val", limit=n, seed=0)
C = torch.from_numpy(col.centres).float()
logw = col.log_bin_weights[0, :, 0, 0]

def geomed(p, iters=20):
    # p: (N,Q,h,w) -> ab (N,2,h,w)
    x = torch.einsum("nqhw,qc->nchw", p, C)
    for _ in range(iters):
        d = ((C[None, :, :, None, None] - x[:, None]) ** 2).sum(2).sqrt().clamp_min(1.0)  # N,Q,h,w
        wts = p / d
        x = torch.einsum("nqhw,qc->nchw", wts, C) / wts.sum(1, keepdim=True)
    return x

settings = []
for c in (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0):
    for m, T in (("am", 0.5), ("am", 0.38), ("gm", 1.0), ("gm", 0.7)):
        settings.append((m, T, c))
hists = {s: AccuracyHistogram(len(C)) for s in settings}
gray = AccuracyHistogram(len(C))
for ph in photos:
    rgb = load_photo(ph.path, EVAL_SIZE)
    if isinstance(rgb, str): continue
    lab = rgb_to_lab(rgb[None])[0]
    L = lab[..., 0]; ab_true = lab[..., 1:]
    bins = nearest_bins(ab_true)[0][..., 0]
    net_in = torch.from_numpy(np.array(Image.fromarray(L).resize((col.size, col.size), Image.Resampling.BILINEAR), dtype=np.float32))[None, None]
    with torch.no_grad():
        raw = col.model(net_in).float()
    gray.add(np.zeros_like(ab_true), ab_true, bins)
    for (m, T, c) in settings:
        z = (raw - c * logw[None, :, None, None]) / T
        p = torch.softmax(z, 1)
        ab = torch.einsum("nqhw,qc->nchw", p, C) if m == "am" else geomed(p)
        ab = F.interpolate(ab, size=(EVAL_SIZE, EVAL_SIZE), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
        out = lab_to_rgb(np.concatenate([L[..., None], ab], -1)[None])
        hists[(m, T, c)].add(rgb_to_lab(out)[0][..., 1:], ab_true, bins)
gp, gr = gray.auc(False), gray.auc(True)
print(f"gray {gp:.2f} {gr:.2f}")
for s in settings:
    h = hists[s]
    print(f"{s[0]} T={s[1]:.2f} c={s[2]:+.2f}  plain {h.auc(False)-gp:+.2f}  rebal {h.auc(True)-gr:+.2f}")
