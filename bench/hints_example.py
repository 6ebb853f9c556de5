"""The model card's "Fix a color" example: a look-set photo, its automatic colours, and its colours
with a few hints, the hints marked (what a person sees after tapping and picking a colour).

    python bench/hints_example.py [--model mlcore/weights/default.pt] \
        [--photo data/lookset/43_paris_ladies_1910.jpg] [--out mlcore/weights/results/hints_example.jpg]

The hints are a person's, as the API takes them ({"x", "y", "color"}, fractions from the top-left).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw

from mlcore.colorizer import Colorizer
from mlcore.hint_points import hint_points, validate_hints
from mlcore.render import render

# The Paris photo (look set 43): the parasol green, the left lady's skirt navy, the right lady's
# dress wine red.
PARIS_HINTS = [{"x": 0.50, "y": 0.14, "color": "#2e6b30"},
               {"x": 0.30, "y": 0.75, "color": "#1f2a5c"},
               {"x": 0.57, "y": 0.75, "color": "#7a1f2b"}]
HEIGHT = 640


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="mlcore/weights/default.pt")
    parser.add_argument("--photo", default="data/lookset/43_paris_ladies_1910.jpg")
    parser.add_argument("--out", default="mlcore/weights/results/hints_example.jpg")
    args = parser.parse_args()
    colorizer = Colorizer.load(args.model, device="cpu")
    photo = Image.open(args.photo)
    photo.load()
    hints = validate_hints(PARIS_HINTS)
    panels = [photo.convert("RGB"), colorizer.colorize(photo), render(colorizer.predict(photo, hint_points(hints)), photo)]
    width = round(photo.width * HEIGHT / photo.height)
    panels = [p.resize((width, HEIGHT), Image.Resampling.LANCZOS) for p in panels]
    draw = ImageDraw.Draw(panels[2])
    for hint in hints:
        x, y = hint["x"] * width, hint["y"] * HEIGHT
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), outline="white", width=3)
    gap = 10
    sheet = Image.new("RGB", (3 * width + 2 * gap, HEIGHT), "white")
    for i, panel in enumerate(panels):
        sheet.paste(panel, (i * (width + gap), 0))
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height}) with {colorizer.version}, hint strength {colorizer.hint_strength}")


if __name__ == "__main__":
    main()
