"""Grow a prepared pool with more sources, without touching what it already measures.

The pool made by `prepare_dataset` keeps its split photo for photo: its test split is what every
figure so far was measured on. What this adds or removes:
- every photo within EXCLUDE_BITS of an acceptance photo (`exclude_dhash.txt`) leaves the train
  and validation splits (never trained or tuned on); test photos stay, they are only measured;
- each added source is drawn in a seeded order, and a photo is dropped when it is unreadable,
  gray or toned (`inputcolor.classify`: sepia teaches sepia), within EXCLUDE_BITS of an acceptance
  photo, or within DUPLICATE_BITS of any photo already in the pool (earlier sources and earlier
  photos of its own source): a near-duplicate of a test photo in training is a leak;
- a source's cap keeps it from dominating; the survivors are split per source, seeded, by
  ADDED_SPLITS (the old pool's test split stays the benchmark, so added sources need little test).
"""
import csv
import os
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..inputcolor import COLOR, classify
from ..imageio import load_colour_photo
from ..splits import list_images
from .dataset import MANIFEST, read_manifest
from .dhash import dhash, min_distances, read_hash_list

EXCLUDE_BITS = 8     # the acceptance photos' rule
# Measured on coco40k against the pool's coco: 1,383 / 1,096 / 547 / 240 / 126 photos at 0-4 bits,
# then a floor of unrelated pairs rising from 5 bits (86, 115, 192, 270 at 5-8): 5 takes the tail.
DUPLICATE_BITS = 5
ADDED_SPLITS = (("train", 0.9), ("val", 0.05), ("test", 0.05))


@dataclass
class AddReport:
    name: str
    found: int = 0
    excluded: int = 0
    duplicate: int = 0
    unreadable: int = 0
    grayscale: int = 0
    tinted: int = 0
    capped: int = 0
    per_split: dict = field(default_factory=lambda: {name: 0 for name, _ in ADDED_SPLITS})


def _hash_or_none(path):
    try:
        return dhash(path)
    except Exception:  # unreadable: the converter counts it
        return None


def hashes_of(paths, pool):
    values = list(pool.map(_hash_or_none, [str(p) for p in paths], chunksize=128))
    ok = np.array([v is not None for v in values])
    return np.array([v or 0 for v in values], dtype=np.uint64), ok


def _convert(job):
    """Worker: read, judge and write one added photo at size x size; returns its status."""
    src, dst, size = job
    rgb = load_colour_photo(src, size)
    if isinstance(rgb, str):
        return rgb
    if classify(rgb) != COLOR:
        return "tinted"
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    rgb.save(dst, "JPEG", quality=95, subsampling=0)
    return "ok"


def near_earlier(hashes, references, bits, chunk=2048):
    """True for each hash within `bits` of a reference or of an earlier hash of its own list."""
    hit = min_distances(hashes, references) <= bits
    for start in range(0, len(hashes), chunk):
        block = hashes[start:start + chunk]
        dist = np.bitwise_count(block[:, None] ^ hashes[None, :start + len(block)])
        earlier = np.arange(start + len(block))[None, :] < (start + np.arange(len(block)))[:, None]
        hit[start:start + len(block)] |= ((dist <= bits) & earlier).any(axis=1)
    return hit


def drop_excluded(out, rows, exclude, pool):
    """Remove train and validation photos near an acceptance photo; returns the rows kept."""
    hashes, _ = hashes_of([out / r["path"] for r in rows], pool)
    near = min_distances(hashes, exclude) <= EXCLUDE_BITS
    kept = []
    for row, is_near in zip(rows, near):
        if is_near and row["split"] != "test":
            (out / row["path"]).unlink(missing_ok=True)
        else:
            kept.append(row)
    return kept, hashes[[not (n and r["split"] != "test") for r, n in zip(rows, near)]]


def grow_pool(out_dir, added_dirs, exclude_file, caps=None, size=256, seed=0, workers=None, progress=None):
    """Add source folders to the pool at out_dir; returns (rows removed from the pool, reports)."""
    out = Path(out_dir)
    caps = caps or {}
    base = read_manifest(out)
    reports = []
    exclude = read_hash_list(exclude_file)
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        base_rows = [r for r in base if r["source"] not in {Path(d).name for d in added_dirs}]
        rows, known = drop_excluded(out, base_rows, exclude, pool)
        removed = len(base_rows) - len(rows)
        for source_dir in added_dirs:
            source_dir = Path(source_dir)
            name = source_dir.name
            for split, _ in ADDED_SPLITS:
                shutil.rmtree(out / split / name, ignore_errors=True)
            report = AddReport(name)
            files = list_images(source_dir)
            random.Random(f"{seed}:{name}").shuffle(files)
            report.found = len(files)
            hashes, readable = hashes_of(files, pool)
            excluded = min_distances(hashes, exclude) <= EXCLUDE_BITS
            duplicate = near_earlier(hashes, known, DUPLICATE_BITS) & ~excluded
            report.excluded, report.duplicate = int((excluded & readable).sum()), int((duplicate & readable).sum())
            report.unreadable = int((~readable).sum())
            candidates = [(f, h) for f, h, ok, ex, du in zip(files, hashes, readable, excluded, duplicate)
                          if ok and not ex and not du]
            cap = caps.get(name, 0) or len(candidates)
            kept = []
            staging = out / "_staging" / name
            for start in range(0, len(candidates), 1024):
                if len(kept) >= cap:
                    break
                batch = candidates[start:start + 1024]
                dests = [staging / f.relative_to(source_dir).with_suffix(".jpg") for f, _ in batch]
                jobs = [(str(f), str(d), size) for (f, _), d in zip(batch, dests)]
                for (f, h), d, status in zip(batch, dests, pool.map(_convert, jobs, chunksize=32)):
                    if progress:
                        progress()
                    if status != "ok":
                        setattr(report, status, getattr(report, status) + 1)
                    elif len(kept) < cap:
                        kept.append((f.relative_to(source_dir), d, h))
                    else:
                        d.unlink()
            report.capped = max(0, len(candidates) - report.unreadable - report.grayscale - report.tinted - len(kept))
            n_train = int(round(len(kept) * ADDED_SPLITS[0][1]))
            n_val = int(round(len(kept) * ADDED_SPLITS[1][1]))
            bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, len(kept))}
            for split, (lo, hi) in bounds.items():
                for rel, staged, _ in kept[lo:hi]:
                    final = out / split / name / rel
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                    rows.append({"path": final.relative_to(out).as_posix(), "source": name,
                                 "class": rel.parent.as_posix() or ".", "split": split})
                report.per_split[split] = hi - lo
            known = np.concatenate([known, np.array([h for _, _, h in kept], dtype=np.uint64)])
            reports.append(report)
    shutil.rmtree(out / "_staging", ignore_errors=True)
    with open(out / MANIFEST, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "source", "class", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return removed, reports


def format_add_report(removed, reports):
    cols = ("found", "excluded", "duplicate", "unreadable", "grayscale", "tinted", "capped")
    header = f"{'source':<14}" + "".join(f"{c[:9]:>10}" for c in cols) + f"{'train':>8}{'val':>7}{'test':>7}"
    lines = [f"{removed} train/validation photos of the pool removed: within {EXCLUDE_BITS} bits of an "
             f"acceptance photo", header, "-" * len(header)]
    for r in reports:
        lines.append(f"{r.name:<14}" + "".join(f"{getattr(r, c):>10}" for c in cols)
                     + f"{r.per_split['train']:>8}{r.per_split['val']:>7}{r.per_split['test']:>7}")
    return "\n".join(lines)
