"""Choose a model's inference size and annealing temperature on the validation split.

    python bench/tune_inference.py MODEL --data data/pool [--limit 400] [--sizes 128 160 192]
           [--temperatures 0.3 0.38 0.5 0.6 0.7] [--write]

For each (size, T, prior correction) prints plain and rebalanced AuC (mlcore.evaluation's
definitions, 8-bit results) beside the gray baseline, and the setting's hue flips and false chroma
(`manage.py evaluate`'s blotch measures: they show what a more colourful setting costs in stains;
the rule below does not read them). The pick is the best rebalanced AuC among the settings whose
plain AuC beats gray's by at least --margin (the product must never be less accurate than leaving
a photo gray). --write stores it in the model file (meta.inference).

With --labels (e.g. ../shared/datasets/imagenet_val/labels.csv), the labelled photos of the split
are also classified by EfficientNet-Lite0's own ImageNet head, and a setting must also be
recognised at least as often as gray (semantic interpretability). Lite0, never Lite2: Lite2 is
the judge of `manage.py evaluate`, and tuning on the judge would flatter the test.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image

from mlcore.checkpoint import set_inference_defaults
from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import find_photos, label_of, load_photo, read_labels
from mlcore.evaluation.evaluate import compose_ab, model_rgb
from mlcore.evaluation.metrics import AccuracyHistogram, BlotchCounts, GroundTruthBins
from mlcore.training.semantic import SemanticJudge

LITE0_SIZE = 224


class Lite0Judge:
    """EfficientNet-Lite0's ImageNet classifier (the semantic loss's judge; never Lite2)."""

    def __init__(self):
        # The semantic loss's judge: the same network, loaded and BatchNorm-folded in one place.
        self.net = SemanticJudge().net

    def top1(self, images):
        batch = []
        for rgb in images:  # central 87.5% crop, as the evaluation's classifier is fed
            img = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
            w, h = img.size
            side = 0.875 * min(w, h)
            box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
            img = img.resize((LITE0_SIZE, LITE0_SIZE), Image.Resampling.BICUBIC, box=box)
            batch.append((torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) - 127.0) / 128.0)
        return self.net(torch.stack(batch).contiguous(memory_format=torch.channels_last)).argmax(1).numpy()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--data", default="data/pool")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--size", type=int, default=256, help="evaluation size, as evaluate's --size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 160, 192])
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.3, 0.38, 0.5, 0.6, 0.7])
    parser.add_argument("--corrections", type=float, nargs="+", default=[0.0],
                        help="shares of log(rebalancing weight) taken off the logits (Colorizer.prior_correction)")
    parser.add_argument("--margin", type=float, default=0.5, help="plain AuC points above gray required")
    parser.add_argument("--labels", help="CSV filename,class_index: also require Lite0 top-1 >= gray's")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    colorizer = Colorizer.load(args.model, device="cpu")
    bins_of = GroundTruthBins()
    photos = [p for p in (load_photo(ph.path, args.size) for ph in find_photos(args.data, args.split, args.limit))
              if not isinstance(p, str)]
    temps = [None] if colorizer.is_regression else args.temperatures
    corrections = [0.0] if colorizer.is_regression else args.corrections
    settings = [(s, t, c) for s in args.sizes for t in temps for c in corrections]
    top1 = semantic_top1(colorizer, settings, args) if args.labels else {}
    hists = {key: AccuracyHistogram(len(bins_of)) for key in settings + ["gray"]}
    blotches = {key: BlotchCounts() for key in settings}
    for start in range(0, len(photos), 16):
        rgb = np.stack(photos[start:start + 16])
        lab = rgb_to_lab(rgb)
        lightness, ab_true = lab[..., 0], lab[..., 1:]
        gt_bins = bins_of(ab_true)
        hists["gray"].add(rgb_to_lab(compose_ab(lightness, np.zeros(2, np.float32)))[..., 1:], ab_true, gt_bins)
        for size, t, c in settings:
            colorizer.size, colorizer.prior_correction = size, c
            pred = model_rgb(colorizer, rgb, t)
            ab_pred = rgb_to_lab(pred)[..., 1:]
            hists[(size, t, c)].add(ab_pred, ab_true, gt_bins)
            blotches[(size, t, c)].add(ab_pred, ab_true)
    gray_plain, gray_rebal = hists["gray"].auc(), hists["gray"].auc(True)
    print(f"{len(photos)} {args.split} photos at {args.size}px; gray: plain {gray_plain:.2f}  rebalanced {gray_rebal:.2f}"
          + (f"  Lite0 top-1 {top1['gray']:.1f} (true colour {top1['true']:.1f}) on {top1['n']} labelled photos"
             if top1 else ""))
    best = None
    for size, t, c in settings:
        plain, rebal = hists[(size, t, c)].auc(), hists[(size, t, c)].auc(True)
        semantic = top1.get((size, t, c))
        stains = blotches[(size, t, c)].percentages()
        print(f"size {size:>4}  T {t if t is not None else '-':>5}  correction {c:4.2f}   plain {plain:6.2f} "
              f"({plain - gray_plain:+.2f})   rebalanced {rebal:6.2f} ({rebal - gray_rebal:+.2f})"
              f"   hue flips {stains['hue_flips']:4.1f}%  false chroma {stains['false_chroma']:4.1f}%"
              + (f"   Lite0 top-1 {semantic:5.1f} ({semantic - top1['gray']:+.1f})" if top1 else ""))
        recognised = not top1 or semantic >= top1["gray"]
        if plain >= gray_plain + args.margin and recognised and (best is None or rebal > best[0]):
            best = (rebal, size, t, c)
    if best is None:
        print(f"no setting beats gray's plain AuC by {args.margin}")
        return
    _, size, t, c = best
    print(f"pick: size {size}, T {t}, correction {c}")
    if args.write:
        set_inference_defaults(args.model, size, t if t is not None else 0.38, c)
        print(f"written to {args.model}")


def semantic_top1(colorizer, settings, args):
    """Lite0 top-1 (%) against labels on the split's labelled photos: true colour, gray, each setting."""
    labels = read_labels(args.labels)
    found = [(ph, label_of(ph, labels)) for ph in find_photos(args.data, args.split)]
    found = [(load_photo(ph.path, args.size), y) for ph, y in found if y >= 0]
    found = [(rgb, y) for rgb, y in found if not isinstance(rgb, str)]
    if not found:
        raise SystemExit(f"no photo of the {args.split} split has a label in {args.labels}")
    judge, y = Lite0Judge(), np.array([label for _, label in found])
    rgb = np.stack([im for im, _ in found])
    lightness = rgb_to_lab(rgb)[..., 0]
    score = lambda images: 100.0 * float(np.mean(np.concatenate(
        [judge.top1(images[i:i + 16]) for i in range(0, len(images), 16)]) == y))
    result = {"n": len(found), "true": score(rgb), "gray": score(compose_ab(lightness, np.zeros(2, np.float32)))}
    for size, t, c in settings:
        colorizer.size, colorizer.prior_correction = size, c
        result[(size, t, c)] = score(np.concatenate([model_rgb(colorizer, rgb[i:i + 16], t)
                                                     for i in range(0, len(lightness), 16)]))
    return result


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
