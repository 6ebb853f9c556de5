"""The paper's Table 1 for any colorizers on any folder of colour photos (Sec. 3.1).

Each photo is resized to SIZE x SIZE; a model colours that photo through the product's own
function (model_rgb: the network, then render.render, the pixels `manage.py colorize` writes),
so the figures are those of what ships. Every row's result is an 8-bit sRGB image (what a
person receives, so out-of-gamut predictions are clipped), compared with the original by the
measures of
metrics.py, the classifier of top1.py (`top1`: against labels when given; otherwise the share
of images on which it names the same class as on the ground-truth photo) and, once per model,
cost.py (`params_mb`, `feats_mb`, `runtime_ms` at 256x256, batch 1).

Rows: `ground_truth`, `gray` (ab = 0), `random` (ab of another photo of the set, chosen with a
seeded generator), then one per model. Nothing here imports Django.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ..color import lab_to_rgb, rgb_to_lab
from ..hints import OUTPUT_STRIDE
from ..render import ANNEALED_T, render
from .classifier import Classifier
from .cost import model_cost
from .data import EVAL_SIZE, label_of, load_photo, random_donors
from .hint_curve import curve as hint_curve
from .hint_curve import hint_maps
from .metrics import AccuracyHistogram, BlotchCounts, GroundTruthBins, colorfulness, psnr
from .top1 import classify, photo_key

BASELINES = ("ground_truth", "gray", "random")


@dataclass
class Row:
    method: str
    num_bins: int
    hist: AccuracyHistogram = None
    blotches: BlotchCounts = field(default_factory=BlotchCounts)
    top1_hits: int = 0
    top1_count: int = 0
    psnr_sum: float = 0.0
    psnr_count: int = 0
    colorfulness_sum: float = 0.0
    images: int = 0
    params_mb: float | None = None
    feats_mb: float | None = None
    runtime_ms: float | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.hist = AccuracyHistogram(self.num_bins)

    def add(self, rgb_pred, ab_true, gt_bins, rgb_true):
        # The ground truth's ab is already known (rgb_to_lab of the same pixels).
        ab_pred = ab_true if rgb_pred is rgb_true else rgb_to_lab(rgb_pred)[..., 1:]
        self.hist.add(ab_pred, ab_true, gt_bins)
        self.blotches.add(ab_pred, ab_true)
        p = psnr(rgb_pred, rgb_true)
        finite = np.isfinite(p)
        self.psnr_sum += float(p[finite].sum())
        self.psnr_count += int(finite.sum())
        self.colorfulness_sum += float(colorfulness(rgb_pred).sum())
        self.images += len(rgb_pred)

    @property
    def colorfulness(self):
        return self.colorfulness_sum / self.images

    def as_dict(self, ground_truth_colorfulness):
        has_psnr = self.method != "ground_truth" and self.psnr_count > 0
        return {
            "method": self.method,
            "auc_plain": self.hist.auc(False),
            "auc_rebal": self.hist.auc(True),
            "top1": 100.0 * self.top1_hits / self.top1_count if self.top1_count else None,
            "params_mb": self.params_mb,
            "feats_mb": self.feats_mb,
            "runtime_ms": self.runtime_ms,
            "psnr": self.psnr_sum / self.psnr_count if has_psnr else None,
            "colorfulness": self.colorfulness,
            "colorfulness_gap": self.colorfulness - ground_truth_colorfulness,
            **self.blotches.percentages(),
            "curve_plain": [round(float(v), 6) for v in self.hist.curve(False)],
            "curve_rebal": [round(float(v), 6) for v in self.hist.curve(True)],
            **self.extra,
        }


def model_rgb(colorizer, rgb, temperature=None, hint_maps=None):
    """8-bit RGB (N, S, S, 3) of a batch of photos (N, S, S, 3) coloured by the product's own
    path: Colorizer.predict_many, then render.render at the model's default vividness, as
    `manage.py colorize`, the site and the API write them. temperature None: the model's own;
    hint_maps: simulated hints (hint_curve.py) for a model that takes them."""
    photos = [Image.fromarray(pixels) for pixels in rgb]
    predictions = colorizer.predict_many(photos, hint_maps=hint_maps)
    return np.stack([np.asarray(render(prediction, photo, temperature=temperature))
                     for prediction, photo in zip(predictions, photos)])


def compose_ab(lightness, ab):
    lab = np.concatenate([lightness[..., None], np.broadcast_to(ab, lightness.shape + (2,))], -1)
    return lab_to_rgb(lab)


@dataclass
class Result:
    n_images: int
    rows: list
    skipped: dict
    seconds: float
    timing: dict
    settings: dict
    hint_rows: dict = field(default_factory=dict)  # {model: {hint count: Row}}

    def as_dict(self):
        gt = next(r for r in self.rows if r.method == "ground_truth").colorfulness
        rows = [r.as_dict(gt) for r in self.rows]
        curves = {name: hint_curve(by_count, list(by_count), gt) for name, by_count in self.hint_rows.items()}
        for row in rows:
            if row["method"] in curves:
                row["hint_curve"] = curves[row["method"]]
        first = next(iter(curves), None)  # the usual case evaluates one model with --hints
        return {"n_images": self.n_images, "rows": rows,
                **({"hint_curve": curves[first], "hint_curve_model": first} if first else {}),
                "skipped": self.skipped, "seconds": round(self.seconds, 2),
                "images_per_second": round(self.n_images / self.seconds, 2) if self.seconds else None,
                "timing": {k: round(v, 2) for k, v in self.timing.items()}, **self.settings}


def evaluate(photos, colorizers, *, size=EVAL_SIZE, temperature=ANNEALED_T, labels=None, seed=0,
             classifier=None, batch_size=16, device="cpu", measure_cost=True, cache=None, progress=None,
             hint_counts=None):
    """Evaluate {name: Colorizer} against the baselines on a list of Photo.

    labels: {filename: ImageNet class} or None (top-1 then measures agreement with the
    classifier's answer on the ground truth); cache: a TopCache or None; hint_counts: numbers
    of simulated hints for the hint curve of each model that takes hints (hint_curve.py).
    progress(n) is called after each batch with the number of photos it held.
    Returns a Result; Result.as_dict() is the JSON of the `evaluate` command.
    """
    for name in colorizers:
        if name in BASELINES:
            raise ValueError(f"a model cannot be called {name!r}: that is a baseline row")
    if not photos:
        raise ValueError("no photos to evaluate")
    classifier = classifier or Classifier(device, cache_dir=cache.directory if cache is not None else None)
    gt_bins_of = GroundTruthBins()
    rows = {name: Row(name, len(gt_bins_of)) for name in (*BASELINES, *colorizers)}
    row_keys = {name: f"{name}-s{size}" for name in BASELINES}
    # temperature None: each model decodes at its own default (chosen on validation data).
    temperatures = {name: c.default_temperature if temperature is None else temperature for name, c in colorizers.items()}
    for name, colorizer in colorizers.items():
        rows[name].extra = {"model": colorizer.version, "inference_size": colorizer.size,
                            "temperature": None if colorizer.is_regression else temperatures[name],
                            "prior_correction": None if colorizer.is_regression else colorizer.prior_correction}
        decoding = "l2" if colorizer.is_regression else f"T{temperatures[name]:g}-c{colorizer.prior_correction:g}"
        row_keys[name] = f"model-{colorizer.info['sha256'][:16]}-s{size}-{decoding}"
        if measure_cost:
            # At 256x256 whatever `size` is, as the paper's columns are.
            rows[name].params_mb, rows[name].feats_mb, rows[name].runtime_ms = model_cost(
                colorizer.model, EVAL_SIZE, colorizer.device)
    hint_rows = {name: {count: Row(f"{name}+{count}", len(gt_bins_of)) for count in hint_counts}
                 for name, colorizer in colorizers.items() if hint_counts and colorizer.takes_hints}
    donors = random_donors(len(photos), seed)
    skipped = {"grayscale": 0, "unreadable": 0}
    timing = {"load": 0.0, "colorizers": 0.0, "metrics": 0.0, "classifier": 0.0}
    usable = {}  # index -> whether the photo can be evaluated, once known

    def load(i):
        out = load_photo(photos[i].path, size)
        usable[i] = not isinstance(out, str)
        return out

    def donor(i, own):
        # The drawn donor, or if it cannot be evaluated the next photo of the list that can;
        # the photo itself only when no other can. Returns (index, rgb).
        for k in range(len(photos)):
            j = (donors[i] + k) % len(photos)
            if j != i and usable.get(j) is not False:
                rgb = load(j)
                if not isinstance(rgb, str):
                    return j, rgb
        return i, own

    def score_top1(index, predictions, photo_keys, flush):
        # Runs in the classifier's thread: the only one that touches `cache` and the top-1 counts.
        t = time.perf_counter()
        top, count = classify(classifier, cache, predictions, row_keys, photo_keys)
        truth = (np.array([label_of(photos[i], labels) for i in index]) if labels is not None
                 else top["ground_truth"])
        known = truth >= 0
        for name in predictions:
            rows[name].top1_hits += int((top[name][known] == truth[known]).sum())
            rows[name].top1_count += int(known.sum())
        if flush:
            cache.flush()
        return count, time.perf_counter() - t

    # The classifier (most of the cost, and multithreaded outside the GIL) works on one batch
    # while this thread loads, colorizes and measures the next.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier")
    pending = None

    def collect():
        nonlocal classified, pending
        if pending is not None:
            count, seconds = pending.result()
            classified += count
            timing["classifier"] += seconds
            pending = None

    started = time.perf_counter()
    n_images = classified = 0
    try:
        for start in range(0, len(photos), batch_size):
            stop = min(start + batch_size, len(photos))
            t0 = time.perf_counter()
            index, rgbs = [], []
            for i in range(start, stop):
                rgb = load(i)
                if isinstance(rgb, str):
                    skipped[rgb] += 1
                else:
                    index.append(i)
                    rgbs.append(rgb)
            if index:
                donor_index, donor_rgbs = zip(*[donor(i, rgb) for i, rgb in zip(index, rgbs)])
                rgb_true = np.stack(rgbs)
                lab_true = rgb_to_lab(rgb_true)
                lightness, ab_true = np.ascontiguousarray(lab_true[..., 0]), lab_true[..., 1:]
                gt_bins = gt_bins_of(ab_true)
                predictions = {
                    "ground_truth": rgb_true,
                    "gray": compose_ab(lightness, np.zeros(2, np.float32)),
                    "random": compose_ab(lightness, rgb_to_lab(np.stack(donor_rgbs))[..., 1:]),
                }
                t1 = time.perf_counter()
                for name, colorizer in colorizers.items():
                    predictions[name] = model_rgb(colorizer, rgb_true, temperatures[name])
                    for count, row in hint_rows.get(name, {}).items():
                        maps = hint_maps(ab_true, colorizer.size // OUTPUT_STRIDE, index, count, seed)
                        row.add(model_rgb(colorizer, rgb_true, temperatures[name], maps), ab_true, gt_bins, rgb_true)
                t2 = time.perf_counter()
                for name, rgb_pred in predictions.items():
                    rows[name].add(rgb_pred, ab_true, gt_bins, rgb_true)
                t3 = time.perf_counter()
                own = [photo_key(photos[i]) for i in index] if cache is not None else [None] * len(index)
                photo_keys = {name: own for name in predictions}
                if cache is not None:  # the random row's images depend on the donor too
                    photo_keys["random"] = [f"{k}<{photo_key(photos[j])}" for k, j in zip(own, donor_index)]
                collect()  # at most one batch waits for the classifier: memory stays bounded
                flush = cache is not None and (start // batch_size) % 20 == 19
                pending = pool.submit(score_top1, index, predictions, photo_keys, flush)
                for key, seconds in zip(timing, (t1 - t0, t2 - t1, t3 - t2)):
                    timing[key] += seconds
                n_images += len(index)
            if progress:
                progress(stop - start)
        collect()
    finally:  # an interrupted run keeps what the classifier said, and resumes from it
        pool.shutdown(wait=True)  # at most one batch: the answers it gets are kept too
        if cache is not None:
            cache.flush()
    if n_images == 0:
        raise ValueError(f"none of the {len(photos)} photos is a readable colour photo")
    settings = {"size": size, "temperature": temperature, "seed": seed, "classifier": Classifier.name,
                "classifier_backend": classifier.backend,
                "top1_mode": "labels" if labels is not None else "agreement_with_ground_truth",
                "labelled_images": rows["ground_truth"].top1_count if labels is not None else None,
                "device": str(torch.device(device)), "classified": classified,
                "classified_from_cache": len(rows) * n_images - classified}
    return Result(n_images, list(rows.values()), skipped, time.perf_counter() - started, timing, settings, hint_rows)
