"""Colorize photos from the command line: DIR/<input stem>.png for each input, at its size.

Example:
    python manage.py colorize old/*.jpg --out-dir colored/ --temperature 0.38
"""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, UnidentifiedImageError

from mlcore.checkpoint import ModelFileError
from mlcore.colorizer import Colorizer, check_temperature
from mlcore.imageio import load_image


class Command(BaseCommand):
    help = "Colorize black-and-white photos with the default (or a given) model."

    def add_arguments(self, parser):
        parser.add_argument("inputs", nargs="+")
        parser.add_argument("--out-dir", required=True)
        parser.add_argument("--temperature", type=float, help="annealed-mean temperature (model's default if omitted)")
        parser.add_argument("--model", help="model file (default: the shipped model)")
        parser.add_argument("--device", default="auto")

    def handle(self, *args, inputs, out_dir, temperature, model, device, verbosity, **opts):
        try:
            if temperature is not None:
                check_temperature(temperature)
            colorizer = Colorizer.load(model or getattr(settings, "COLORIZER_MODEL_PATH", None), device=device)
        except (ValueError, ModelFileError) as exc:
            raise CommandError(str(exc)) from exc
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        failures = 0
        for path in inputs:
            try:
                img = load_image(path)
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
                failures += 1
                self.stderr.write(f"{path}: not a readable image ({exc})")
                continue
            target = out / f"{Path(path).stem}.png"
            colorizer.colorize(img, temperature).save(target)
            if verbosity:
                self.stdout.write(f"{path} -> {target}")
        if failures:
            raise CommandError(f"{failures} of {len(inputs)} inputs could not be colorized")
