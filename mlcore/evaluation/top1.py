"""Semantic interpretability (paper, "VGG classification"): a fixed ImageNet classifier,
EfficientNet-Lite2 (classifier.py), on each row's images; its answers kept between runs.

The classifier is most of an evaluation's cost (about 0.9 GFLOP per image and row, against
0.1-0.2 for a Lite0 colorizer at 128), which is why it runs through ONNX Runtime on a CPU and
its answers can be kept in a TopCache between runs.
"""
import json
import os
from pathlib import Path

import numpy as np

from .classifier import CENTRAL_FRACTION, CLASSIFIER_SIZE, Classifier


class TopCache:
    """The classifier's top-1 per (row, photo), kept on disk between runs.

    The classifier is most of an evaluation's cost, and the ground-truth, gray and random rows
    do not depend on the models: evaluating one more model on the same photos then costs one
    classifier pass per photo instead of four, and an interrupted run resumes where it stopped.
    A photo is known by its absolute path, byte size and modification time; a row by what determines its
    images (the model file's hash and the temperature, the random row's donor); the directory
    by the classifier and its preprocessing. Other colours or another classifier never hit.
    """

    VERSION = f"{Classifier.name}-c{CENTRAL_FRACTION}-{CLASSIFIER_SIZE}-v1"

    def __init__(self, directory):
        self.directory = Path(directory) / self.VERSION
        self.tables, self.dirty = {}, set()

    def table(self, row_key):
        if row_key not in self.tables:
            path = self.directory / f"{row_key}.json"
            try:
                with open(path) as fh:
                    self.tables[row_key] = json.load(fh)
            except (OSError, ValueError):
                self.tables[row_key] = {}
        return self.tables[row_key]

    def get(self, row_key, photo_key):
        return self.table(row_key).get(photo_key)

    def put(self, row_key, photo_key, top1):
        self.table(row_key)[photo_key] = int(top1)
        self.dirty.add(row_key)

    def flush(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        for row_key in sorted(self.dirty):
            path = self.directory / f"{row_key}.json"
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.tables[row_key]))
            os.replace(tmp, path)
        self.dirty.clear()


def photo_key(photo):
    path = os.path.abspath(photo.path)
    st = os.stat(path)
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def classify(classifier, cache, predictions, row_keys, photo_keys):
    """Top-1 (rows x batch) of every row's images, asking the classifier only what the cache
    does not know. Returns ({row: top1 array}, number of images classified)."""
    top = {name: np.full(len(photo_keys[name]), -1, dtype=np.int64) for name in predictions}
    todo = []
    for name in predictions:
        for pos, key in enumerate(photo_keys[name]):
            hit = cache.get(row_keys[name], key) if cache is not None else None
            if hit is None:
                todo.append((name, pos))
            else:
                top[name][pos] = hit
    if todo:
        answers = classifier.top1([predictions[name][pos] for name, pos in todo])
        for (name, pos), answer in zip(todo, answers):
            top[name][pos] = answer
            if cache is not None:
                cache.put(row_keys[name], photo_keys[name][pos], answer)
    return top, len(todo)
