"""Turn folders of colour photos into a split, fixed-size training set with a manifest.

Example (the default model's data):
    python manage.py prepare_dataset ../shared/datasets/* --out data/pool --fraction 1 --seed 0
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mlcore.training.dataset import format_report, list_images, prepare_dataset


class Command(BaseCommand):
    help = "Sample, clean, resize and split folders of colour photos into train/val/test (70/10/20)."

    def add_arguments(self, parser):
        parser.add_argument("sources", nargs="+", help="source folders (images in class sub-folders, any depth)")
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--fraction", type=float, default=0.3, help="share of each source to draw (default 0.3)")
        parser.add_argument("--size", type=int, default=256, help="output side in pixels (default 256)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--workers", type=int, help="processes (default: one per core)")

    def handle(self, *args, sources, out, fraction, size, seed, workers, verbosity, **opts):
        if not 0 < fraction <= 1:
            raise CommandError("--fraction must be in (0, 1]")
        if size < 32:
            raise CommandError("--size must be at least 32")
        for source in sources:
            if not Path(source).is_dir():
                raise CommandError(f"source folder not found: {source}")
        total = sum(round(len(list_images(s)) * fraction) for s in sources)
        with tqdm(total=total, desc="images", disable=verbosity == 0) as bar:
            reports = prepare_dataset(sources, out, fraction=fraction, size=size, seed=seed, workers=workers,
                                      progress=bar.update)
        if verbosity:
            self.stdout.write(format_report(reports))
        kept = sum(sum(r.per_split.values()) for r in reports)
        self.stdout.write(self.style.SUCCESS(f"{kept} images written to {out} (manifest.csv)"))
