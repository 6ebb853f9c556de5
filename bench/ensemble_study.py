"""Validation study: two colorizers over the same frozen encoder, averaged (mean of their
log-probabilities, each after its own prior correction), against each alone.

    python bench/ensemble_study.py MODEL_A MODEL_B [N] [CORRECTION ...]   # N seeded validation photos

Same photos, AuC definitions and decoding as bench/tune_inference.py (T 0.6 for all three).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import find_photos, load_photo
from mlcore.evaluation.evaluate import compose_ab, model_rgb
from mlcore.evaluation.metrics import AccuracyHistogram, GroundTruthBins

TEMPERATURE, SIZE = 0.6, 224


class Averaged:
    """What model_rgb needs of a colorizer, for the mean of two."""

    def __init__(self, a, b):
        self.a, self.b, self.size, self.prior_correction, self.is_regression = a, b, SIZE, 0.0, False

    def outputs(self, lightness):
        self.a.prior_correction = self.b.prior_correction = self.prior_correction
        return 0.5 * (torch.log_softmax(self.a.outputs(lightness), 1) + torch.log_softmax(self.b.outputs(lightness), 1))

    def predict_many(self, imgs):
        self.a.size = self.b.size = self.size
        outs = self.outputs(torch.cat([self.a.network_input(img) for img in imgs]))
        return [self.a.prediction_from_outputs(out) for out in outs]


def main():
    a, b = Colorizer.load(sys.argv[1], "cpu"), Colorizer.load(sys.argv[2], "cpu")
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    corrections = [float(c) for c in sys.argv[4:]] or [0.25, 0.375, 0.5]
    models = {"A": a, "B": b, "A+B": Averaged(a, b)}
    photos = [p for p in (load_photo(ph.path, 256) for ph in find_photos("data/pool", "val", n)) if not isinstance(p, str)]
    bins_of = GroundTruthBins()
    settings = [(name, c) for name in models for c in corrections]
    hists = {key: AccuracyHistogram(len(bins_of)) for key in settings + ["gray"]}
    for start in range(0, len(photos), 16):
        rgb = np.stack(photos[start:start + 16])
        lab = rgb_to_lab(rgb)
        lightness, ab_true = lab[..., 0], lab[..., 1:]
        gt_bins = bins_of(ab_true)
        hists["gray"].add(rgb_to_lab(compose_ab(lightness, np.zeros(2, np.float32)))[..., 1:], ab_true, gt_bins)
        for name, c in settings:
            model = models[name]
            model.size, model.prior_correction = SIZE, c
            hists[(name, c)].add(rgb_to_lab(model_rgb(model, rgb, TEMPERATURE))[..., 1:], ab_true, gt_bins)
    gray_plain, gray_rebal = hists["gray"].auc(), hists["gray"].auc(True)
    print(f"{len(photos)} validation photos; gray plain {gray_plain:.2f} rebalanced {gray_rebal:.2f}; T {TEMPERATURE}")
    for name, c in settings:
        h = hists[(name, c)]
        print(f"{name:4s} correction {c:5.3f}  plain {h.auc() - gray_plain:+.2f}  rebalanced {h.auc(True) - gray_rebal:+.2f}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
