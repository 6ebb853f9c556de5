"""The measures of the paper's Table 1 on 8-bit sRGB results compared with the originals (Sec. 3.1).

- `auc_plain`: for each threshold t = 0..150 the share of pixels whose ab lies within Euclidean
  distance t of the ground truth's, averaged over thresholds (paper: "AuC", non-rebalanced).
- `auc_rebal`: the same with each pixel weighted inversely to how often its ground-truth ab bin
  (the nearest centre of `ab_bin_centres()`, grid 10) occurs in the evaluated set, so every bin
  present counts equally (paper: "AuC rebalanced"). Both come from one pass: we accumulate, per
  ground-truth bin, a histogram of distances, and weight the bins at the end.
- `hue_flips` and `false_chroma` (issue 22), the blotches people see, as percentages of the
  pixels of the whole evaluated set: among pixels chromatic in both the result and the truth,
  those whose hue is more than 90 degrees off; among pixels the truth shows neutral, those the
  result paints. Gray scores 0 on both, so they are read beside the AuC, never alone.
- `psnr` (RGB, mean over images) and `colorfulness` (Hasler & Suesstrunk 2003, mean over images)
  with its gap to the ground truth's, as recent colorization papers report them.
"""
import numpy as np

from ..quantize import GRID_SIZE, ab_bin_centres, nearest_bins

MAX_THRESHOLD = 150        # paper: "sweep across thresholds from 0 to 150"
NUM_THRESHOLDS = MAX_THRESHOLD + 1
CHROMATIC = 10.0           # issue 22: a pixel is chromatic above C*ab 10,
NEUTRAL = 5.0              # neutral below 5,
PAINTED = 20.0             # and a neutral pixel is painted when a colorization gives it more than 20


class GroundTruthBins:
    """Nearest bin of `centres` for each ab value: a table lookup on the grid of 10.

    The centres lie on multiples of GRID_SIZE, so the nearest grid point of a colour is its
    nearest centre whenever that grid point is a centre, which quantize.py guarantees for every
    8-bit sRGB colour. Values whose grid point is not a centre (not displayable colours) fall
    back to the exact search, so the answer is always the nearest centre.
    """

    def __init__(self, centres=None):
        self.centres = ab_bin_centres() if centres is None else np.asarray(centres, np.float32)
        cells = np.round(self.centres / GRID_SIZE).astype(np.int64)
        self.offset = -cells.min(0)
        shape = cells.max(0) + self.offset + 1
        self.table = np.full(shape, -1, dtype=np.int64)
        self.table[cells[:, 0] + self.offset[0], cells[:, 1] + self.offset[1]] = np.arange(len(cells))

    def __len__(self):
        return len(self.centres)

    def __call__(self, ab):
        ab = np.asarray(ab, dtype=np.float32)
        cells = np.round(ab / GRID_SIZE).astype(np.int64) + self.offset
        inside = ((cells >= 0) & (cells < self.table.shape)).all(-1)
        clipped = np.clip(cells, 0, np.array(self.table.shape) - 1)
        bins = np.where(inside, self.table[clipped[..., 0], clipped[..., 1]], -1)
        missing = bins < 0
        if missing.any():
            bins[missing] = nearest_bins(ab[missing], self.centres)[0][:, 0]
        return bins


class AccuracyHistogram:
    """Per ground-truth bin, how many pixels fall at each rounded-up ab distance.

    Column k counts distances d with ceil(d) = k for k = 0..MAX_THRESHOLD, and the last column
    everything farther; a pixel is within threshold t exactly when ceil(d) <= t. Weighting the
    rows at the end gives both the plain and the rebalanced curve from one pass over the data.
    """

    def __init__(self, num_bins):
        self.counts = np.zeros((num_bins, NUM_THRESHOLDS + 1), dtype=np.int64)

    def add(self, ab_pred, ab_true, gt_bins):
        d = np.sqrt(((np.asarray(ab_pred, np.float32) - np.asarray(ab_true, np.float32)) ** 2).sum(-1))
        k = np.minimum(np.ceil(d), NUM_THRESHOLDS).astype(np.int64)
        flat = np.asarray(gt_bins).ravel() * (NUM_THRESHOLDS + 1) + k.ravel()
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

    def curve(self, rebalanced=False):
        """Accuracy (0..1) at each threshold 0..MAX_THRESHOLD."""
        within = np.cumsum(self.counts[:, :NUM_THRESHOLDS], axis=1)
        per_bin = self.counts.sum(1)
        if per_bin.sum() == 0:
            raise ValueError("no pixels accumulated")
        weights = bin_weights(per_bin) if rebalanced else per_bin / per_bin.sum()
        # within / per_bin is each bin's accuracy; bins with no pixels carry no weight.
        acc = np.divide(within, per_bin[:, None], out=np.zeros(within.shape), where=per_bin[:, None] > 0)
        return weights @ acc

    def auc(self, rebalanced=False):
        """Area under the accuracy curve, normalised to percent (identical images give 100)."""
        return float(100.0 * self.curve(rebalanced).mean())


def bin_weights(per_bin_counts):
    """Share of the total weight each bin gets when every bin present counts equally."""
    present = np.asarray(per_bin_counts) > 0
    return present / present.sum()


def colorfulness(rgb):
    """Hasler & Suesstrunk (2003) colourfulness M of 8-bit RGB image(s) (..., H, W, 3):
    sigma_rgyb + 0.3 * mu_rgyb with rg = R - G and yb = (R + G) / 2 - B."""
    rgb = np.asarray(rgb, dtype=np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    axes = (-2, -1)
    sigma = np.sqrt(rg.var(axes) + yb.var(axes))
    mu = np.sqrt(rg.mean(axes) ** 2 + yb.mean(axes) ** 2)
    return sigma + 0.3 * mu


def psnr(rgb_a, rgb_b):
    """PSNR in dB of 8-bit RGB image(s) (..., H, W, 3); inf for identical images."""
    diff = np.asarray(rgb_a, np.float32) - np.asarray(rgb_b, np.float32)
    mse = (diff ** 2).mean((-3, -2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / mse)


# ---------------------------------------------------------------------------------------------
# Blotches

def chroma(ab):
    """C*ab of ab values (..., 2)."""
    ab = np.asarray(ab, np.float32)
    return np.hypot(ab[..., 0], ab[..., 1])


def hue_flips(ab_pred, ab_true):
    """(flipped, chromatic): how many pixels are chromatic in both, and how many of those have
    hue angles more than 90 degrees apart. Two hue angles differ by more than 90 degrees exactly
    when their ab vectors have a negative dot product, which needs no angle wrapping."""
    ab_pred, ab_true = np.asarray(ab_pred, np.float32), np.asarray(ab_true, np.float32)
    chromatic = (chroma(ab_pred) > CHROMATIC) & (chroma(ab_true) > CHROMATIC)
    flipped = chromatic & ((ab_pred * ab_true).sum(-1) < 0)
    return int(flipped.sum()), int(chromatic.sum())


def false_chroma(ab_pred, ab_true):
    """(painted, neutral): how many pixels the truth shows neutral, and how many of those the
    colorization paints."""
    neutral = chroma(ab_true) < NEUTRAL
    painted = neutral & (chroma(ab_pred) > PAINTED)
    return int(painted.sum()), int(neutral.sum())


class BlotchCounts:
    """Hue flips and false chroma pooled over every pixel of a row's images."""

    def __init__(self):
        self.flipped = self.chromatic = self.painted = self.neutral = 0

    def add(self, ab_pred, ab_true):
        flipped, chromatic = hue_flips(ab_pred, ab_true)
        painted, neutral = false_chroma(ab_pred, ab_true)
        self.flipped += flipped
        self.chromatic += chromatic
        self.painted += painted
        self.neutral += neutral

    def percentages(self):
        """{'hue_flips': %, 'false_chroma': %}; 0 where no pixel qualifies (gray has no
        chromatic pixel, so no flip)."""
        share = lambda part, whole: 100.0 * part / whole if whole else 0.0
        return {"hue_flips": share(self.flipped, self.chromatic), "false_chroma": share(self.painted, self.neutral)}
