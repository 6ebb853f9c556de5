"""The paper's real-vs-fake test, offline, for blind judges (issue 22, item 5).

    python bench/blind_study.py make --model M --data data/pool --split test --count 120 \
        --judges 8 --pairs-dir /tmp/blind/pairs --key runs/blind_key.json
    python bench/blind_study.py score --key runs/blind_key.json ANSWERS.json ...

`make` draws photos of a split (seeded), and treats each as /study/ does (study/pairs.py): the
real photo at most 256 px, the model's colorization of its lightness at the same size, both
encoded by the same JPEG encoder from bare pixels. Each pair's two photos are named 1 and 2 in a
random order (as JPEG, and as PNG of the same pixels); the pairs are dealt to JUDGES folders
(judge_01/pair_007/...), so each judge sees each pair once and no pair twice. The key (which file is real) is written elsewhere,
to --key, for `score` alone.

Each judge answers a JSON file {"judge": "01", "answers": {"pair_007": "1", ...}} naming the file
they believe is the real photo. `score` prints the fooling rate (the share of answers that chose
the colorization) with its Wilson 95% interval, overall and per judge, and writes nothing.
"""
import argparse
import io
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402
from PIL import Image  # noqa: E402


def setup_django():
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorsite.settings")
    django.setup()


def write_shown(stem, jpeg):
    """The JPEG as /study/ serves it, and a PNG of exactly its decoded pixels: some viewers
    (the judges' among them) show only PNG."""
    stem.with_suffix(".jpg").write_bytes(jpeg)
    Image.open(io.BytesIO(jpeg)).save(stem.with_suffix(".png"))


def make(args):
    setup_django()
    from mlcore.colorizer import Colorizer
    from mlcore.training.dataset import read_manifest
    from study.pairs import encode, real_photo

    colorizer = Colorizer.load(args.model, device="cpu")
    rows = read_manifest(args.data, args.split)
    if args.source:
        rows = [r for r in rows if r["source"] in args.source]
    rng = random.Random(args.seed)
    rng.shuffle(rows)
    pairs_dir, key = Path(args.pairs_dir), {"model": colorizer.version, "data": args.data,
                                             "split": args.split, "seed": args.seed, "pairs": {}}
    skipped = {}
    made = 0
    for row in rows:
        if made == args.count:
            break
        real = real_photo(Path(args.data) / row["path"])
        if isinstance(real, str):
            skipped[real] = skipped.get(real, 0) + 1
            continue
        fake = colorizer.colorize(real)
        judge = f"{made % args.judges + 1:02d}"
        name = f"pair_{made + 1:03d}"
        folder = pairs_dir / f"judge_{judge}" / name
        folder.mkdir(parents=True, exist_ok=True)
        real_first = rng.random() < 0.5
        for number, image in (("1", real if real_first else fake), ("2", fake if real_first else real)):
            write_shown(folder / number, encode(image))
        key["pairs"][name] = {"judge": judge, "real": "1" if real_first else "2", "photo": row["path"]}
        made += 1
    Path(args.key).parent.mkdir(parents=True, exist_ok=True)
    Path(args.key).write_text(json.dumps(key, indent=1))
    print(f"{made} pairs for {args.judges} judges under {pairs_dir} (model {colorizer.version}); "
          f"skipped {skipped or 'none'}; key in {args.key}")


def score(args):
    from study.stats import PAPER_FOOLING_RATE, wilson_interval

    key = json.loads(Path(args.key).read_text())["pairs"]
    fooled = answered = 0
    per_judge = []
    for path in args.answers:
        sheet = json.loads(Path(path).read_text())
        k = n = 0
        for pair, choice in sheet["answers"].items():
            if pair not in key:
                sys.exit(f"{path}: unknown pair {pair}")
            if key[pair]["judge"] != sheet["judge"]:
                sys.exit(f"{path}: {pair} was dealt to judge {key[pair]['judge']}, not {sheet['judge']}")
            n += 1
            k += str(choice) != key[pair]["real"]
        per_judge.append((sheet["judge"], k, n))
        fooled, answered = fooled + k, answered + n
    for judge, k, n in per_judge:
        print(f"judge {judge}: fooled {k} of {n}")
    lo, hi = wilson_interval(fooled, answered)
    print(f"fooling rate {fooled}/{answered} = {fooled / answered:.1%} (Wilson 95%: {lo:.1%}-{hi:.1%}); "
          f"the paper: {PAPER_FOOLING_RATE:.0%}; chance: 50%")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)
    m = sub.add_parser("make")
    m.add_argument("--model", required=True)
    m.add_argument("--data", default="data/pool")
    m.add_argument("--split", default="test")
    m.add_argument("--source", action="append", default=[])
    m.add_argument("--count", type=int, default=120)
    m.add_argument("--judges", type=int, default=8)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--pairs-dir", required=True)
    m.add_argument("--key", required=True)
    s = sub.add_parser("score")
    s.add_argument("--key", required=True)
    s.add_argument("answers", nargs="+")
    args = parser.parse_args()
    make(args) if args.verb == "make" else score(args)


if __name__ == "__main__":
    main()
