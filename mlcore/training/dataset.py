"""`prepare_dataset`: from folders of colour photos to a fixed-size, split, manifested dataset.

For each source folder (images in class sub-folders, any depth) a seeded random fraction is
drawn; unreadable and already-grayscale images are dropped and counted; the rest become RGB
squares of SIZE x SIZE (JPEG quality 95, no chroma subsampling) and are split 70/10/20 per
source (the draw and the split are mlcore/splits.py's). The manifest lists path, source,
class and split. Same inputs and seed, same output.
"""
import csv
import os
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..imageio import load_colour_photo
from ..splits import SPLITS, draw_source, list_images, split_bounds

MANIFEST = "manifest.csv"


@dataclass
class SourceReport:
    name: str
    found: int = 0
    drawn: int = 0
    unreadable: int = 0
    grayscale: int = 0
    per_split: dict = field(default_factory=lambda: {name: 0 for name, _ in SPLITS})


def _convert(job):
    """Worker: read, check, resize and write one image. Returns 'ok', 'unreadable' or 'grayscale'."""
    src, dst, size = job
    rgb = load_colour_photo(src, size)
    if isinstance(rgb, str):
        return rgb
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    rgb.save(dst, "JPEG", quality=95, subsampling=0)
    return "ok"


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
