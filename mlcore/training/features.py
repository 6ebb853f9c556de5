"""Training arrays precomputed once per (dataset, split, size): the network's bottleneck must
be the network, not JPEG decoding, Lab conversion or nearest-bin search.

For each image: L at SIZE (float16), ab at SIZE/4 (area average, float16) and its soft
encoding (indices int16, weights float16). Stored as .npy files under DATA_DIR/cache/.
"""
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..color import rgb_to_lab
from ..quantize import SOFT_NEIGHBOURS, SOFT_SIGMA, ab_bin_centres, soft_encode
from .dataset import read_manifest
from ..lightness import normalise_lightness
from .degrade import degrade as degrade_lightness

OUTPUT_STRIDE = 4  # both architectures predict at 1/4 of the input resolution


def lab_arrays(path, size):
    rgb = Image.open(path).convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    lab = rgb_to_lab(np.asarray(rgb))
    q = size // OUTPUT_STRIDE
    ab_small = lab[..., 1:].reshape(q, OUTPUT_STRIDE, q, OUTPUT_STRIDE, 2).mean((1, 3))
    return lab[..., 0], ab_small


def _encode_one(args):
    path, size, k, sigma, degrade, normalise, seed = args
    lightness, ab = lab_arrays(path, size)
    if degrade:
        rng = np.random.default_rng(seed)
        if rng.random() < degrade:
            lightness = degrade_lightness(lightness, rng)
    if normalise:
        lightness = normalise_lightness(lightness)
    idx, w = soft_encode(ab, k, sigma)
    return lightness.astype(np.float16), ab.astype(np.float16), idx.astype(np.int16), w.astype(np.float16)


class SplitArrays:
    """Memory-mapped arrays of one split: L (N,1,S,S), ab (N,2,q,q), idx and w (N,q,q,k)."""

    def __init__(self, directory):
        d = Path(directory)
        self.L = np.load(d / "L.npy", mmap_mode="r")
        self.ab = np.load(d / "ab.npy", mmap_mode="r")
        self.idx = np.load(d / "idx.npy", mmap_mode="r")
        self.w = np.load(d / "w.npy", mmap_mode="r")
        self.clean_L = None  # the photo's own L, where L is damaged or normalised (attach_clean_lightness)

    def __len__(self):
        return len(self.L)


def cache_dir(data_dir, split, size, k=SOFT_NEIGHBOURS, sigma=SOFT_SIGMA, degrade=0.0, normalise=False):
    """Where a split's arrays live; L as the network sees it (old-print damage on a share `degrade`
    of the photos, tones normalised) is part of the name, the targets are the clean photo's."""
    variant = (f"_deg{degrade:g}" if degrade else "") + ("_norm" if normalise else "")
    return Path(data_dir) / "cache" / f"{split}_s{size}_k{k}_sigma{sigma:g}_q{len(ab_bin_centres())}{variant}"


def attach_clean_lightness(arrays, data_dir, split, size, k=SOFT_NEIGHBOURS, sigma=SOFT_SIGMA, progress=None):
    """Give a variant's arrays the photo's own L (the plain arrays' L), for a loss that judges the
    finished photo: the product recombines its colours with the photo's own L, never the damaged one."""
    arrays.clean_L = build_split_arrays(data_dir, split, size, k, sigma, progress=progress).L
    return arrays


def build_split_arrays(data_dir, split, size, k=SOFT_NEIGHBOURS, sigma=SOFT_SIGMA, workers=None, progress=None,
                       degrade=0.0, normalise=False):
    """Compute (or reuse) the cached arrays of a split and return them memory-mapped. With `degrade`,
    that share of the photos gets old-print damage on its L (seeded by its row)."""
    target = cache_dir(data_dir, split, size, k, sigma, degrade, normalise)
    if (target / "done").exists():
        return SplitArrays(target)
    rows = read_manifest(data_dir, split)
    if not rows:
        raise ValueError(f"split {split!r} of {data_dir} is empty")
    n, q = len(rows), size // OUTPUT_STRIDE
    target.mkdir(parents=True, exist_ok=True)
    arrays = {
        "L": np.lib.format.open_memmap(target / "L.npy", "w+", np.float16, (n, 1, size, size)),
        "ab": np.lib.format.open_memmap(target / "ab.npy", "w+", np.float16, (n, 2, q, q)),
        "idx": np.lib.format.open_memmap(target / "idx.npy", "w+", np.int16, (n, q, q, k)),
        "w": np.lib.format.open_memmap(target / "w.npy", "w+", np.float16, (n, q, q, k)),
    }
    jobs = [(str(Path(data_dir) / r["path"]), size, k, sigma, degrade, normalise, [i, 7919])
            for i, r in enumerate(rows)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        for i, (lightness, ab, idx, w) in enumerate(pool.map(_encode_one, jobs, chunksize=64)):
            arrays["L"][i, 0] = lightness
            arrays["ab"][i] = ab.transpose(2, 0, 1)
            arrays["idx"][i] = idx
            arrays["w"][i] = w
            if progress:
                progress()
    for a in arrays.values():
        a.flush()
    (target / "done").write_text(str(n))
    return SplitArrays(target)
