"""What the public model page says, read from the files that hold it at request time: the
deployed model file (version, date, training facts, inference settings) and the stored
`evaluate` JSON of the shipped model (Table 1 and its accuracy curves). When the model is
retrained these files are replaced and the page follows; each is parsed again only when its
modification time or size changes.
"""

import json
import logging
import os
import threading
from datetime import datetime

from django.conf import settings

from mlcore.hint_points import PAPER_HINT_PSNR
from mlcore.modelfile import DEFAULT_HINT_RESULTS_PATH, DEFAULT_RESULTS_PATH, describe_architecture, read_summary
from mlcore.paths import model_path

logger = logging.getLogger("gallery")
_cache = {}
_lock = threading.Lock()

# Table 1's rows, in the paper's order, as a reader would name them.
BASELINE_LABELS = {
    "ground_truth": "Real photos (ground truth)",
    "gray": "Gray: no color at all",
    "random": "Random: colors of another photo",
}

# Accuracy-against-threshold chart (inline SVG, in user units; the viewBox scales it).
# The plot's right edge leaves room for half of its last tick label ("150" at 13 units is
# about 24 wide, centred on the edge).
CHART_W, CHART_H = 426, 260
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44, 406, 12, 220
SERIES_COLOURS = {"ground_truth": "#222222", "gray": "#8a8a8a", "random": "#c08a00"}
MODEL_COLOUR = "#1766c2"
# Other models in the same evaluation (the previous default, experiments): one muted colour, so
# the shipped model's line is the only blue one.
OTHER_MODEL_COLOUR = "#9a6fb0"
OTHER_MODEL_LABELS = {"previous": "The previous model"}


def deployed_model_path():
    return model_path(settings.COLORIZER_MODEL_PATH)


def _cached(path, load):
    """load(path), parsed again only when the file's mtime or size changed; None if missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    key = (str(path), load.__name__)
    with _lock:
        hit = _cache.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    value = load(path)
    with _lock:
        _cache[key] = (stamp, value)
    return value


def _read_json(path):
    with open(path) as fh:
        return json.load(fh)


def _read_model(path):
    try:
        return read_summary(path)
    except (OSError, ValueError):
        return None


def model_facts():
    """The deployed model in plain facts, or None when its file cannot be read."""
    summary = _cached(deployed_model_path(), _read_model)
    if summary is None:
        return None
    meta = summary["meta"]
    inference = meta.get("inference") or {}
    created = meta.get("created")
    try:
        created = datetime.fromisoformat(created) if created else None
    except ValueError:
        created = None
    return {
        "version": summary["version"],
        "arch": summary["arch"],
        "network": describe_architecture(summary["arch"]),
        "loss": summary["loss"],
        "created": created,
        "parameters": meta.get("parameters"),
        "train_images": meta.get("train_images"),
        # A model fine-tuned from another (--init-from) records only its last step's photos.
        "fine_tuned": bool((meta.get("config") or {}).get("init_from")),
        "val_images": meta.get("val_images"),
        "train_size": summary["size"],
        "epoch": meta.get("epoch"),
        "inference_size": inference.get("size", summary["size"]),
        "temperature": inference.get("temperature"),
        "prior_correction": inference.get("prior_correction"),
        # In MB of 10^6 bytes, as the model card and the paper's Params column count them (Django's
        # filesizeformat divides by 1024 and would call the same file 0.1 MB smaller than the card).
        "file_size_mb": os.path.getsize(deployed_model_path()) / 1e6,
    }


def evaluation():
    """Table 1 and the curves of the stored evaluation, or None when there is none (or it is
    not what `evaluate --json` writes: the page then says so rather than failing).

    {"n_images", "rows": [{label, is_model, is_shipped, auc_plain, ...}], "model_row", "charts": [...]}
    """
    try:
        data = _cached(DEFAULT_RESULTS_PATH, _read_json)
        return _table(data, _cached(DEFAULT_HINT_RESULTS_PATH, _read_json)) if data else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("Cannot read the stored evaluation %s: %r", DEFAULT_RESULTS_PATH, exc)
        return None


def _table(data, hint_data=None):
    rows = []
    for row in data["rows"]:
        is_model = row["method"] not in BASELINE_LABELS
        # The first model row is the shipped model; any other (an evaluation of several
        # models) keeps its own name, or a readable one for the previous default.
        first = is_model and not any(r["is_model"] for r in rows)
        label = BASELINE_LABELS.get(row["method"]) or (
            "This model" if first else OTHER_MODEL_LABELS.get(row["method"], row["method"]))
        rows.append({**row, "is_model": is_model, "is_shipped": first, "label": label})
    if not rows:
        return None
    model_row = next((r for r in rows if r["is_model"]), None)
    return {
        "n_images": data.get("n_images"),
        "top1_mode": data.get("top1_mode"),
        "classifier": data.get("classifier"),
        "rows": rows,
        "model_row": model_row,
        "gray_row": next((r for r in rows if r["method"] == "gray"), None),
        "truth_row": next((r for r in rows if r["method"] == "ground_truth"), None),
        "charts": [chart(rows, "curve_plain", "auc_plain", "Every pixel counts the same"),
                   chart(rows, "curve_rebal", "auc_rebal", "Rare colors count as much as common ones")],
        "hint_chart": hint_chart(model_row.get("hint_curve") or data.get("hint_curve")
                                 or (hint_data or {}).get("hint_curve")) if model_row else None,
        "hint_images": (data if model_row and (model_row.get("hint_curve") or data.get("hint_curve"))
                        else hint_data or {}).get("n_images"),
    }


PAPER_HINT_COLOUR = "#8a8a8a"


def hint_chart(curve):
    """PSNR against the number of colour hints, this model's (`evaluate --hints`) beside Zhang et
    al. 2017's on ImageNet; the counts are evenly spaced, as the paper's figure spaces them
    (0, 1, 2, 5, ... 100). None without a curve."""
    points = [p for p in curve or [] if p.get("psnr") is not None]
    if len(points) < 2:
        return None
    counts = sorted({p["hints"] for p in points} | set(PAPER_HINT_PSNR))
    values = [p["psnr"] for p in points] + list(PAPER_HINT_PSNR.values())
    low, high = int(min(values)) - 1, int(max(values)) + 2
    width, height = PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP

    def x(count):
        return PLOT_LEFT + width * counts.index(count) / (len(counts) - 1)

    def y(db):
        return PLOT_BOTTOM - height * (db - low) / (high - low)

    def line(pairs):
        return " ".join(f"{x(c):.1f},{y(v):.1f}" for c, v in pairs)

    step = max(1, (high - low) // 5)
    return {
        "series": [
            {"label": "This model", "points": line((p["hints"], p["psnr"]) for p in points), "color": MODEL_COLOUR,
             "is_shipped": True},
            {"label": "Zhang et al. 2017 (ImageNet)", "points": line(sorted(PAPER_HINT_PSNR.items())),
             "color": PAPER_HINT_COLOUR, "is_shipped": False},
        ],
        "rows": [{"hints": c, "ours": next((p["psnr"] for p in points if p["hints"] == c), None),
                  "paper": PAPER_HINT_PSNR.get(c)} for c in counts],
        # The last label ends at its tick, so that "100" is not cut by the chart's edge.
        "x_ticks": [{"x": x(c), "label": c, "anchor": "end" if c == counts[-1] else "middle"} for c in counts],
        "y_ticks": [{"y": y(v), "label": f"{v}"} for v in range(low, high + 1, step)],
        "width": CHART_W, "height": CHART_H, "left": PLOT_LEFT, "right": PLOT_RIGHT, "top": PLOT_TOP,
        "bottom": PLOT_BOTTOM, "plot_w": width, "plot_h": height, "label_y": PLOT_BOTTOM + 34,
        "centre_x": (PLOT_LEFT + PLOT_RIGHT) / 2, "tick_label_y": PLOT_BOTTOM + 16,
    }


def chart(rows, curve_key, auc_key, title):
    """Geometry of one accuracy-against-threshold panel for the template's inline SVG."""
    width, height = PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP
    series = []
    for row in rows:
        curve = row.get(curve_key) or []
        if len(curve) < 2:
            continue
        last = len(curve) - 1
        points = " ".join(f"{PLOT_LEFT + width * t / last:.1f},{PLOT_BOTTOM - height * max(0.0, min(1.0, v)):.1f}"
                          for t, v in enumerate(curve))
        colour = (MODEL_COLOUR if row["is_shipped"] else OTHER_MODEL_COLOUR) if row["is_model"] \
            else SERIES_COLOURS.get(row["method"], "#555555")
        series.append({"label": row["label"], "points": points, "auc": row.get(auc_key), "is_shipped": row["is_shipped"],
                       "color": colour})
    max_threshold = max((len(row.get(curve_key) or []) - 1 for row in rows), default=0)
    x_ticks = [{"x": PLOT_LEFT + width * t / max_threshold, "label": t}
               for t in range(0, max_threshold + 1, 25)] if max_threshold > 0 else []
    y_ticks = [{"y": PLOT_BOTTOM - height * a / 100, "label": f"{a}%"} for a in range(0, 101, 25)]
    return {"title": title, "series": series, "x_ticks": x_ticks, "y_ticks": y_ticks,
            "width": CHART_W, "height": CHART_H, "left": PLOT_LEFT, "right": PLOT_RIGHT,
            "top": PLOT_TOP, "bottom": PLOT_BOTTOM, "plot_w": width, "plot_h": height, "label_y": PLOT_BOTTOM + 34,
            "centre_x": (PLOT_LEFT + PLOT_RIGHT) / 2, "tick_label_y": PLOT_BOTTOM + 16}
