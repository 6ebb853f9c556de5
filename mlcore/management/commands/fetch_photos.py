"""Copy the extra training photos out of their public git repositories into DATA/extra/.

The sources (repository, commit, folders, cap, terms) are listed in
mlcore/training/photo_sources.py; that table is the model card's record of the data.
"""
import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mlcore.training.photo_sources import SOURCES, by_name, extract, mirror_of


class Command(BaseCommand):
    help = "Extract the extra photo sources from bare git mirrors (cloned from GitHub when absent)."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="sources to fetch (default: all)")
        parser.add_argument("--mirrors", default="/work/.mirror",
                            help="folder of bare repositories (owner+name/repo or owner+name.git)")
        parser.add_argument("--out", default="data/extra", help="where each source's folder is written")

    def handle(self, *args, names, mirrors, out, verbosity, **opts):
        try:
            sources = [by_name(n) for n in names] if names else list(SOURCES)
        except KeyError as exc:
            raise CommandError(exc.args[0])
        Path(mirrors).mkdir(parents=True, exist_ok=True)
        for source in sources:
            shutil.rmtree(Path(out) / source.name, ignore_errors=True)
            written, missing = extract(source, mirror_of(source, mirrors), out)
            line = f"{source.name}: {written} photos from {source.repository}@{source.commit[:10]}"
            self.stdout.write(line + (f" ({missing} blobs missing from the mirror)" if missing else ""))
