"""Choose a model's inference size and annealing temperature on the validation split.

    python bench/tune_inference.py MODEL --data data/pool [--limit 400] [--sizes 128 160 192]
           [--temperatures 0.3 0.38 0.5 0.6 0.7] [--write]

For each (size, T, prior correction) prints plain and rebalanced AuC (mlcore.evaluate's
definitions, 8-bit results) beside the gray baseline. The pick is the best rebalanced AuC among
the settings whose plain AuC beats gray's by at least --margin (the product must never be less
accurate than leaving a photo gray). --write stores it in the model file (meta.inference).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from mlcore.checkpoint import set_inference_defaults
from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.evaluate import AccuracyHistogram, GroundTruthBins, compose_ab, find_photos, load_photo, model_rgb


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
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    colorizer = Colorizer.load(args.model, device="cpu")
    bins_of = GroundTruthBins()
    photos = [p for p in (load_photo(ph.path, args.size) for ph in find_photos(args.data, args.split, args.limit))
              if not isinstance(p, str)]
    temps = [None] if colorizer.is_regression else args.temperatures
    corrections = [0.0] if colorizer.is_regression else args.corrections
    settings = [(s, t, c) for s in args.sizes for t in temps for c in corrections]
    hists = {key: AccuracyHistogram(len(bins_of)) for key in settings + ["gray"]}
    for start in range(0, len(photos), 16):
        rgb = np.stack(photos[start:start + 16])
        lab = rgb_to_lab(rgb)
        lightness, ab_true = lab[..., 0], lab[..., 1:]
        gt_bins = bins_of(ab_true)
        hists["gray"].add(rgb_to_lab(compose_ab(lightness, np.zeros(2, np.float32)))[..., 1:], ab_true, gt_bins)
        for size, t, c in settings:
            colorizer.size, colorizer.prior_correction = size, c
            pred = model_rgb(colorizer, lightness, t)
            hists[(size, t, c)].add(rgb_to_lab(pred)[..., 1:], ab_true, gt_bins)
    gray_plain, gray_rebal = hists["gray"].auc(), hists["gray"].auc(True)
    print(f"{len(photos)} {args.split} photos at {args.size}px; gray: plain {gray_plain:.2f}  rebalanced {gray_rebal:.2f}")
    best = None
    for size, t, c in settings:
        plain, rebal = hists[(size, t, c)].auc(), hists[(size, t, c)].auc(True)
        print(f"size {size:>4}  T {t if t is not None else '-':>5}  correction {c:4.2f}   plain {plain:6.2f} "
              f"({plain - gray_plain:+.2f})   rebalanced {rebal:6.2f} ({rebal - gray_rebal:+.2f})")
        if plain >= gray_plain + args.margin and (best is None or rebal > best[0]):
            best = (rebal, size, t, c)
    if best is None:
        print(f"no setting beats gray's plain AuC by {args.margin}")
        return
    _, size, t, c = best
    print(f"pick: size {size}, T {t}, correction {c}")
    if args.write:
        set_inference_defaults(args.model, size, t if t is not None else 0.38, c)
        print(f"written to {args.model}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
