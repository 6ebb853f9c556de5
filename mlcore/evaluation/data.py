"""The photos an evaluation reads: a folder or a prepared split, their labels, the random row's donors."""
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..imageio import load_colour_photo
from ..splits import list_images
from ..training.dataset import MANIFEST, read_manifest

EVAL_SIZE = 256            # paper: results on 256x256 images


@dataclass(frozen=True)
class Photo:
    path: str
    rel: str  # relative to the evaluated folder, '/'-separated


def find_photos(data_dir, split=None, limit=None, seed=0, sources=None):
    """Photos of a folder (any depth), or of one split of a prepared dataset's manifest
    (with `sources`, only the photos of those sources: generalization is judged per source).

    With `limit`, a seeded random sample of that many (a folder lists its classes in order, so
    the first N would all be of a few classes). Sorted by path, so the result is reproducible.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{data_dir} is not a folder")
    if split is not None:
        if not (root / MANIFEST).exists():
            raise FileNotFoundError(f"{data_dir} has no {MANIFEST}: --split needs a folder written by prepare_dataset")
        rows = read_manifest(root, split)
        if sources:
            unknown = set(sources) - {r["source"] for r in rows}
            if unknown:
                raise ValueError(f"split {split!r} of {data_dir} has no source named {', '.join(sorted(unknown))}")
            rows = [r for r in rows if r["source"] in sources]
        rels = [r["path"] for r in rows]
        if not rels:
            raise ValueError(f"split {split!r} of {data_dir} is empty")
    else:
        if sources:
            raise ValueError("--source needs --split: sources are read from a prepared dataset's manifest")
        rels = [p.relative_to(root).as_posix() for p in list_images(root)]
    rels = sorted(rels)
    if limit is not None and limit < len(rels):
        picked = np.random.default_rng(seed).choice(len(rels), size=limit, replace=False)
        rels = [rels[i] for i in sorted(picked)]
    return [Photo(str(root / r), r) for r in rels]


def load_photo(path, size):
    """8-bit RGB (size, size, 3) of a colour photo, or the reason it cannot be evaluated
    ('unreadable' or 'grayscale'), judged as prepare_dataset judges."""
    rgb = load_colour_photo(path, size)
    return rgb if isinstance(rgb, str) else np.asarray(rgb)


def random_donors(n, seed):
    """For each of n photos, the index of another one (uniformly, never itself when n > 1)."""
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    j = np.random.default_rng(seed).integers(0, n - 1, size=n)
    return j + (j >= np.arange(n))


def read_labels(path):
    """{filename: class_index} from a CSV with columns filename,class_index (ImageNet order)."""
    labels = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"filename", "class_index"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected the columns filename,class_index")
        for row in reader:
            index = int(row["class_index"])
            if not 0 <= index < 1000:
                raise ValueError(f"{path}: class_index {index} of {row['filename']} is not in 0..999")
            labels[row["filename"].replace("\\", "/")] = index
    return labels


def label_of(photo, labels):
    """A photo's label, by its path relative to the folder or else by its file name."""
    if photo.rel in labels:
        return labels[photo.rel]
    return labels.get(Path(photo.rel).name, -1)
