"""What a model file says about itself (architecture, loss, version, training facts, inference
settings), read without PyTorch, and where the shipped model's measurements live.

Web processes show these facts (the public model page) but must stay small: importing torch
costs a few hundred MB per process. A checkpoint is a zip archive (torch.save) whose
`data.pkl` holds the dict that checkpoint.save_model wrote; its tensors are references to
other members of the archive, which we replace by None instead of loading them.
"""
import functools
import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path

from .paths import DEFAULT_MODEL_PATH

WEIGHTS_DIR = DEFAULT_MODEL_PATH.parent
# `manage.py evaluate --json` of the shipped model on the whole test split, and its example
# grid (gray, ours, original), both replaced together with default.pt when it is retrained.
DEFAULT_RESULTS_PATH = WEIGHTS_DIR / "results" / "default_test.json"
EXAMPLES_PATH = WEIGHTS_DIR / "results" / "examples.jpg"
# `manage.py evaluate --hints ... --json` of the shipped model on a seeded sample of the test split:
# its hint curve, when default_test.json (the whole split, without hints) has none of its own.
DEFAULT_HINT_RESULTS_PATH = WEIGHTS_DIR / "results" / "default_hints.json"


def model_version(arch, loss, sha256):
    """The version string stored with every colorization: architecture, loss, file hash."""
    return f"{arch}-{loss}-{sha256[:10]}"


# What each architecture is, in plain words, for people (the model page); torch-free, so web
# processes can read it. Keep in step with mlcore/networks.py's ARCHITECTURES.
_PRETRAINED = "image encoder (pretrained on ImageNet) and a light decoder trained for color"
_CONTEXT = "a summary of what the whole photo shows that keeps its colors consistent"
ARCHITECTURE_DESCRIPTIONS = {
    "eccv16": "the paper's own network",
    "lite0": f"an EfficientNet-Lite0 {_PRETRAINED}",
    "lite0ctx": f"an EfficientNet-Lite0 {_PRETRAINED}, and {_CONTEXT}",
    "lite1ctx": f"an EfficientNet-Lite1 {_PRETRAINED}, and {_CONTEXT}",
    "lite0hint": f"an EfficientNet-Lite0 {_PRETRAINED}, {_CONTEXT}, attention across the whole photo, "
                 "and colour hints a person can give",
    "lite0guide": f"an EfficientNet-Lite0 {_PRETRAINED}, {_CONTEXT}, and a guide that spreads the colors "
                  "a person gives over the objects they fall on",
    "lite0semguide": f"an EfficientNet-Lite0 {_PRETRAINED}, {_CONTEXT}, and a guide that spreads the colors "
                     "a person gives over the objects they fall on, reading what each region shows",
}


def describe_architecture(arch):
    """A model's network in plain words; an unknown architecture is named as it is."""
    return ARCHITECTURE_DESCRIPTIONS.get(arch, arch)


def arch_takes_hints(arch):
    """Whether networks of this architecture read colour hints (lite0hint, lite0guide)."""
    return arch.endswith("hint") or arch.endswith("guide")


class _NoTensors(pickle.Unpickler):
    """Unpickles a checkpoint's dict with every tensor and storage replaced by None. Only
    torch's rebuild functions and storage types, and OrderedDict, may be named: anything else
    in the file is refused, so reading a foreign file cannot run its code."""

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch" or module.startswith("torch."):
            return _nothing
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a model file")

    def persistent_load(self, pid):
        return None


def _nothing(*args, **kwargs):
    return None


def read_summary(path):
    """{"arch", "loss", "size", "meta", "sha256", "version"} of a model file, without torch.
    Raises ValueError for a file that is not a colorsite model."""
    data = Path(path).read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            name = next(n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
            ckpt = _NoTensors(io.BytesIO(archive.read(name))).load()
    except (zipfile.BadZipFile, StopIteration, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise ValueError(f"{path} is not a colorsite model file ({type(exc).__name__})") from exc
    if not isinstance(ckpt, dict) or not {"arch", "loss"} <= set(ckpt):
        raise ValueError(f"{path} is not a colorsite model file")
    sha256 = hashlib.sha256(data).hexdigest()
    return {"arch": ckpt["arch"], "loss": ckpt["loss"], "size": ckpt.get("size"),
            "meta": ckpt.get("meta") or {}, "sha256": sha256,
            "version": model_version(ckpt["arch"], ckpt["loss"], sha256)}


@functools.lru_cache(maxsize=4)
def _summary_of_version(path, mtime_ns, size):
    return read_summary(path)


def takes_hints(path):
    """Whether the model file at `path` takes colour hints, without torch; read once per
    version of the file. False for a file that is missing or not a model (nothing can be
    coloured then, with hints or without)."""
    try:
        stat = os.stat(path)
        return arch_takes_hints(_summary_of_version(str(path), stat.st_mtime_ns, stat.st_size)["arch"])
    except (OSError, ValueError):
        return False
