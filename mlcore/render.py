"""From a stored prediction to a colour photo, with numpy and Pillow alone (no torch).

The network runs once per photo (mlcore/colorizer.py) and leaves a Prediction: per
low-resolution pixel, the TOP_K most likely ab bins and their log-probabilities, and the
model's own inference settings. Everything after that, decoding at any vividness or
temperature, upsampling ab and recombining it with the photo's full-resolution lightness,
lives here, so a re-render needs neither the network nor torch. Web processes import this
module, never mlcore.colorizer.

Vividness (0..100) is the one colour control people see. It moves the prior correction
(logit adjustment, see Colorizer.outputs): the model was trained with class rebalancing, so
its scores carry a share of log w, the rebalancing weights that favour rare, saturated
colours; subtracting less of it keeps more colour. 50 is the model file's own correction, so
vividness 50 at the model's temperature is exactly the model's default decoding.
Measured on the shipped model (tests/test_mlcore_vividness.py), mean chroma rises
monotonically with it on every test photo, by 2-3x from 0 to 100; lowering the temperature
instead brings this model towards its gray mode (about 10% less chroma from T = 1 to 0.1).

Memory is bounded by design, whatever the photo's shape: the only full-size arrays are the
photo's own 8-bit pixels and the 8-bit result. Rendering works in tiles of at most TILE_PIXELS
pixels, so float Lab and its intermediates (about 50 bytes a pixel) exist for one tile at a
time, and a photo of 40 Mpx, or of 1 x 40,000,000 pixels, renders in bounded memory.
"""
import io
import zipfile
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .color import gray_to_l, lab_to_rgb, rgb_to_l
from .imageio import normalise_mode

ANNEALED_T = 0.38  # paper: "T = 0.38 ... captures the vibrancy of the mode while maintaining the spatial coherence of the mean"
TOP_K = 16
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 1.0
MIN_VIVIDNESS, MAX_VIVIDNESS = 0, 100
DEFAULT_VIVIDNESS = 50
# Prior correction at vividness 0 is the model's + SPAN, at 100 the model's - SPAN. With the
# shipped model's 0.25, vividness 70 is the uncorrected (fully rebalanced) network, 100 keeps
# three eighths more of the rebalancing than training did, and 0 is close to the plain
# posterior (0.875). Mean chroma on scikit-image's photos at 0 is about two thirds of the
# default's, at 100 about 1.35x (README, Vividness).
VIVIDNESS_CORRECTION_SPAN = 0.625
# Pixels rendered at once: about 50 MB of float intermediates, and few enough tiles for a
# 40 Mpx photo (40) that the loop costs nothing measurable.
TILE_PIXELS = 1 << 20
# zlib level of a stored prediction: lossless at any level; at 1 a 224-px model's prediction
# deflates about 4x faster than np.savez_compressed's default, for a file about 5% larger.
PREDICTION_COMPRESS_LEVEL = 1


def check_temperature(temperature):
    t = float(temperature)
    if not MIN_TEMPERATURE <= t <= MAX_TEMPERATURE:  # also refuses NaN
        raise ValueError(f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}")
    return t


def check_vividness(vividness):
    v = float(vividness)
    if not MIN_VIVIDNESS <= v <= MAX_VIVIDNESS:
        raise ValueError(f"vividness must be between {MIN_VIVIDNESS} and {MAX_VIVIDNESS}")
    return v


def correction_shift(vividness):
    """How much more prior correction than the model's own to apply at `vividness`."""
    return (DEFAULT_VIVIDNESS - check_vividness(vividness)) / (DEFAULT_VIVIDNESS - MIN_VIVIDNESS) * \
        VIVIDNESS_CORRECTION_SPAN


def annealed_mean_topk(indices, log_probs, centres, temperature=ANNEALED_T):
    """Annealed mean (paper, Eq. 5) from a truncated distribution (the k most likely bins per pixel).

    indices: (..., k) int bin indices; log_probs: (..., k) float log-probabilities at T = 1.
    Softmax over the kept bins renormalises them; at T < 1 the dropped tail matters little.
    """
    z = log_probs.astype(np.float32) / temperature
    z -= z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    return np.einsum("...k,...kc->...c", p, centres[indices])


@dataclass
class Prediction:
    """Low-resolution colour prediction: bins (indices + log-probs) or, for L2 models, ab;
    and the settings of the model that made it."""
    indices: np.ndarray | None = None          # (h, w, k) uint16
    log_probs: np.ndarray | None = None        # (h, w, k) float16, after the model's prior correction
    ab: np.ndarray | None = None               # (h, w, 2) float16, L2 models only
    centres: np.ndarray | None = None          # (Q, 2) float32
    log_bin_weights: np.ndarray | None = None  # (Q,) float32, log of the rebalancing weights
    # With a person's hints: (h, w, 2) float16 ab added after decoding, so hinted colours are
    # taken (mlcore.colorizer.hint_residuals); it holds at every vividness and temperature.
    ab_offset: np.ndarray | None = None
    # The model file's inference settings: the defaults of every decoding of this prediction.
    # Predictions stored before they were kept here decode at the paper's T and cannot move
    # the correction (vividness then changes nothing).
    temperature: float = ANNEALED_T

    def to_bytes(self):
        """An .npz (np.load reads it), deflated at PREDICTION_COMPRESS_LEVEL."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=PREDICTION_COMPRESS_LEVEL) as z:
            for name, value in self.__dict__.items():
                if value is not None:
                    array = io.BytesIO()
                    np.lib.format.write_array(array, np.asarray(value), allow_pickle=False)
                    z.writestr(f"{name}.npy", array.getvalue())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data):
        with np.load(io.BytesIO(data)) as z:
            fields = {k: z[k] for k in z.files}
        if "temperature" in fields:
            fields["temperature"] = float(fields["temperature"])
        return cls(**fields)

    def settings(self, vividness=None, temperature=None):
        """(vividness, temperature) actually used when some are None: the model's own."""
        v = DEFAULT_VIVIDNESS if vividness is None else check_vividness(vividness)
        t = self.temperature if temperature is None else check_temperature(temperature)
        return v, t

    def ab_at(self, vividness=None, temperature=None):
        """(h, w, 2) float32 ab at this vividness and temperature (None: the model's own)."""
        vividness, temperature = self.settings(vividness, temperature)
        if self.ab is not None:
            ab = self.ab.astype(np.float32)
        else:
            log_probs = self.log_probs.astype(np.float32)
            shift = correction_shift(vividness)
            if shift and self.log_bin_weights is not None:
                log_probs = log_probs - shift * self.log_bin_weights[self.indices]
            ab = annealed_mean_topk(self.indices.astype(np.int64), log_probs, self.centres, temperature)
        if self.ab_offset is not None:
            ab = ab + self.ab_offset.astype(np.float32)
        return ab


def lightness(pixels):
    """L (float32, 0..100) of 8-bit gray (h, w) or RGB (h, w, 3) pixels."""
    return gray_to_l(pixels) if pixels.ndim == 2 else rgb_to_l(pixels)


def colour_base(img):
    """The photo's pixels as an L or RGB PIL image (itself, not a copy, when it is one
    already) and its alpha band or None."""
    img = normalise_mode(img)
    if img.mode not in ("LA", "RGBA"):
        return img, None
    return img.convert(img.mode[:-1]), img.getchannel("A")


def _tiles(width, height):
    """(left, top, right, bottom) boxes of at most TILE_PIXELS pixels covering the photo, band
    of rows by band of rows (a band is cut across when a single row is longer than that)."""
    cols = min(width, TILE_PIXELS)
    rows = max(1, TILE_PIXELS // cols)
    for top in range(0, height, rows):
        for left in range(0, width, cols):
            yield left, top, min(left + cols, width), min(top + rows, height)


def _source_index(start, stop, out_size, in_size):
    """Bilinear sampling of in_size samples at out_size points, for outputs start..stop-1:
    (lower index, upper index, weight of the upper), pixel centres aligned as torch's
    interpolate with align_corners=False computes them, so that a tile equals the same part of
    the whole image resized at once."""
    src = (np.arange(start, stop, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    src = np.maximum(src, 0.0)
    lower = np.minimum(src.astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, (src - lower).astype(np.float32)


def upsample_ab(ab_small, height, width, box=None):
    """(h, w, 2) ab resized bilinearly to (height, width, 2), or only the part of that inside
    box=(left, top, right, bottom)."""
    left, top, right, bottom = box or (0, 0, width, height)
    ab_small = np.asarray(ab_small, dtype=np.float32)
    y0, y1, wy = _source_index(top, bottom, height, ab_small.shape[0])
    x0, x1, wx = _source_index(left, right, width, ab_small.shape[1])
    wy, wx = wy[:, None, None], wx[None, :, None]
    rows = ab_small[y0] * (1 - wy) + ab_small[y1] * wy
    return rows[:, x0] * (1 - wx) + rows[:, x1] * wx


def compose(img, ab_small):
    """The photo's own full-resolution L + low-resolution ab -> PIL RGB (RGBA when the photo
    has alpha), tile by tile: only the photo and the result are ever full size."""
    base, alpha = colour_base(img)
    width, height = base.size
    out = Image.new("RGB", base.size)
    for box in _tiles(width, height):
        left, top, right, bottom = box
        lab = np.empty((bottom - top, right - left, 3), dtype=np.float32)
        lab[..., 0] = lightness(np.asarray(base.crop(box)))
        lab[..., 1:] = upsample_ab(ab_small, height, width, box)
        out.paste(Image.fromarray(lab_to_rgb(lab), "RGB"), (left, top))
    if alpha is not None:
        out.putalpha(alpha)
    return out


def render(prediction, img, vividness=None, temperature=None):
    """The photo `img` in colour at full resolution, from its prediction."""
    return compose(img, prediction.ab_at(vividness, temperature))
