"""`prepare_dataset`: from folders of colour photos to a fixed-size, split, manifested dataset.

For each source folder (images in class sub-folders, any depth) a seeded random fraction is
drawn; unreadable and already-grayscale images are dropped and counted; the rest become RGB
squares of SIZE x SIZE (JPEG quality 95, no chroma subsampling) and are split 70/10/20 per
source. The manifest lists path, source, class and split. Same inputs and seed, same output.
"""
import csv
import os
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .imageio import is_grayscale, load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
SPLITS = (("train", 0.7), ("val", 0.1), ("test", 0.2))
MANIFEST = "manifest.csv"


@dataclass
class SourceReport:
    name: str
    found: int = 0
    drawn: int = 0
    unreadable: int = 0
    grayscale: int = 0
    per_split: dict = field(default_factory=lambda: {name: 0 for name, _ in SPLITS})


def list_images(source_dir):
    root = Path(source_dir)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_colour_photo(path, draft_size):
    """A colour photo as an RGB PIL image (decoded at a reduced scale when the file allows, never
    below draft_size), or why not: 'unreadable' or 'grayscale' (judged on the whole photo)."""
    try:
        img = load_image(path, draft=(draft_size, draft_size))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "unreadable"
    if img.mode in ("L", "LA"):
        return "grayscale"
    rgb = img.convert("RGB")
    if is_grayscale(np.asarray(rgb)):
        return "grayscale"
    return rgb


def load_colour_photo(path, size):
    """A colour photo as an RGB PIL image of size x size, or why not: 'unreadable' or 'grayscale'.
    Photos are resized to the square, not cropped."""
    rgb = open_colour_photo(path, size)
    if isinstance(rgb, str):
        return rgb
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    return rgb


def _convert(job):
    """Worker: read, check, resize and write one image. Returns 'ok', 'unreadable' or 'grayscale'."""
    src, dst, size = job
    rgb = load_colour_photo(src, size)
    if isinstance(rgb, str):
        return rgb
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    rgb.save(dst, "JPEG", quality=95, subsampling=0)
    return "ok"


def split_counts(n):
    n_train = int(round(n * SPLITS[0][1]))
    n_val = int(round(n * SPLITS[1][1]))
    return {"train": n_train, "val": n_val, "test": n - n_train - n_val}


def draw_source(files, source_name, fraction, seed):
    """(rng, drawn): the seeded draw of one source's files; prepare_dataset then shuffles the
    usable ones with the same rng before splitting them (split_bounds)."""
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


def prepare_dataset(source_dirs, out_dir, fraction=0.3, size=256, seed=0, workers=None, progress=None):
    """Build the dataset; returns the list of SourceReport (one per source)."""
    out = Path(out_dir)
    for split, _ in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    reports, rows = [], []
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        for source_dir in source_dirs:
            source_dir = Path(source_dir)
            report = SourceReport(source_dir.name)
            files = list_images(source_dir)
            report.found = len(files)
            rng, drawn = draw_source(files, source_dir.name, fraction, seed)
            report.drawn = len(drawn)
            rel = [f.relative_to(source_dir) for f in drawn]
            staging = [out / "_staging" / source_dir.name / r.with_suffix(".jpg") for r in rel]
            results = pool.map(_convert, [(str(f), str(d), size) for f, d in zip(drawn, staging)], chunksize=32)
            kept = []
            for r, d, status in zip(rel, staging, results):
                if progress:
                    progress()
                if status == "ok":
                    kept.append((r, d))
                else:
                    setattr(report, status, getattr(report, status) + 1)
            rng.shuffle(kept)
            for split, (lo, hi) in split_bounds(len(kept)).items():
                for r, staged in kept[lo:hi]:
                    final = out / split / source_dir.name / r.with_suffix(".jpg")
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                    cls = r.parent.as_posix() or "."
                    rows.append((final.relative_to(out).as_posix(), source_dir.name, cls, split))
                report.per_split[split] = hi - lo
            reports.append(report)
    shutil.rmtree(out / "_staging", ignore_errors=True)
    rows.sort(key=lambda row: (row[3], row[0]))
    rng = random.Random(f"{seed}:shuffle")
    rng.shuffle(rows)
    with open(out / MANIFEST, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "source", "class", "split"])
        writer.writerows(rows)
    return reports


def format_report(reports):
    header = f"{'source':<18}{'found':>7}{'drawn':>7}{'unread':>8}{'gray':>6}{'train':>7}{'val':>6}{'test':>6}"
    lines = [header, "-" * len(header)]
    totals = SourceReport("total")
    for r in reports:
        lines.append(f"{r.name:<18}{r.found:>7}{r.drawn:>7}{r.unreadable:>8}{r.grayscale:>6}"
                     f"{r.per_split['train']:>7}{r.per_split['val']:>6}{r.per_split['test']:>6}")
        for attr in ("found", "drawn", "unreadable", "grayscale"):
            setattr(totals, attr, getattr(totals, attr) + getattr(r, attr))
        for split in totals.per_split:
            totals.per_split[split] += r.per_split[split]
    lines.append("-" * len(header))
    t = totals
    lines.append(f"{t.name:<18}{t.found:>7}{t.drawn:>7}{t.unreadable:>8}{t.grayscale:>6}"
                 f"{t.per_split['train']:>7}{t.per_split['val']:>6}{t.per_split['test']:>6}")
    return "\n".join(lines)


def read_manifest(data_dir, split=None):
    with open(Path(data_dir) / MANIFEST, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if split is None or r["split"] == split]
