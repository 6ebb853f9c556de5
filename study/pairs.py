"""Making study pairs: a real color photo and the model's colorization of its lightness,
treated identically so that nothing but color tells them apart.

Both are the same size (the real photo, shrunk so that its longer side is at most STUDY_SIZE),
both are encoded once here by the same JPEG encoder at the same quality and chroma
subsampling, from bare pixels (no EXIF, no color profile, no comment), and served as stored.
"""

import hashlib
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from mlcore.imageio import is_grayscale, load_image
from study.models import Pair

# The paper showed 256x256 images (Zhang et al. 2016, Sec. 3.1).
STUDY_SIZE = 256
JPEG_QUALITY = 90
JPEG_SUBSAMPLING = 2  # 4:2:0, for both images: a difference here would show in the color edges


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def real_photo(path):
    """The photo as the study shows it (RGB, longer side at most STUDY_SIZE), or why not:
    "unreadable" or "grayscale"."""
    try:
        img = load_image(path, draft=(STUDY_SIZE, STUDY_SIZE))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "unreadable"
    if img.mode in ("L", "LA"):
        return "grayscale"
    img = img.convert("RGB")
    if max(img.size) > STUDY_SIZE:
        scale = STUDY_SIZE / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
    pixels = np.asarray(img)
    if is_grayscale(pixels):
        return "grayscale"
    return Image.fromarray(pixels, "RGB")  # bare pixels: nothing of the file's metadata


def encode(img):
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img.convert("RGB")), "RGB").save(
        buf, "JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING)
    return buf.getvalue()


def make_pair(colorizer, real, *, source, source_sha256):
    """Store the pair made from `real` (what real_photo returned) and return it."""
    fake = colorizer.colorize(real)  # the model sees the real photo's lightness only
    if fake.size != real.size:
        raise RuntimeError(f"the colorizer returned {fake.size} for a photo of {real.size}")
    return Pair.store(real_jpeg=encode(real), fake_jpeg=encode(fake), size=real.size,
                      model_version=colorizer.version, source=source, source_sha256=source_sha256)
