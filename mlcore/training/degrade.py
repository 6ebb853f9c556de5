"""Old-print damage for the lightness a network trains on.

Real old photographs are not clean gray renderings of colour photos: they are soft, grainy,
faded or crushed, vignetted, dusty and scratched, and reach us as small JPEG scans. Training on
clean L teaches the network that grain and dust are texture to colour. `degrade` applies a random
chain of such damage to a photo's L (seeded, so the cached arrays are reproducible); the colour
target stays the clean photo's.
"""
import io

import numpy as np
from PIL import Image
from scipy import ndimage


def _soften(L, rng):
    if rng.random() < 0.3:  # a small print scanned and enlarged
        factor = rng.uniform(1.5, 3.0)
        h, w = L.shape
        small = Image.fromarray(L).resize((max(8, int(w / factor)), max(8, int(h / factor))), Image.BILINEAR)
        L = np.array(small.resize((w, h), Image.BICUBIC), dtype=np.float32)
    if rng.random() < 0.5:  # soft focus, camera shake
        L = ndimage.gaussian_filter(L, rng.uniform(0.4, 1.8))
    return L


def _tones(L, rng):
    if rng.random() < 0.7:
        mean = L.mean()
        L = mean + (L - mean) * rng.uniform(0.45, 1.05)             # low contrast
        L = 100.0 * np.clip(L / 100.0, 0, 1) ** rng.uniform(0.7, 1.45)  # dim or washed-out mid-tones
        black, white = rng.uniform(0, 22), rng.uniform(0, 15)        # fading: gray blacks, dull whites
        L = black + L * (100.0 - black - white) / 100.0
    if rng.random() < 0.15:  # crushed: blacks and whites clipped
        L = np.clip((L - 50.0) * rng.uniform(1.2, 1.6) + 50.0, 0, 100)
    return L


def _vignette(L, rng):
    if rng.random() < 0.4:
        h, w = L.shape
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
        L = L * (1.0 - rng.uniform(0.1, 0.45) * np.clip(r2 / 2.0, 0, 1))
    return L


def _grain(L, rng):
    if rng.random() < 0.6:
        noise = rng.normal(0, 1, L.shape).astype(np.float32)
        size = rng.uniform(0, 0.9)
        if size > 0.2:
            noise = ndimage.gaussian_filter(noise, size)
            noise /= noise.std() + 1e-6
        L = L + noise * rng.uniform(1.0, 6.0)
    return L


def _dust(L, rng):
    if rng.random() < 0.3:
        h, w = L.shape
        y, x = np.mgrid[0:h, 0:w]
        for _ in range(rng.integers(3, 40)):
            cy, cx, radius = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.5, 2.2)
            spot = (y - cy) ** 2 + (x - cx) ** 2 <= radius ** 2
            L[spot] = rng.choice((rng.uniform(85, 100), rng.uniform(0, 15)))
        for _ in range(rng.integers(0, 4)):  # scratches: thin near-vertical bright lines
            x0, slope = rng.uniform(0, w), rng.uniform(-0.15, 0.15)
            line = np.abs(x - (x0 + slope * y)) < rng.uniform(0.4, 1.0)
            line &= (y > rng.uniform(0, h / 2)) & (y < rng.uniform(h / 2, h))
            L[line] = np.maximum(L[line], rng.uniform(70, 100))
    return L


def _jpeg(L, rng):
    if rng.random() < 0.4:
        buf = io.BytesIO()
        Image.fromarray(np.clip(L * 2.55, 0, 255).astype(np.uint8)).save(buf, "JPEG",
                                                                         quality=int(rng.integers(15, 60)))
        L = np.array(Image.open(buf), dtype=np.float32) / 2.55
    return L


STEPS = (_soften, _tones, _vignette, _grain, _dust, _jpeg)


def degrade(lightness, rng):
    """A copy of L (H, W, 0..100) with a random chain of old-print damage."""
    L = np.array(lightness, dtype=np.float32)
    for step in STEPS:
        L = step(L, rng)
    return np.clip(L, 0.0, 100.0)
