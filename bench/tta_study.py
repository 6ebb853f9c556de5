"""Validation study: flip test-time augmentation (mean log-probabilities of a photo and its mirror)
against one pass, at the model's temperature and the given prior corrections.

    python bench/tta_study.py MODEL N [CORRECTION ...]   # N seeded validation photos of data/pool
"""
import sys, numpy as np, torch
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent.parent))
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import EVAL_SIZE, find_photos, load_photo
from mlcore.evaluation.metrics import AccuracyHistogram
from mlcore.color import rgb_to_lab, lab_to_rgb
from mlcore.quantize import nearest_bins
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(1)
col = Colorizer.load(sys.argv[1], device="cpu"); n = int(sys.argv[2])
cs = [float(x) for x in sys.argv[3:]] or [0.0, 0.5]
photos = find_photos("data/pool", split="val", limit=n, seed=1)
C = torch.from_numpy(col.centres).float(); logw = col.log_bin_weights[0, :, 0, 0]
T = col.default_temperature
settings = [(tta, c) for tta in (False, True) for c in cs]
hists = {s: AccuracyHistogram(len(C)) for s in settings}; gray = AccuracyHistogram(len(C))
for ph in photos:
    rgb = load_photo(ph.path, EVAL_SIZE)
    if isinstance(rgb, str): continue
    lab = rgb_to_lab(rgb[None])[0]; L = lab[..., 0]; ab_true = lab[..., 1:]
    bins = nearest_bins(ab_true)[0][..., 0]
    x = torch.from_numpy(np.array(Image.fromarray(L).resize((col.size, col.size), Image.Resampling.BILINEAR), dtype=np.float32))[None, None]
    with torch.no_grad():
        raw = col.model(x).float()
        rawf = col.model(x.flip(3)).float().flip(3)
    gray.add(np.zeros_like(ab_true), ab_true, bins)
    for tta, c in settings:
        lg = (torch.log_softmax(raw, 1) + torch.log_softmax(rawf, 1)) / 2 if tta else raw
        p = torch.softmax((lg - c * logw[None, :, None, None]) / T, 1)
        ab = torch.einsum("nqhw,qc->nchw", p, C)
        ab = F.interpolate(ab, size=(EVAL_SIZE, EVAL_SIZE), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
        out = lab_to_rgb(np.concatenate([L[..., None], ab], -1)[None])
        hists[(tta, c)].add(rgb_to_lab(out)[0][..., 1:], ab_true, bins)
gp, gr = gray.auc(False), gray.auc(True)
print(f"gray {gp:.2f} {gr:.2f}  T={T}")
for s in settings:
    h = hists[s]; print(f"tta={s[0]!s:5} c={s[1]:+.2f}  plain {h.auc(False)-gp:+.2f}  rebal {h.auc(True)-gr:+.2f}")
