"""Example grids for the model card: gray | model | original, on test photos the model never saw.

    python bench/examples_grid.py MODEL --data data/pool --out mlcore/weights/results/examples.jpg
    python bench/examples_grid.py MODEL --data data/pool --worst --out mlcore/weights/results/weaknesses.jpg

Without --worst: one seeded photo per source, twice over (the product is judged on every kind).
With --worst: from a seeded sample of 300 test photos, those where the model's colours are
furthest from the truth compared with leaving them gray (plain AuC of the photo minus gray's),
which is where a person sees wrong colour.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image, ImageDraw

from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import load_photo
from mlcore.evaluation.evaluate import compose_ab, model_rgb
from mlcore.evaluation.metrics import AccuracyHistogram, GroundTruthBins
from mlcore.training.dataset import read_manifest

TILE = 192


def per_photo_gain(colorizer, photos, bins_of):
    gains = []
    for rgb in photos:
        lab = rgb_to_lab(rgb[None])
        lightness, truth = lab[..., 0], lab[..., 1:]
        gt = bins_of(truth)
        ours, gray = AccuracyHistogram(len(bins_of)), AccuracyHistogram(len(bins_of))
        ours.add(rgb_to_lab(model_rgb(colorizer, rgb[None]))[..., 1:], truth, gt)
        gray.add(rgb_to_lab(compose_ab(lightness, np.zeros(2, np.float32)))[..., 1:], truth, gt)
        gains.append(ours.auc() - gray.auc())
    return np.array(gains)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--data", default="data/pool")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-source", type=int, default=2)
    parser.add_argument("--worst", action="store_true")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    colorizer = Colorizer.load(args.model, device="cpu")
    rows = read_manifest(args.data, args.split)
    rng = np.random.default_rng(args.seed)
    if args.worst:
        picked = [rows[i] for i in rng.choice(len(rows), size=min(300, len(rows)), replace=False)]
    else:
        picked = []
        for source in sorted({r["source"] for r in rows}):
            mine = [r for r in rows if r["source"] == source]
            picked += [mine[i] for i in rng.choice(len(mine), size=args.per_source, replace=False)]
    photos = [load_photo(Path(args.data) / r["path"], 256) for r in picked]
    keep = [i for i, p in enumerate(photos) if not isinstance(p, str)]
    picked, photos = [picked[i] for i in keep], [photos[i] for i in keep]
    if args.worst:
        gains = per_photo_gain(colorizer, photos, GroundTruthBins())
        order = np.argsort(gains)[:args.count]
        picked, photos = [picked[i] for i in order], [photos[i] for i in order]
        labels = [f"{picked[k]['source']}  {gains[i]:+.1f}" for k, i in enumerate(order)]
    else:
        labels = [r["source"] for r in picked]

    cols = 3
    grid = Image.new("RGB", (cols * TILE, len(photos) * (TILE + 18)), "white")
    draw = ImageDraw.Draw(grid)
    for i, rgb in enumerate(photos):
        lab = rgb_to_lab(rgb[None])
        gray = compose_ab(lab[..., 0], np.zeros(2, np.float32))[0]
        ours = model_rgb(colorizer, rgb[None])[0]
        y = i * (TILE + 18)
        for j, img in enumerate((gray, ours, rgb)):
            grid.paste(Image.fromarray(img).resize((TILE, TILE), Image.Resampling.LANCZOS), (j * TILE, y + 18))
        draw.text((4, y + 3), f"{labels[i]}: gray | {colorizer.version} | original", fill="black")
    grid.save(args.out, quality=88)
    print(f"{len(photos)} photos -> {args.out}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
