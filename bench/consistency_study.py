"""Do edge-aware smoothing of the colour distribution (mlcore/consistency.py) or the fallback of
unsure pixels toward their mean (mlcore/decode.soften_where_unsure) cut blotches?

Runs `evaluate` (the product's own path: predict, decode, render) on validation photos of the
old pool's sources for a model at its own settings, then with its distributions smoothed at each
(radius, sigma_l) given, and with each fallback strength given, and prints AuC, hue flips and
false chroma for each:

    python bench/consistency_study.py --model mlcore/weights/default.pt --data data/pool --limit 300 \
        --settings 2:4 2:8 3:6 --fallbacks 0.5 1 2
"""
import argparse
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.colorizer import Colorizer  # noqa: E402
from mlcore.evaluation.data import find_photos  # noqa: E402
from mlcore.evaluation.evaluate import evaluate  # noqa: E402

OLD_POOL = ("animalpose_voc", "coco", "imagenet_val", "intel_scenes", "sports100", "voc2007_subset")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", default="data/pool")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--settings", nargs="*", default=["2:4", "2:8", "3:6"], help="radius:sigma_l")
    ap.add_argument("--fallbacks", nargs="*", type=float, default=[], help="unsure-fallback strengths")
    ap.add_argument("--all-sources", action="store_true", help="every source of the split, not only the old pool's")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    base = Colorizer.load(args.model, device="cpu")
    variants = {"as shipped": base}
    for setting in args.settings:
        radius, sigma_l = setting.split(":")
        variant = copy.copy(base)
        variant.smoothing = {"radius": int(radius), "sigma_l": float(sigma_l)}
        variants[f"smooth r{radius} sL{sigma_l}"] = variant
    for strength in args.fallbacks:
        variant = copy.copy(base)
        variant.unsure_fallback = strength
        variants[f"fallback {strength:g}"] = variant
    photos = find_photos(args.data, split="val", limit=args.limit, sources=None if args.all_sources else OLD_POOL)
    result = evaluate(photos, variants, measure_cost=False).as_dict()
    keys = ("auc_plain", "auc_rebal", "hue_flips", "false_chroma", "top1")
    print(f"{len(photos)} validation photos of {'every source' if args.all_sources else 'the old pool'}, {base.version}")
    print(f"{'row':<22}" + "".join(f"{k:>14}" for k in keys))
    for row in result["rows"]:
        print(f"{row['method']:<22}" + "".join(f"{row[k] if row.get(k) is not None else float('nan'):>14.2f}" for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
