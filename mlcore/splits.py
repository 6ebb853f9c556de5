"""How prepare_dataset draws a pool from source folders and splits it, and which photos the
pool holds out for testing, found without writing it.

The rule has one home here: mlcore/training/dataset.py builds pools with it, and the study
(`study_add --held-out`) uses it to show only photos the shipped model never trained on. For
each source folder a seeded random fraction is drawn; the usable photos (colour, readable) are
shuffled with the same generator and split 70/10/20.
"""
import random
from pathlib import Path

from .imageio import open_colour_photo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
SPLITS = (("train", 0.7), ("val", 0.1), ("test", 0.2))


def list_images(source_dir):
    root = Path(source_dir)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def split_counts(n):
    n_train = int(round(n * SPLITS[0][1]))
    n_val = int(round(n * SPLITS[1][1]))
    return {"train": n_train, "val": n_val, "test": n - n_train - n_val}


def draw_source(files, source_name, fraction, seed):
    """(rng, drawn): the seeded draw of one source's files; the usable ones are then shuffled
    with the same rng before they are split (split_bounds)."""
    rng = random.Random(f"{seed}:{source_name}")
    return rng, rng.sample(files, int(round(len(files) * fraction)))


def split_bounds(n):
    """{split: (lo, hi)}: where each split lies among n shuffled usable photos."""
    counts = split_counts(n)
    return {"train": (0, counts["train"]), "val": (counts["train"], counts["train"] + counts["val"]),
            "test": (counts["train"] + counts["val"], n)}


def pool_test_split(source_dir, fraction, seed, size=256):
    """The photos of one source folder that prepare_dataset(..., fraction, size, seed) puts in
    its test split, found without writing the pool: the same draw, the same judgement of each
    drawn photo, the same shuffle. Reads every drawn photo (a few seconds per thousand)."""
    source_dir = Path(source_dir)
    rng, drawn = draw_source(list_images(source_dir), source_dir.name, fraction, seed)
    usable = [f for f in drawn if not isinstance(open_colour_photo(f, size), str)]
    rng.shuffle(usable)  # a shuffle depends only on the rng and the length: the pool's order
    lo, hi = split_bounds(len(usable))["test"]
    return usable[lo:hi]
