"""What the network sees of a photo's lightness: tones stretched to a standard range.

Old prints come faded (gray blacks), crushed or dim. The network is shown L stretched so that
its 1st and 99th percentiles span the full range, in training and in the product alike, so a
faded print and a crisp one of the same scene look alike to it. Only the network's input changes:
the result keeps the photo's own L. Stretching is limited (MAX_GAIN) so a nearly flat photo (fog,
a blank wall) is not blown up into noise, and never compresses a photo's range.
"""
import numpy as np

LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.0
TARGET_LOW, TARGET_HIGH = 2.0, 98.0
MAX_GAIN = 2.5


def normalise_lightness(lightness):
    """L (any shape, 0..100) with its tones stretched; float32."""
    lightness = np.asarray(lightness, dtype=np.float32)
    low, high = (float(v) for v in np.percentile(lightness, (LOW_PERCENTILE, HIGH_PERCENTILE)))
    span = max(high - low, 1e-3)
    gain = min(MAX_GAIN, max(1.0, (TARGET_HIGH - TARGET_LOW) / span))
    half = span * gain / 2.0
    # Keep the photo's key (a dark interior stays darker than a beach) where the range allows.
    centre = min(max((low + high) / 2.0, TARGET_LOW + half), TARGET_HIGH - half) if half < 48.0 else 50.0
    stretched = (lightness - (low + high) / 2.0) * gain + centre
    return np.clip(stretched, 0.0, 100.0).astype(np.float32)
