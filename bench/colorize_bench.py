"""Speed of the shipped colorizer against the paper's full-width network, on this machine.

    python bench/colorize_bench.py [--model PATH] [--threads N] [--repeats 5]

Prints: forward ms at 256x256 (batch 1), end-to-end seconds for a 1024x768 photo (load, L,
network, decode, full-resolution recombination, PNG-ready image), and training images/s at
128x128 for the default architecture (decoder on cached encoder features, as train.py does)
and for ECCV16 at width 1/4. Random weights where the timing does not depend on them.

Then what a user of `manage.py colorize` waits for, files written, per 1024x768 photo over
--photos JPEG files: the ECCV16 pipeline as the command ran it before (the paper's full-width
network, one photo after another, PNG at Pillow's default level) against the command's
pipeline now (mlcore.files: the shipped model, the writer thread overlapping the next photo's
network pass, PNG at level 1), and each network through the other pipeline, to show where the
time went.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image

from mlcore.checkpoint import save_model
from mlcore.colorizer import Colorizer
from mlcore.files import colorize_files
from mlcore.imageio import load_image
from mlcore.networks import build_model, count_parameters
from mlcore.paths import DEFAULT_MODEL_PATH
from mlcore.quantize import ab_bin_centres, soft_encode
from mlcore.training.losses import compute_loss


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


def old_cli(colorizer, inputs, out_dir):
    """The command line's loop before mlcore.files: one photo at a time, PNG at Pillow's default."""
    for path in inputs:
        img = load_image(path)
        colorizer.colorize(img).save(Path(out_dir) / f"{Path(path).stem}.png")


def new_cli(colorizer, inputs, out_dir):
    for _, _, error in colorize_files(colorizer, inputs, out_dir):
        assert error is None, error


def seconds_per_photo(pipeline, colorizer, inputs, directory):
    """Median over 3 runs of one pass over the inputs, per photo, files written (first run warms up)."""
    times = []
    for _ in range(4):
        out = Path(directory) / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        start = time.perf_counter()
        pipeline(colorizer, inputs, out)
        times.append((time.perf_counter() - start) / len(inputs))
    return float(np.median(times[1:]))


def photo_files(directory, count):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, (24, 32), dtype=np.uint8)
        path = Path(directory) / f"photo{i}.jpg"
        Image.fromarray(small).resize((1024, 768), Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(str(path))
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--photos", type=int, default=8, help="1024x768 files per command-line run")
    parser.add_argument("--skip-training", action="store_true")
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

        inputs = photo_files(tmp, args.photos)
        (_, default), (_, eccv16) = rows
        cli = {}
        for label, pipeline, colorizer in (("ECCV16 pipeline, as the command ran it", old_cli, eccv16),
                                           ("shipped model, the old command's pipeline", old_cli, default),
                                           ("ECCV16 through the command's pipeline now", new_cli, eccv16),
                                           ("shipped model, manage.py colorize now", new_cli, default)):
            cli[label] = seconds_per_photo(pipeline, colorizer, inputs, tmp)
            print(f"files written, 1024x768: {label:<44} {cli[label] * 1000:7.1f} ms/photo")
        baseline, now = cli["ECCV16 pipeline, as the command ran it"], cli["shipped model, manage.py colorize now"]
        print(f"manage.py colorize vs the ECCV16 pipeline, files written: {baseline / now:.1f}x")
    if args.skip_training:
        return
    for arch, width, label in (("lite0", 1.0, "lite0 decoder (default arch)"), ("eccv16", 0.25, "eccv16 width 1/4")):
        print(f"training @128 {label:<30} {training_images_per_s(arch, width):6.1f} images/s (bf16, channels_last)")


if __name__ == "__main__":
    main()
