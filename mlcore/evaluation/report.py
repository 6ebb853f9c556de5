"""An evaluation's results for people: the paper's table as text, and the accuracy curves as a PNG."""
import math
import os

from PIL import Image

from .evaluate import Result
from .metrics import MAX_THRESHOLD


def _fmt(value, spec):
    if value is None:
        return "-".rjust(int(spec.split(".")[0]))
    return format(value, spec)


def format_table(result):
    """The rows in the layout of the paper's Table 1 (plus PSNR, colourfulness and blotches)."""
    data = result.as_dict() if isinstance(result, Result) else result
    top1_title = "Top-1" if data.get("top1_mode") == "labels" else "Top-1 agr"
    width = max([12] + [len(r["method"]) for r in data["rows"]])
    head1 = (f"{'':<{width}}  {'Params':>7} {'Feats':>7} {'Runtime':>8}  | {'AuC (%)':^15} | {top1_title:>9}"
             f" | {'PSNR':>6} {'Colourful':>9} {'gap':>6} | {'Blotches (%)':^13}")
    head2 = (f"{'Method':<{width}}  {'(MB)':>7} {'(MB)':>7} {'(ms)':>8}  | {'plain':>7} {'rebal':>7} | {'(%)':>9}"
             f" | {'(dB)':>6} {'(H&S)':>9} {'':>6} | {'hue':>6} {'chroma':>6}")
    lines = [head1, head2, "-" * len(head1)]
    for r in data["rows"]:
        lines.append(f"{r['method']:<{width}}  {_fmt(r['params_mb'], '7.1f')} {_fmt(r['feats_mb'], '7.1f')} "
                     f"{_fmt(r['runtime_ms'], '8.1f')}  | {r['auc_plain']:7.1f} {r['auc_rebal']:7.1f} | "
                     f"{_fmt(r['top1'], '9.1f')} | {_fmt(r['psnr'], '6.2f')} {r['colorfulness']:9.1f} "
                     f"{r['colorfulness_gap']:+6.1f} | {_fmt(r.get('hue_flips'), '6.1f')} "
                     f"{_fmt(r.get('false_chroma'), '6.1f')}")
    return "\n".join(lines)


_PALETTE = [(0, 0, 0), (128, 128, 128), (190, 150, 0), (31, 119, 180), (214, 39, 40), (44, 160, 44),
            (148, 103, 189), (255, 127, 14), (23, 190, 207), (227, 119, 194), (140, 86, 75)]


def plot_curves(result, path, width=1200, height=560):
    """PNG of accuracy against threshold for every row, plain and rebalanced side by side.
    Drawn with Pillow, so the evaluation needs no plotting library."""
    from PIL import ImageDraw, ImageFont

    data = result.as_dict() if isinstance(result, Result) else result
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    panel_w = (width - 40) // 2
    for p, (key, title) in enumerate((("curve_plain", "AuC, plain"), ("curve_rebal", "AuC, rebalanced"))):
        left, top = 20 + p * panel_w + 50, 40
        right, bottom = 20 + (p + 1) * panel_w - 10, height - 60
        draw.text(((left + right) // 2, 12), f"Accuracy vs ab threshold ({title}), n={data['n_images']}",
                  fill="black", font=font, anchor="mt")
        for t in range(0, MAX_THRESHOLD + 1, 25):
            x = left + (right - left) * t / MAX_THRESHOLD
            draw.line([(x, top), (x, bottom)], fill=(230, 230, 230))
            draw.text((x, bottom + 6), str(t), fill="black", font=small, anchor="mt")
        for a in range(0, 101, 20):
            y = bottom - (bottom - top) * a / 100
            draw.line([(left, y), (right, y)], fill=(230, 230, 230))
            draw.text((left - 6, y), f"{a}%", fill="black", font=small, anchor="rm")
        draw.rectangle([left, top, right, bottom], outline="black")
        draw.text(((left + right) // 2, bottom + 26), "threshold (Euclidean distance in ab)", fill="black",
                  font=small, anchor="mt")
        for i, row in enumerate(data["rows"]):
            colour = _PALETTE[i % len(_PALETTE)]
            curve = row[key]
            pts = [(left + (right - left) * t / MAX_THRESHOLD, bottom - (bottom - top) * v) for t, v in enumerate(curve)]
            draw.line(pts, fill=colour, width=2)
            auc = row["auc_plain" if key == "curve_plain" else "auc_rebal"]
            ly = bottom - 16 - 16 * (len(data["rows"]) - 1 - i)
            draw.line([(right - 190, ly), (right - 170, ly)], fill=colour, width=3)
            draw.text((right - 165, ly), f"{row['method']} ({auc:.1f})", fill=colour, font=small, anchor="lm")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    return path


def json_ready(data):
    """Replace non-finite floats by None so that the JSON is valid."""
    if isinstance(data, dict):
        return {k: json_ready(v) for k, v in data.items()}
    if isinstance(data, list):
        return [json_ready(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data
