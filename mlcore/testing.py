"""Helpers for the test suites of the site and the core: a tiny model that loads in milliseconds."""
import numpy as np
import torch

from .checkpoint import save_model
from .networks import build_model
from .quantize import ab_bin_centres, output_channels


def make_tiny_model(path, loss="rebalanced", seed=0):
    """Write a random-weight ECCV16 model at 1/16 width (its colours are meaningless)."""
    torch.manual_seed(seed)
    centres = ab_bin_centres()
    model = build_model("eccv16", output_channels(loss, len(centres)), width=1 / 16).eval()
    uniform = np.full(len(centres), 1.0 / len(centres), dtype=np.float32)
    # Uneven rebalancing weights, as a trained model has, so that vividness (which moves the
    # prior correction by log w) changes the colours of the tiny model too.
    bin_weights = np.exp(np.random.default_rng(seed).normal(0.0, 0.5, len(centres))).astype(np.float32)
    save_model(path, model, arch="eccv16", width=1 / 16, loss=loss, centres=centres,
               bin_weights=bin_weights, prior=uniform, size=64,
               meta={"tiny_test_model": True, "inference": {"size": 64}})
    return path
