"""How close a hinted spot comes to the colour a person gave it, with and without the hint residuals.

    python bench/hint_taken_check.py [--model mlcore/weights/default.pt] [--photos 20] [--strength S]

On validation photos, 5 hints each of random colours (a and b uniform in -60..60) at random places:
colours the model did not expect, as a person's corrections are. Prints the mean and largest ab
distance between each hint and the decoded colour at its cells, from the guide's pull alone and
with the residuals spread through the hints (mlcore.colorizer.hint_residuals).
"""
import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image

from mlcore.colorizer import Colorizer
from mlcore.evaluation.data import EVAL_SIZE, find_photos, load_photo
from mlcore.hints import OUTPUT_STRIDE, hint_map


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="mlcore/weights/default.pt")
    parser.add_argument("--data", default="data/pool")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--strength", type=float, help="the pull's strength (default: the model file's)")
    args = parser.parse_args()
    colorizer = Colorizer.load(args.model, "cpu")
    if args.strength is not None:
        colorizer.hint_strength = args.strength
    grid = colorizer.size // OUTPUT_STRIDE
    rng = np.random.default_rng(0)
    pulled, taken = [], []
    for photo in find_photos(args.data, "val", args.photos, 1):
        rgb = load_photo(photo.path, EVAL_SIZE)
        if isinstance(rgb, str):
            continue
        points = [(rng.uniform(.1, .9), rng.uniform(.1, .9), rng.uniform(-60, 60), rng.uniform(-60, 60)) for _ in range(5)]
        prediction = colorizer.predict(Image.fromarray(rgb), points)
        with_residuals = prediction.ab_at()
        pull_alone = dataclasses.replace(prediction, ab_offset=None).ab_at()
        for x, y, a, b in points:
            cells = hint_map([(x, y, a, b)], grid, grid)[0, 2].numpy() > 0
            pulled.append(np.linalg.norm(pull_alone[cells] - (a, b), axis=1).mean())
            taken.append(np.linalg.norm(with_residuals[cells] - (a, b), axis=1).mean())
    print(f"{len(taken)} hints, strength {colorizer.hint_strength:g}: ab distance from the hinted colour, "
          f"pull alone mean {np.mean(pulled):.1f} max {np.max(pulled):.1f}; "
          f"with residuals mean {np.mean(taken):.1f} max {np.max(taken):.1f}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
