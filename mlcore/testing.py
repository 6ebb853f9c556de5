"""Helpers for the test suites of the site and the core: a tiny model that loads in milliseconds."""
import numpy as np
import torch

from .checkpoint import save_model
from .networks import build_model
from .quantize import ab_bin_centres, output_channels

# Widths small enough to load and run in a blink; colours are meaningless either way.
TINY_WIDTHS = {"eccv16": 1 / 16, "lite0hint": 1 / 8, "lite0semguide": 1 / 8}


def make_tiny_model(path, loss="rebalanced", seed=0, arch="eccv16"):
    """Write a random-weight model (ECCV16 at 1/16 width by default; `arch="lite0hint"` or
    "lite0semguide" for one that takes colour hints, whose frozen encoder is the wheel's, as in a
    real model file)."""
    torch.manual_seed(seed)
    centres = ab_bin_centres()
    width = TINY_WIDTHS[arch]
    model = build_model(arch, output_channels(loss, len(centres)), width=width, pretrained=False).eval()
    uniform = np.full(len(centres), 1.0 / len(centres), dtype=np.float32)
    # Uneven rebalancing weights, as a trained model has, so that vividness (which moves the
    # prior correction by log w) changes the colours of the tiny model too.
    bin_weights = np.exp(np.random.default_rng(seed).normal(0.0, 0.5, len(centres))).astype(np.float32)
    save_model(path, model, arch=arch, width=width, loss=loss, centres=centres,
               bin_weights=bin_weights, prior=uniform, size=64,
               meta={"tiny_test_model": True, "inference": {"size": 64}})
    return path
