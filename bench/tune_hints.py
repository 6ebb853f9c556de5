"""Choose how hard a hint-taking model pulls toward a person's hints, on the validation split.

    python bench/tune_hints.py MODEL --data data/pool [--limit 300] [--strengths 1 1.5 2 3 4]
           [--hints 1,2,5,10,20,50,100] [--write]

For each strength (a multiple of the guide's learned pull, Colorizer.hint_strength) prints the
hint curve's PSNR (dB, RGB, full photo) at each count, by the product's own path (predict, then
render, as `evaluate --hints` measures it, with the same seeded simulated hints). The pick is
the best mean PSNR over the counts; --write stores it in the model file (meta.inference).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from mlcore.checkpoint import set_hint_strength
from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import EVAL_SIZE, find_photos, load_photo
from mlcore.evaluation.evaluate import model_rgb
from mlcore.evaluation.hint_curve import hint_maps
from mlcore.evaluation.metrics import psnr
from mlcore.hints import OUTPUT_STRIDE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--data", default="data/pool")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strengths", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0, 4.0])
    parser.add_argument("--hints", default="1,2,5,10,20,50,100")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    colorizer = Colorizer.load(args.model, device="cpu")
    if not colorizer.takes_hints:
        raise SystemExit(f"{args.model} does not take colour hints")
    counts = [int(c) for c in args.hints.split(",")]
    photos = [p for p in (load_photo(ph.path, EVAL_SIZE) for ph in find_photos(args.data, args.split, args.limit, args.seed))
              if not isinstance(p, str)]
    grid = colorizer.size // OUTPUT_STRIDE
    sums = {(s, c): 0.0 for s in args.strengths for c in [0] + counts}
    for start in range(0, len(photos), 16):
        rgb = np.stack(photos[start:start + 16])
        ab_true = rgb_to_lab(rgb)[..., 1:]
        index = list(range(start, start + len(rgb)))
        no_hints = psnr(model_rgb(colorizer, rgb), rgb).sum()
        for strength in args.strengths:
            colorizer.hint_strength = strength
            sums[(strength, 0)] += no_hints
            for count in counts:
                maps = hint_maps(ab_true, grid, index, count, args.seed)
                sums[(strength, count)] += psnr(model_rgb(colorizer, rgb, hint_maps=maps), rgb).sum()
    n = len(photos)
    base = sums[(args.strengths[0], 0)] / n
    print(f"{n} {args.split} photos at {EVAL_SIZE}px; no hints {base:.2f} dB; gain in dB by hints:")
    print("strength " + "".join(f"{c:>8}" for c in counts) + "    mean")
    best = None
    for strength in args.strengths:
        gains = [sums[(strength, c)] / n - base for c in counts]
        print(f"{strength:8.2f} " + "".join(f"{g:+8.2f}" for g in gains) + f"  {np.mean(gains):+6.3f}")
        if best is None or np.mean(gains) > best[0]:
            best = (np.mean(gains), strength)
    print(f"pick: hint strength {best[1]}")
    if args.write:
        set_hint_strength(args.model, best[1])
        print(f"written to {args.model}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    torch.set_num_threads(2)
    main()
