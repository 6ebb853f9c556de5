"""Make the before/after of the home page with the shipped model.

A visitor's first question is what the result looks like: the home page
answers with a real photo, turned to gray and colorized by the model people
will get, not with a drawing. The pair is made once and committed under
static/img/home/ (web processes never load the network); run this again
after the default model changes. The source is one of scikit-image's sample
photos (public domain or freely licensed), which ships with the virtualenv.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from PIL import Image

# Sample photos of skimage.data that make a fair example: a wide scene in
# which the model has to find sky, metal and lights.
SAMPLES = ("rocket", "chelsea", "coffee", "astronaut")
DEFAULT_OUT = Path(settings.BASE_DIR) / "static" / "img" / "home"
JPEG_QUALITY = 85


class Command(BaseCommand):
    help = "Colorize a scikit-image sample photo with the shipped model for the home page's before/after."

    def add_arguments(self, parser):
        parser.add_argument("--photo", default=SAMPLES[0], choices=SAMPLES, help="skimage.data sample")
        parser.add_argument("--model", help="model file (default: the site's model)")
        parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for before.jpg, after.jpg, example.json")
        parser.add_argument("--dry-run", action="store_true", help="colorize, but write nothing")

    def handle(self, *args, photo, model, out, dry_run, verbosity, **options):
        import skimage.data

        from mlcore.checkpoint import ModelFileError
        from mlcore.colorizer import Colorizer

        try:
            colorizer = Colorizer.load(model or settings.COLORIZER_MODEL_PATH, device="cpu")
        except ModelFileError as e:
            raise CommandError(str(e)) from e
        # The model sees only lightness; people see the gray the model saw.
        before = Image.fromarray(getattr(skimage.data, photo)()).convert("L")
        after = colorizer.colorize(before)
        about = {
            "source": f"skimage.data.{photo}()",
            "model_version": colorizer.version,
            "temperature": colorizer.default_temperature,
            "width": before.width,
            "height": before.height,
            "made": timezone.now().isoformat(timespec="seconds"),
        }
        if dry_run:
            self.stdout.write(f"Would write before/after of {about['source']} by {colorizer.version}")
            return
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        before.save(folder / "before.jpg", quality=JPEG_QUALITY, optimize=True)
        after.save(folder / "after.jpg", quality=JPEG_QUALITY, optimize=True)
        (folder / "example.json").write_text(json.dumps(about, indent=2) + "\n")
        if verbosity:
            self.stdout.write(f"Wrote {folder}/before.jpg and after.jpg ({about['source']}, {colorizer.version})")
