"""Making study pairs: a real color photo and the model's colorization of its lightness,
treated identically so that nothing but color tells them apart.

Both are the same size (the real photo, shrunk so that its longer side is at most STUDY_SIZE),
both are encoded once here by the same JPEG encoder at the same quality and chroma
subsampling, from bare pixels (no EXIF, no color profile, no comment), and served as stored.
"""

import hashlib
import io

import numpy as np
from PIL import Image

from mlcore.imageio import open_colour_photo
from mlcore.inputcolor import TINTED, classify
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
    "unreadable", "grayscale" or "tinted" (a sepia or otherwise toned print: its colours are a
    darkroom's, not the scene's, and would make a poor "real colour" half of a pair)."""
    img = open_colour_photo(path, STUDY_SIZE)
    if isinstance(img, str):
        return img
    if classify(img) == TINTED:
        return "tinted"
    if max(img.size) > STUDY_SIZE:
        scale = STUDY_SIZE / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
    return Image.fromarray(np.asarray(img), "RGB")  # bare pixels: nothing of the file's metadata


def encode(img):
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img.convert("RGB")), "RGB").save(
        buf, "JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING)
    return buf.getvalue()


JPEG_COMMENT = b"\xff\xfe"  # a COM segment: ignored by every decoder
MAX_SEGMENT = 4 + 65533      # marker, 2-byte length, at most 65533 bytes of comment


def same_length(*jpegs):
    """The JPEGs, each padded with zero-filled comment segments after its start marker to one
    common length: the real photo's file is often larger (its colour has more detail), and
    a Content-Length must not tell a script what the pixels only tell a person."""
    target = max(len(j) for j in jpegs) + 4  # every file gets at least one segment
    out = []
    for jpeg in jpegs:
        need, segments = target - len(jpeg), []
        while need:
            take = min(need, MAX_SEGMENT)
            if 0 < need - take < 4:  # leave enough for one more whole segment
                take -= 4
            segments.append(JPEG_COMMENT + (take - 2).to_bytes(2, "big") + bytes(take - 4))
            need -= take
        out.append(jpeg[:2] + b"".join(segments) + jpeg[2:])
    return out


def make_pair(colorizer, real, *, source, source_sha256):
    """Store the pair made from `real` (what real_photo returned) and return it."""
    fake = colorizer.colorize(real)  # the model sees the real photo's lightness only
    if fake.size != real.size:
        raise RuntimeError(f"the colorizer returned {fake.size} for a photo of {real.size}")
    real_jpeg, fake_jpeg = same_length(encode(real), encode(fake))
    return Pair.store(real_jpeg=real_jpeg, fake_jpeg=fake_jpeg, size=real.size,
                      model_version=colorizer.version, source=source, source_sha256=source_sha256)
