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
from .decode import annealed_mean, soften_where_unsure
from .fusion import fold_batchnorm
from .hints import OUTPUT_STRIDE, hint_map
from .lightness import normalise_lightness
from .modelfile import model_version
from .paths import model_path
from .quantize import AB_SCALE
from .render import ANNEALED_T, TOP_K, Prediction, colour_base, lightness, render

# The ridge of the hint residuals' interpolation (hint_residuals): small enough that each hinted
# cell takes its colour to within about 1 ab unit, large enough that cells of one hint (identical
# rows) are solved stably. Chosen on validation (0.02 against 0.1 and 0.3, and the spread alone).
HINT_RIDGE = 0.02
# ab beyond this is outside every gamut: a correction never pushes a colour further.
AB_LIMIT = 110.0

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
        # > 0: unsure pixels decoded toward their distribution's mean (decode.soften_where_unsure).
        self.unsure_fallback = float(inference.get("unsure_fallback", 0.0))
        # How hard a guide pulls the bin scores toward a person's hints, times its learned pull
        # (chosen on validation: bench/tune_hints.py).
        self.hint_strength = float(inference.get("hint_strength", 1.0))
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
        return self.outputs_and_attention(lightness, hints)[0]

    @torch.no_grad()
    def outputs_and_attention(self, lightness, hints=None):
        """(outputs, HintAttention or None): with hints, a guided network's attention over them."""
        if hints is not None and not self.takes_hints:
            raise ValueError("this model does not take colour hints")
        attention = None
        if hints is None:
            out = self.model(lightness.to(self.device))
        elif getattr(self.model, "guide", None) is not None:
            out, attention = self.model(lightness.to(self.device), hints.to(self.device),
                                        hint_strength=self.hint_strength, with_attention=True)
        else:
            out = self.model(lightness.to(self.device), hints.to(self.device))
        out = out.float()
        if self.prior_correction and not self.is_regression:
            out = out - self.prior_correction * self.log_bin_weights
        return out, attention

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
        outs, attention = self.outputs_and_attention(lightness, hint_maps)
        if self.smoothing and not self.is_regression:
            outs = smooth_log_probs(outs, lightness, int(self.smoothing["radius"]), float(self.smoothing["sigma_l"]))
        if self.unsure_fallback and not self.is_regression:
            outs = soften_where_unsure(outs, self.unsure_fallback)
        predictions = [self.prediction_from_outputs(out) for out in outs]
        if attention is not None:
            for i, prediction in enumerate(predictions):
                if bool(attention.valid[i].any()):
                    prediction.ab_offset = hint_residuals(prediction, attention, i)
        return predictions

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


def hint_residuals(prediction, attention, i):
    """(h, w, 2) float16 ab to add to photo i's decoded colours so that each hint is taken.

    The guide's pull leaves a hinted colour short of the hint, the more so the less the guide
    believes it. What is left at the hinted cells is spread with the guide's own attention
    (weights W, cells x hinted cells), so it reaches exactly the cells the guide pulled toward
    each hint; the spread passes through the hints: coefficients c solve (W_hh + ridge I) c = left,
    W_hh being the hinted cells' own rows, and the correction is W c (a kernel interpolation whose
    kernel the network learned). On validation this adds 0.4 dB at 10 hints and 2.3 at 100 to the
    pull alone (MODEL_CARD.md, "Colour hints")."""
    ab = prediction.ab_at()                                             # (h, w, 2)
    h, w = ab.shape[:2]
    valid = attention.valid[i].cpu()
    cells = attention.order[i].cpu()[valid]
    weights = attention.weights[i].cpu().double()[:, valid]             # (hw, k)
    left = attention.hint_ab[i].cpu().double()[valid] - torch.from_numpy(ab.reshape(-1, 2)[cells.numpy()]).double()
    own = weights[cells]                                                # (k, k)
    try:
        coefficients = torch.linalg.solve(own + HINT_RIDGE * torch.eye(len(own), dtype=own.dtype), left)
    except torch.linalg.LinAlgError:  # a singular system (never seen): spread the gaps as they are
        coefficients = left
    correction = weights @ coefficients
    # An interpolation never overshoots what it interpolates: no cell moves further than the
    # largest gap at a hint (a hinted cell the guide barely attends to would otherwise make its
    # coefficient, and the colours of the cells that attend to it, explode).
    largest = left.norm(dim=1).max()
    correction = correction * (largest / correction.norm(dim=1, keepdim=True).clamp_min(1e-9)).clamp(max=1.0)
    corrected = np.clip(ab.reshape(-1, 2) + correction.numpy(), -AB_LIMIT, AB_LIMIT)
    return (corrected - ab.reshape(-1, 2)).reshape(h, w, 2).astype(np.float16)
