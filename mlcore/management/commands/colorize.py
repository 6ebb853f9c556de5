"""Colorize photos from the command line: DIR/<input stem>.png (or .jpg) for each input, at its size.

Examples:
    python manage.py colorize old/*.jpg --out-dir colored/
    python manage.py colorize scans/*.tif --out-dir colored/ --format jpeg --vividness 70
    python manage.py colorize grandma.jpg --out-dir colored/ --hints hints.json

--hints takes the JSON of the API's PUT /api/v1/photos/{id}/hints/, checked by the same rule
(mlcore/hint_points.py): {"hints": [{"x": 0.42, "y": 0.31, "color": "#b03a2e"}, ...]}, x and y
fractions of the photo's width and height from the top-left. It needs a model that takes hints.

The pixels are the site's and the API's for the same photo and settings: one decoding path
(mlcore.render), and the model file's own settings when none are given. The network works on
the next photo while the previous one is written (mlcore/files.py); a progress bar shows on
the terminal for several inputs (-v 2 lists each file, -v 0 is silent).
"""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mlcore.checkpoint import ModelFileError
from mlcore.colorizer import Colorizer
from mlcore.files import FORMATS, colorize_files
from mlcore.hint_points import HintError, validate_hints
from mlcore.imageio import JPEG_QUALITY
from mlcore.paths import model_path
from mlcore.render import check_temperature, check_vividness

# Photos a GPU colorizes in one pass of the network by default. A CPU gains nothing from
# batches and keeps one, so its output is exactly the site's.
GPU_BATCH = 8


class Command(BaseCommand):
    help = "Colorize black-and-white photos with the default (or a given) model."
    requires_system_checks = []  # the site's checks (Redis, ...) are nothing to a command line

    def add_arguments(self, parser):
        parser.add_argument("inputs", nargs="+")
        parser.add_argument("--out-dir", required=True)
        parser.add_argument("--format", choices=sorted(FORMATS), default="png",
                            help="png (lossless, the default) or jpeg")
        parser.add_argument("--quality", type=int, default=JPEG_QUALITY, help="JPEG quality, 1 to 100")
        parser.add_argument("--vividness", type=float,
                            help="how colorful, 0 to 100 (50, the model's own, if omitted)")
        parser.add_argument("--temperature", type=float,
                            help="expert: annealed-mean temperature (the model's own if omitted)")
        parser.add_argument("--model", help="model file (default: COLORIZER_MODEL, else the shipped model)")
        parser.add_argument("--device", default="auto")
        parser.add_argument("--batch", type=int, help=f"photos per network pass ({GPU_BATCH} on a GPU, 1 on a CPU)")
        parser.add_argument("--hints", metavar="HINTS.json",
                            help='colour hints for one photo, as the API takes them: {"hints": [{"x", "y", "color"}]}')

    def handle(self, *args, inputs, out_dir, format, quality, vividness, temperature, model, device, batch,
               verbosity, hints=None, **opts):
        try:
            hints = read_hints(hints, inputs) if hints else None
            if temperature is not None:
                check_temperature(temperature)
            if vividness is not None:
                check_vividness(vividness)
            if not 1 <= quality <= 100:
                raise ValueError("quality must be between 1 and 100")
            if batch is not None and batch < 1:
                raise ValueError("batch must be at least 1")
            colorizer = Colorizer.load(model_path(model or settings.COLORIZER_MODEL_PATH), device=device)
            if hints and not colorizer.takes_hints:
                raise ValueError(f"the model {colorizer.version} cannot take colour hints")
            out_dir_path = Path(out_dir)
            out_dir_path.mkdir(parents=True, exist_ok=True)
        except (ValueError, ModelFileError, OSError) as exc:  # HintError is a ValueError
            raise CommandError(str(exc)) from exc
        batch = batch or (GPU_BATCH if colorizer.device.type == "cuda" else 1)
        save_kwargs = {"quality": quality} if format == "jpeg" else {}
        # On the terminal's stderr (tqdm's default): Django's OutputWrapper would end every
        # redraw with a newline.
        progress = tqdm(total=len(inputs), unit="photo", disable=verbosity < 1 or len(inputs) < 2)
        failures = 0
        for path, target, error in colorize_files(colorizer, inputs, out_dir_path, format, vividness, temperature,
                                                  batch, hints, **save_kwargs):
            progress.update(1)
            if error:
                failures += 1
                self.stderr.write(f"{path}: {error}")
            elif verbosity >= 2 or (verbosity == 1 and progress.disable):
                self.stdout.write(f"{path} -> {target}")
        progress.close()
        if failures:
            raise CommandError(f"{failures} of {len(inputs)} inputs could not be colorized")


def read_hints(path, inputs):
    """The validated hints of a --hints file (the API's JSON), for one input photo."""
    import json

    if len(inputs) != 1:
        raise ValueError("--hints are points on one photo: give one input with them")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--hints {path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or "hints" not in data:
        raise ValueError(f'--hints {path}: expected {{"hints": [{{"x", "y", "color"}}, ...]}}')
    try:
        return validate_hints(data["hints"])
    except HintError as exc:
        raise ValueError(f"--hints {path}: {exc}") from exc
