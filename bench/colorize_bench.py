"""Speed of the shipped colorizer against the paper's full-width network, on this machine.

    python bench/colorize_bench.py [--model PATH] [--threads N] [--repeats 5]

Prints: forward ms at 256x256 (batch 1), end-to-end seconds for a 1024x768 photo (load, L,
network, decode, full-resolution recombination, PNG-ready image), and training images/s at
128x128 for the default architecture (decoder on cached encoder features, as train.py does)
and for ECCV16 at width 1/4. Random weights where the timing does not depend on them.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image

from mlcore.checkpoint import save_model
from mlcore.colorizer import DEFAULT_MODEL_PATH, Colorizer
from mlcore.losses import compute_loss
from mlcore.networks import build_model, count_parameters
from mlcore.quantize import ab_bin_centres, soft_encode


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000


def full_width_colorizer(directory):
    centres = ab_bin_centres()
    path = os.path.join(directory, "eccv16_full.pt")
    model = build_model("eccv16", len(centres), width=1.0)
    save_model(path, model, arch="eccv16", width=1.0, loss="rebalanced", centres=centres,
               bin_weights=np.ones(len(centres)), prior=np.full(len(centres), 1 / len(centres)), size=256,
               meta={"inference": {"size": 256}})
    return Colorizer.load(path, device="cpu")


def photo_1024x768():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    return Image.fromarray(small).resize((1024, 768), Image.Resampling.BICUBIC)


def training_images_per_s(arch, width, steps=6, batch=32, size=128):
    centres = ab_bin_centres()
    model = build_model(arch, len(centres), width).to(memory_format=torch.channels_last).train()
    q = size // 4
    rng = np.random.default_rng(0)
    ab = rng.normal(0, 30, (batch, q, q, 2)).astype(np.float32)
    idx, w = soft_encode(ab)
    lightness = torch.rand(batch, 1, size, size) * 100
    b = {"L": lightness.contiguous(memory_format=torch.channels_last), "idx": torch.from_numpy(idx),
         "w": torch.from_numpy(w), "ab": torch.from_numpy(ab).permute(0, 3, 1, 2)}
    weights = torch.ones(len(centres))
    if arch == "lite0":  # train.py trains the decoder on encoder features computed once
        with torch.no_grad():
            feats = [f.contiguous(memory_format=torch.channels_last) for f in model.encoder(lightness)]
        params = model.decoder.parameters()
        forward = lambda: model.decoder(feats, model.lightness_at_quarter(lightness, feats[0].shape[-2:]))
    else:
        params = model.parameters()
        forward = lambda: model(b["L"])
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = forward()
        loss = compute_loss("rebalanced", out, b, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ms = median_ms(step, steps)
    return batch / (ms / 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} cores")
    photo = photo_1024x768()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [("default (" + Path(args.model).name + ")", Colorizer.load(args.model, device="cpu")),
                ("eccv16 full width", full_width_colorizer(tmp))]
        results = {}
        for name, c in rows:
            x256 = torch.rand(1, 1, 256, 256) * 100
            fwd = median_ms(lambda: c.outputs(x256), args.repeats)
            e2e = median_ms(lambda: c.colorize(photo), args.repeats) / 1000
            results[name] = (fwd, e2e)
            print(f"{name:<28} params {count_parameters(c.model) / 1e6:6.2f} M   forward@256 {fwd:7.1f} ms   "
                  f"end-to-end 1024x768 {e2e:6.3f} s   (predicts at {c.size}px)")
    (d_fwd, d_e2e), (f_fwd, f_e2e) = results.values()
    print(f"speed-up vs full width: forward {f_fwd / d_fwd:.1f}x, end-to-end {f_e2e / d_e2e:.1f}x")
    for arch, width, label in (("lite0", 1.0, "lite0 decoder (default arch)"), ("eccv16", 0.25, "eccv16 width 1/4")):
        print(f"training @128 {label:<30} {training_images_per_s(arch, width):6.1f} images/s (bf16, channels_last)")


if __name__ == "__main__":
    main()
