"""64-bit difference hashes (dHash) of photos, and near-duplicate search among them.

The definition is the one `../shared/datasets/exclude_dhash.txt` was made with, so a photo can be
checked against the product's acceptance photos: decode at a reduced scale, gray, 9x8 LANCZOS,
one bit per pixel brighter than its left neighbour, row by row, first bit most significant.
"""
import numpy as np
from PIL import Image

_BIT_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def dhash(path):
    """The photo's 64-bit dHash as a Python int."""
    with Image.open(path) as im:
        im.draft("RGB", (64, 64))
        small = np.asarray(im.convert("L").resize((9, 8), Image.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1).astype(np.uint64)
    return int((bits * _BIT_WEIGHTS).sum(dtype=np.uint64))


def read_hash_list(path):
    """Hashes from a text file of 16-digit hex lines; '#' starts a comment."""
    hashes = []
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                hashes.append(int(line, 16))
    return np.array(hashes, dtype=np.uint64)


def min_distances(queries, references, chunk=2048):
    """For each query hash, the smallest Hamming distance to any reference hash (64 when none)."""
    queries = np.asarray(queries, dtype=np.uint64)
    references = np.asarray(references, dtype=np.uint64)
    out = np.full(len(queries), 64, dtype=np.int64)
    if len(references) == 0:
        return out
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk, None]
        out[start:start + chunk] = np.bitwise_count(q ^ references[None, :]).min(axis=1)
    return out
