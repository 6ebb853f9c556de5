"""Evaluate colorizers as the paper's Table 1 does, on any folder of colour photos.

Rows: ground_truth, gray (ab = 0), random (ab of another photo of the set, seeded), and one per
--model (without --model, the shipped default model, as `default`). Columns: AuC of ab accuracy
over thresholds 0..150, plain and rebalanced; top-1 of an ImageNet classifier (EfficientNet-Lite2)
against --labels, or agreement with its answer on the original photo; model size, activation
memory and runtime at 256x256; PSNR, colourfulness, and the blotch shares (hue flips, false chroma).
Each model colours the photos through the product's own path (network, then mlcore/render.py), so the
figures are those of the pixels that ship. See mlcore/evaluation/ for the details.

The classifier, most of the cost, is asked once per (row, photo): its answers are kept in
settings.VAR_DIR/cache/evaluate (or --cache-dir), so evaluating one more model on the same photos
costs one classifier pass per photo instead of four, and an interrupted run resumes. Example:

    python manage.py evaluate --data data/pool --split test --limit 300 \\
        --model full=runs/lite0_rebal.pt --model l2=runs/abl_lite0_l2.pt \\
        --json runs/eval.json --plot runs/eval.png
"""
import contextlib
import io
import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mlcore.checkpoint import ModelFileError
from mlcore.colorizer import Colorizer
from mlcore.evaluation.classifier import Classifier
from mlcore.evaluation.data import EVAL_SIZE, find_photos, label_of, read_labels
from mlcore.evaluation.evaluate import BASELINES, evaluate
from mlcore.evaluation.report import format_table, json_ready, plot_curves
from mlcore.evaluation.top1 import TopCache
from mlcore.paths import DEFAULT_MODEL_PATH
from mlcore.render import ANNEALED_T, check_temperature


def parse_model_spec(spec):
    """NAME=PATH, or PATH alone (named after the file)."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).stem, spec
    if not name or not path:
        raise CommandError(f"--model {spec!r}: expected NAME=PATH")
    if name in BASELINES:
        raise CommandError(f"--model {spec!r}: {name!r} is the name of a baseline row")
    return name, path


def parse_hint_counts(text):
    """--hints 0,1,2,5: distinct whole numbers of simulated hints, 0 or more (the paper's curve
    goes to 100, beyond a person's limit of 64: these are not a person's)."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise CommandError(f"--hints {text!r}: expected whole numbers separated by commas, e.g. 0,1,2,5,10") from None
    if any(c < 0 for c in counts) or len(set(counts)) != len(counts):
        raise CommandError(f"--hints {text!r}: expected distinct numbers of 0 or more")
    return counts


class Command(BaseCommand):
    help = "Table 1 of Zhang et al. (2016) for colorization models on a folder of colour photos."
    # It uses none of the site: skipping the checks saves importing every view on every run.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, help="folder of colour photos (any depth), or a prepared dataset")
        parser.add_argument("--split", help="only this split of a prepared dataset's manifest.csv (e.g. test)")
        parser.add_argument("--source", action="append", default=[], metavar="NAME",
                            help="with --split: only the photos of this source (repeatable)")
        parser.add_argument("--labels", help="CSV filename,class_index (ImageNet order) for top-1 accuracy")
        parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                            help="a model to evaluate (repeatable); default: the shipped model as 'default'")
        parser.add_argument("--limit", type=int, help="evaluate a seeded random sample of N photos")
        parser.add_argument("--size", type=int, default=EVAL_SIZE, help="evaluation resolution (square)")
        parser.add_argument("--temperature", type=float, default=None,
                            help=f"annealed-mean temperature for every model (default: each model's own, else {ANNEALED_T})")
        parser.add_argument("--json", help="write the results as JSON here")
        parser.add_argument("--plot", help="write a PNG of accuracy against threshold here")
        parser.add_argument("--seed", type=int, default=0, help="seed of the random row and of --limit")
        parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, ...")
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--cache-dir", help="where the classifier's answers are kept (default VAR_DIR/cache/evaluate)")
        parser.add_argument("--no-cache", action="store_true", help="classify every image again and keep no answers")
        parser.add_argument("--no-cost", action="store_true", help="skip measuring params, feats and runtime")
        parser.add_argument("--hints", metavar="N,N,...",
                            help="the hint curve of each model that takes hints: PSNR and AuC with this many "
                                 "hints drawn from the true photo (seeded), e.g. 0,1,2,5,10,20,50,100")

    def handle(self, *args, **opts):
        verbosity = opts["verbosity"]
        if opts["limit"] is not None and opts["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        if opts["size"] < 16:
            raise CommandError("--size must be at least 16")
        try:
            temperature = None if opts["temperature"] is None else check_temperature(opts["temperature"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        hint_counts = parse_hint_counts(opts["hints"]) if opts["hints"] else None
        import torch

        device = opts["device"]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"

        specs = [parse_model_spec(s) for s in opts["model"]]
        if not specs:
            specs = [("default", str(getattr(settings, "COLORIZER_MODEL_PATH", None) or DEFAULT_MODEL_PATH))]
        names = [name for name, _ in specs]
        if len(set(names)) != len(names):
            raise CommandError(f"two models share a name: {', '.join(names)}")
        colorizers = {}
        for name, path in specs:
            if not os.path.isfile(path):
                hint = " (the shipped model is not there yet: pass --model NAME=PATH)" if name == "default" else ""
                raise CommandError(f"model {name}: no file at {path}{hint}")
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # efficientnet_lite_pytorch prints as it loads
                    colorizers[name] = Colorizer.load(path, device=device)
            except ModelFileError as exc:
                raise CommandError(f"model {name}: {exc}") from exc

        if hint_counts and not any(c.takes_hints for c in colorizers.values()):
            raise CommandError("--hints: none of the models takes colour hints")

        try:
            photos = find_photos(opts["data"], opts["split"], opts["limit"], opts["seed"], opts["source"])
            labels = read_labels(opts["labels"]) if opts["labels"] else None
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not photos:
            raise CommandError(f"no photos in {opts['data']}")
        if labels is not None and not any(label_of(p, labels) >= 0 for p in photos):
            raise CommandError(f"none of the photos has a label in {opts['labels']}")

        cache_dir = Path(opts["cache_dir"] or Path(settings.VAR_DIR) / "cache" / "evaluate")
        cache = None if opts["no_cache"] else TopCache(cache_dir)
        # The classifier's exported graph is kept even with --no-cache: it is not an answer.
        classifier = Classifier(device, cache_dir=cache_dir / TopCache.VERSION)

        if verbosity:
            self.stdout.write(f"{len(photos)} photos from {opts['data']}"
                              f"{' (split ' + opts['split'] + ')' if opts['split'] else ''}; rows: "
                              f"{', '.join([*BASELINES, *colorizers])}; device {device}")
        bar = None
        if verbosity:
            from tqdm import tqdm
            bar = tqdm(total=len(photos), unit="img", desc="evaluate", dynamic_ncols=True)
        try:
            result = evaluate(photos, colorizers, size=opts["size"], temperature=temperature, labels=labels,
                                 seed=opts["seed"], batch_size=opts["batch_size"], device=device, classifier=classifier,
                                 measure_cost=not opts["no_cost"], cache=cache,
                                 progress=bar.update if bar else None, hint_counts=hint_counts)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar:
                bar.close()

        data = result.as_dict()
        for row in data["rows"]:
            for name, path in specs:
                if row["method"] == name:
                    row["path"] = path
        data = json_ready(data)
        if verbosity:
            skipped = result.skipped
            if skipped["grayscale"] or skipped["unreadable"]:
                self.stdout.write(f"skipped {skipped['grayscale']} grayscale and {skipped['unreadable']} "
                                  f"unreadable photo(s)")
            if labels is not None:
                self.stdout.write(f"top-1 against labels on {data['labelled_images']} of {result.n_images} photos")
            else:
                self.stdout.write("top-1: agreement with the classifier's answer on the original photo")
            self.stdout.write(format_table(data))
            if "hint_curve" in data:
                self.stdout.write(f"hint curve of {data['hint_curve_model']} (hints: PSNR dB, AuC plain/rebal %): " +
                                  "; ".join(f"{p['hints']}: {p['psnr']:.2f}, {p['auc_plain']:.1f}/{p['auc_rebal']:.1f}"
                                            for p in data["hint_curve"]))
            t = result.timing
            self.stdout.write(
                f"{result.n_images} images, {len(result.rows)} rows in {result.seconds:.1f} s: "
                f"{result.n_images / result.seconds:.2f} images/s (load {t['load']:.1f} s, colorizers "
                f"{t['colorizers']:.1f} s, metrics {t['metrics']:.1f} s, classifier {t['classifier']:.1f} s alongside, for "
                f"{data['classified']} images; {data['classified_from_cache']} answers from the cache)")
        if opts["json"]:
            os.makedirs(os.path.dirname(os.path.abspath(opts["json"])), exist_ok=True)
            with open(opts["json"], "w") as fh:
                json.dump(data, fh, indent=1)
            if verbosity:
                self.stdout.write(f"wrote {opts['json']}")
        if opts["plot"]:
            plot_curves(data, opts["plot"])
            if verbosity:
                self.stdout.write(f"wrote {opts['plot']}")
