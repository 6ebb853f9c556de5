"""Add pairs to the real-or-fake study (/study/): for each color photo, the photo itself and
the model's colorization of its lightness, at the same size, recorded with the model's version.

Photos already in the study for this model are not added again, so the command can be re-run
(`make run` seeds the study this way on every start, and the second start finds nothing to do
without loading the model). Gray, toned (sepia...) and unreadable files are skipped and counted. Use photos the
model was not trained on: a prepared pool's test split (`--split test`), for instance.

Without a prepared pool, `--held-out` takes source folders (as prepare_dataset reads them) and
uses only the photos that the shipped model's pool would put in its test split, found without
writing the pool (mlcore.splits.pool_test_split); this is how `make run` seeds a fresh clone.

Examples:
    python manage.py study_add ~/photos/holiday/ some.jpg --count 20
    python manage.py study_add data/pool --split test --count 40 --model runs/lite0_rebal.pt
    python manage.py study_add --held-out ../shared/datasets/voc2007_subset --count 40
"""

import csv
import random
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mlcore.modelfile import read_summary
from mlcore.paths import model_path as configured_model
from mlcore.splits import IMAGE_SUFFIXES, pool_test_split
from study.models import Pair
from study.pairs import file_sha256, make_pair, real_photo

MANIFEST = "manifest.csv"  # as prepare_dataset writes it: path, source, class, split
# How the shipped model's pool was prepared (mlcore/weights/MODEL_CARD.md:
# `prepare_dataset ../shared/datasets/*/ --out data/pool --fraction 1 --seed 0`, size 256).
SHIPPED_POOL = {"fraction": 1.0, "seed": 0, "size": 256}


def positive_int(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{value!r} is not a whole number of 1 or more")
    return number


def photos_in(paths, split=None, held_out=False):
    """Every image file named or under a named folder, sorted. With `split`, folders must be
    prepared pools (manifest.csv) and only that split's photos are taken; with `held_out`,
    folders are a pool's sources and only what SHIPPED_POOL's test split holds is taken."""
    found = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise CommandError(f"{given}: no such file or folder")
        if held_out:
            if not path.is_dir():
                raise CommandError(f"{given}: --held-out takes source folders, as prepare_dataset does")
            found |= set(pool_test_split(path, **SHIPPED_POOL))
        elif split:
            manifest = path / MANIFEST
            if not manifest.is_file():
                raise CommandError(f"{given}: --split needs a folder prepared by prepare_dataset (no {MANIFEST})")
            with open(manifest, newline="") as fh:
                rows = list(csv.DictReader(fh))
            if rows and not {"path", "split"} <= set(rows[0]):
                raise CommandError(f"{manifest}: expected the columns path and split")
            found |= {path / r["path"] for r in rows if r["split"] == split}
        elif path.is_dir():
            found |= {p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
        else:
            found.add(path)
    return sorted(found)


class Command(BaseCommand):
    help = "Add real-or-fake pairs (a color photo and its colorization) to the study."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="color photos, or folders of them")
        parser.add_argument("--count", type=positive_int, metavar="N",
                            help="take N of the photos, drawn at random with --seed (default: all of them)")
        parser.add_argument("--model", metavar="PATH", help="model file (default: the one the site uses)")
        parser.add_argument("--split", help="with prepared pools (manifest.csv): only this split, e.g. test")
        parser.add_argument("--held-out", action="store_true",
                            help="PATHs are source folders: only the photos the shipped model's pool holds out "
                                 "for testing (no pool needed)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the draw of --count photos")

    def handle(self, *args, paths, count, model, split, held_out, seed, verbosity, **options):
        model_path = configured_model(model or settings.COLORIZER_MODEL_PATH)
        try:
            version = read_summary(model_path)["version"]
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot use model {model_path}: {exc}") from exc
        if split and held_out:
            raise CommandError("--split (a prepared pool) and --held-out (its sources) do not go together")
        photos = photos_in(paths, split, held_out)
        if not photos:
            raise CommandError("no photos found" + (f" in the {split} split" if split else ""))
        if count:
            # The same photos for the same inputs and seed, so a re-run finds them already there.
            random.Random(seed).shuffle(photos)
        wanted = count or len(photos)

        colorizer = None
        kept = added = 0
        skipped = {"grayscale": 0, "tinted": 0, "unreadable": 0}
        bar = None  # shown once there is work to do: a re-run that finds everything stays quiet
        for path in photos:
            if kept + added == wanted:
                break
            try:
                sha = file_sha256(path)
            except OSError:  # a folder named like a photo, a file we may not read
                sha = ""
            if sha and Pair.objects.filter(source_sha256=sha, model_version=version).exists():
                kept += 1
                continue
            # Checked before the model is loaded: a re-run that finds only photos it already
            # has, or ones it cannot use, is over in a moment.
            real = real_photo(path) if sha else "unreadable"
            if isinstance(real, str):
                skipped[real] += 1
                if verbosity >= 2:
                    self.stderr.write(f"{path}: skipped ({real})")
                continue
            if colorizer is None:
                colorizer = self.load_colorizer(model_path, version)
                bar = tqdm(total=wanted, initial=kept, unit="pair", leave=False, disable=verbosity < 1 or wanted < 10)
            make_pair(colorizer, real, source=str(path), source_sha256=sha)
            added += 1
            bar.update()
        if bar is not None:
            bar.close()
        if verbosity:
            skips = ", ".join(f"{n} {why}" for why, n in skipped.items() if n)
            self.stdout.write(f"Study: {added} pair(s) added for model {version}"
                              + (f", {kept} already there" if kept else "")
                              + (f"; skipped {skips}" if skips else "") + ".")
        if added + kept == 0:
            raise CommandError("none of the photos could be used (they are gray, toned or unreadable)")

    def load_colorizer(self, model_path, version):
        from mlcore.checkpoint import ModelFileError
        from mlcore.colorizer import Colorizer

        try:
            colorizer = Colorizer.load(model_path, device=settings.COLORIZER_DEVICE)
        except ModelFileError as exc:
            raise CommandError(str(exc)) from exc
        if colorizer.version != version:  # the file changed under us
            raise CommandError(f"model {model_path} changed while the study was being filled; run again")
        return colorizer
