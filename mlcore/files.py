"""Colorizing many photo files, fast: what `manage.py colorize` and bench/colorize_bench.py run.

The network works on the next photo (a batch of them on a GPU) while writer threads render the
previous ones at full resolution and write them, PNGs at a fast zlib level. Rendering (numpy)
and encoding (Pillow's zlib) let go of the GIL, so writers run on other cores: on a CPU they,
not the network, are most of a photo's time (bench/colorize_bench.py measures both). Each
result's pixels are those of predict() then mlcore.render.render(), as on the site, and it is
written by the site's one writer of results (mlcore/provenance.py), so it says how it was made
and keeps the original's EXIF. On a CPU the network runs on the cores the writers leave it.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from .hint_points import hint_points
from .imageio import load_image
from .provenance import make_facts, original_exif, save_result
from .render import render

FORMATS = {"png": ".png", "jpeg": ".jpg"}
# Threads rendering and writing results: one per core (the network's thread mostly waits on
# them), at most 4, beyond which a photo's memory matters more than the time saved.
WRITERS = max(1, min(4, os.cpu_count() or 1))
# Results being rendered or written at once: enough to keep the writers busy while the network
# runs, few enough that memory stays a few photos' worth.
IN_FLIGHT = 2 * WRITERS
UNREADABLE = (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError)


def unique_targets(inputs, out_dir, suffix):
    """One output file per input: old/a.jpg and new/a.png become a.png and a-2.png."""
    seen, targets = set(), []
    for path in inputs:
        stem, n = Path(path).stem, 1
        name = f"{stem}{suffix}"
        while name.lower() in seen:
            n += 1
            name = f"{stem}-{n}{suffix}"
        seen.add(name.lower())
        targets.append(Path(out_dir) / name)
    return targets


def write_result(image, target, fmt, facts, exif, **save_kwargs):
    partial = target.with_name(f".{target.name}.part")
    with open(partial, "wb") as fh:
        save_result(image, fh, fmt, facts, exif, **save_kwargs)
    partial.replace(target)  # never a half-written result under the final name


@contextmanager
def cores_left_to_the_network(device):
    """On a CPU the writers keep WRITERS cores busy: the network gets the others (at least one).
    Its threads would otherwise spin against the writers for the same cores, and every photo
    would take longer."""
    before = torch.get_num_threads()
    if getattr(device, "type", device) == "cpu":
        torch.set_num_threads(max(1, min(before, (os.cpu_count() or 1) - WRITERS)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def colorize_files(colorizer, inputs, out_dir, fmt="png", vividness=None, temperature=None, batch=1,
                   hints=None, **save_kwargs):
    """Colorize each input file into out_dir; yields (input, target, error or None) for each, as it
    is written or found unreadable (error: a sentence, for an unreadable input or a failed write).
    hints: a person's colour hints (mlcore.hint_points.validate_hints) given to every input."""
    targets = unique_targets(inputs, out_dir, FORMATS[fmt])
    points = hint_points(hints) if hints else None

    def finish(path, target, prediction, img):
        used_vividness, used_temperature = prediction.settings(vividness, temperature)
        facts = make_facts(colorizer.version, used_vividness, used_temperature, datetime.now(timezone.utc),
                           Path(path).name, len(hints or []))
        try:
            write_result(render(prediction, img, vividness, temperature), target, fmt, facts, original_exif(path),
                         **save_kwargs)
        except (OSError, ValueError, MemoryError) as exc:
            return path, target, f"could not write {target} ({exc})"
        return path, target, None

    pending = []
    with cores_left_to_the_network(colorizer.device), \
            ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="colorize-writer") as writer:
        pairs = list(zip(inputs, targets))
        for start in range(0, len(pairs), batch):
            loaded = []
            for path, target in pairs[start:start + batch]:
                try:
                    loaded.append((path, target, load_image(path)))
                except UNREADABLE as exc:
                    yield path, target, f"not a readable image ({exc})"
            if loaded:
                imgs = [img for _, _, img in loaded]
                predictions = (colorizer.predict_many(imgs) if points is None
                               else colorizer.predict_many(imgs, [points] * len(imgs)))
                pending += [writer.submit(finish, path, target, prediction, img)
                            for (path, target, img), prediction in zip(loaded, predictions)]
            while len(pending) > IN_FLIGHT:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
