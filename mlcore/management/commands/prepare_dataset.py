"""Turn folders of colour photos into a split, fixed-size training set with a manifest.

Example (the default model's data: the shared pool, grown by the fetched sources):
    python manage.py fetch_photos --out data/extra
    python manage.py prepare_dataset ../shared/datasets/*/ --out data/pool --fraction 1 --seed 0 \
        --add data/extra/*/ --exclude-dhash ../shared/datasets/exclude_dhash.txt
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mlcore.splits import list_images
from mlcore.training.dataset import format_report, prepare_dataset
from mlcore.training.grow_pool import format_add_report, grow_pool
from mlcore.training.photo_sources import SOURCES


class Command(BaseCommand):
    help = "Sample, clean, resize and split folders of colour photos into train/val/test (70/10/20)."

    def add_arguments(self, parser):
        parser.add_argument("sources", nargs="+", help="source folders (images in class sub-folders, any depth)")
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--fraction", type=float, default=0.3, help="share of each source to draw (default 0.3)")
        parser.add_argument("--size", type=int, default=256, help="output side in pixels (default 256)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--workers", type=int, help="processes (default: one per core)")
        parser.add_argument("--add", nargs="+", default=[], metavar="DIR",
                            help="more source folders, added after the split of SOURCES is made: deduplicated "
                                 "against the pool, gray and toned photos dropped, capped (fetch_photos' table), "
                                 "split 90/5/5 per source")
        parser.add_argument("--exclude-dhash", metavar="FILE",
                            help="dHashes of photos never to train or tune on (required with --add)")

    def handle(self, *args, sources, out, fraction, size, seed, workers, add, exclude_dhash, verbosity, **opts):
        if not 0 < fraction <= 1:
            raise CommandError("--fraction must be in (0, 1]")
        if size < 32:
            raise CommandError("--size must be at least 32")
        for source in [*sources, *add]:
            if not Path(source).is_dir():
                raise CommandError(f"source folder not found: {source}")
        if add and not exclude_dhash:
            raise CommandError("--add needs --exclude-dhash: added photos are checked against it")
        if exclude_dhash and not Path(exclude_dhash).is_file():
            raise CommandError(f"--exclude-dhash file not found: {exclude_dhash}")
        total = sum(round(len(list_images(s)) * fraction) for s in sources)
        with tqdm(total=total, desc="images", disable=verbosity == 0) as bar:
            reports = prepare_dataset(sources, out, fraction=fraction, size=size, seed=seed, workers=workers,
                                      progress=bar.update)
        if verbosity:
            self.stdout.write(format_report(reports))
        if exclude_dhash:
            caps = {s.name: s.cap for s in SOURCES if s.cap}
            with tqdm(desc="added images", disable=verbosity == 0) as bar:
                removed, added = grow_pool(out, add, exclude_dhash, caps=caps, size=size, seed=seed,
                                           workers=workers, progress=bar.update)
            if verbosity:
                self.stdout.write(format_add_report(removed, added))
        with open(Path(out) / "manifest.csv") as fh:
            kept = sum(1 for _ in fh) - 1
        self.stdout.write(self.style.SUCCESS(f"{kept} images written to {out} (manifest.csv)"))
