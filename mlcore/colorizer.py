"""The one object the product needs: load a model once, turn photos into colour photos.

The network sees the photo's L channel at a fixed square size; its ab prediction (1/4 of that
size) is upsampled bilinearly to the photo's full resolution and recombined with the photo's
own full-resolution L, so detail and lightness are exactly the original's.

A Prediction (mlcore/render.py) keeps, per low-resolution pixel, the TOP_K most likely bins
and their log-probabilities (about 100 KB), with the model's inference settings: enough to
re-decode at another vividness or temperature in milliseconds, without the network or torch.
Every colour photo this package makes goes through predict() then render.render(), so the
command line, the site and the API give the same pixels for the same photo and settings.
"""
import numpy as np
import torch
from PIL import Image

from .checkpoint import load_model
from .consistency import smooth_log_probs
from .decode import annealed_mean
from .fusion import fold_batchnorm
from .hints import OUTPUT_STRIDE, hint_map
from .lightness import normalise_lightness
from .modelfile import model_version
from .paths import model_path
from .quantize import AB_SCALE
from .render import ANNEALED_T, TOP_K, Prediction, colour_base, lightness, render

# The network's input is box-reduced (integer factors, on 8-bit pixels) to no less than this
# many times its size before L is computed and resized bilinearly; smaller photos are not
# reduced, so their input is exactly the bilinear resize of their L.
REDUCE_GAP = 2


class Colorizer:
    def __init__(self, model, info, device):
        # Inference only: BatchNorm folded into the convolutions and channels-last memory make
        # the network about twice as fast on a CPU, with outputs equal to 2e-5
        # (tests/test_mlcore_fusion.py).
        self.model = fold_batchnorm(model.eval()).to(memory_format=torch.channels_last)
        self.info, self.device = info, device
        self.centres = info["centres"].numpy()
        self.centres_t = info["centres"].to(device)
        inference = info.get("meta", {}).get("inference", {})
        self.size = int(inference.get("size", info["size"]))
        self.default_temperature = float(inference.get("temperature", ANNEALED_T))
        # Logit adjustment (Menon et al., ICLR 2021): a model trained with class weights w learns
        # scores shifted by log w; subtracting a share of log w moves it back towards the plain
        # posterior. 0 keeps the paper's rebalanced prediction; chosen on validation data.
        self.prior_correction = float(inference.get("prior_correction", 0.0))
        log_bin_weights = torch.log(info["bin_weights"].clamp_min(1e-8))
        self.log_bin_weights = log_bin_weights.to(device)[None, :, None, None]
        self.log_bin_weights_np = log_bin_weights.numpy().astype(np.float32)
        self.is_regression = info["loss"] == "l2"
        # A model trained on tone-normalised L (train_colorizer --normalise) is shown the same.
        self.normalises_lightness = bool(info.get("meta", {}).get("config", {}).get("normalise", False))
        # {"radius", "sigma_l"}: distributions smoothed edge-aware before decoding (mlcore/consistency.py).
        self.smoothing = inference.get("smoothing")
        self.version = model_version(info["arch"], info["loss"], info["sha256"])

    @classmethod
    def load(cls, path=None, device="auto"):
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model, info = load_model(model_path(path), device)
        return cls(model, info, torch.device(device))

    @property
    def takes_hints(self):
        return getattr(self.model, "takes_hints", False)

    @torch.no_grad()
    def outputs(self, lightness, hints=None):
        """Network outputs for a batch of L (N, 1, S, S) in 0..100: logits, or ab/AB_SCALE for L2.
        `hints`: a (N, 3, h, w) hint map (mlcore/hints.py) for a model that takes them."""
        if hints is not None and not self.takes_hints:
            raise ValueError("this model does not take colour hints")
        args = (hints.to(self.device),) if hints is not None else ()
        out = self.model(lightness.to(self.device), *args).float()
        if self.prior_correction and not self.is_regression:
            out = out - self.prior_correction * self.log_bin_weights
        return out

    def ab_from_outputs(self, outputs, temperature=None):
        """(N, 2, h, w) ab from network outputs, by annealed mean (classification models)."""
        if self.is_regression:
            return outputs * AB_SCALE
        t = self.default_temperature if temperature is None else temperature
        return annealed_mean(outputs, self.centres_t, t)

    def network_input(self, img):
        """(1, 1, S, S) float L for the network, from a photo of any size and shape. A side
        more than REDUCE_GAP times the network's size is first box-reduced by an integer
        factor on the 8-bit pixels (Image.reduce: memory in proportion to its output), so no
        float copy of a large photo is ever made."""
        base, _ = colour_base(img)
        target = self.size * REDUCE_GAP
        factors = (max(1, base.width // target), max(1, base.height // target))
        if factors != (1, 1):
            base = base.reduce(factors)
        small = Image.fromarray(lightness(np.asarray(base))).resize((self.size, self.size), Image.Resampling.BILINEAR)
        small = np.array(small, dtype=np.float32)
        if self.normalises_lightness:
            small = normalise_lightness(small)
        return torch.from_numpy(small)[None, None]

    def predict(self, img, hints=None):
        """A photo's Prediction; `hints`: a person's points [(x, y, a, b), ...] (fractions, ab units)."""
        return self.predict_many([img], None if hints is None else [hints])[0]

    def predict_many(self, imgs, hints=None, hint_maps=None):
        """Predictions for several photos from one pass of the network: on a GPU a batch
        costs little more than one photo. Each equals predict() of that photo up to float rounding
        (the network may pick other kernels for a batch). `hints`: one list of points per photo;
        or `hint_maps`, a (N, 3, h, w) map made already (the hint curve's simulated hints)."""
        lightness = torch.cat([self.network_input(img) for img in imgs])
        if hint_maps is None and hints is not None and any(hints):
            grid = self.size // OUTPUT_STRIDE
            hint_maps = torch.cat([hint_map(points or [], grid, grid) for points in hints])
        outs = self.outputs(lightness, hint_maps)
        if self.smoothing and not self.is_regression:
            outs = smooth_log_probs(outs, lightness, int(self.smoothing["radius"]), float(self.smoothing["sigma_l"]))
        return [self.prediction_from_outputs(out) for out in outs]

    def prediction_from_outputs(self, out):
        """A Prediction from one photo's (Q, h, w) network outputs (corrected logits, or ab/AB_SCALE)."""
        if self.is_regression:
            ab = (out * AB_SCALE).permute(1, 2, 0).cpu().numpy().astype(np.float16)
            return Prediction(ab=ab, temperature=self.default_temperature)
        log_probs = torch.log_softmax(out, 0)
        top, idx = log_probs.topk(TOP_K, dim=0)
        return Prediction(indices=idx.permute(1, 2, 0).cpu().numpy().astype(np.uint16),
                          log_probs=top.permute(1, 2, 0).cpu().numpy().astype(np.float16),
                          centres=self.centres, log_bin_weights=self.log_bin_weights_np,
                          temperature=self.default_temperature)

    def colorize(self, img, temperature=None, vividness=None):
        return render(self.predict(img), img, vividness=vividness, temperature=temperature)
