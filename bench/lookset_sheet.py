"""A contact sheet of the look set: each real old photograph beside a model's colours.

The look set (bench/lookset/sources.csv: black-and-white photographs from before 1950, public
domain, people-heavy) is for looking only, never for training or tuning. Fetch it once with
`python bench/lookset/fetch_lookset.py` (writes data/lookset/), then:

    python bench/lookset_sheet.py --model mlcore/weights/default.pt --out mlcore/weights/lookset_default.jpg

Colours come from the product's own path (Colorizer.predict, then mlcore.render.render), at the
model file's settings.
"""
import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.colorizer import Colorizer  # noqa: E402
from mlcore.render import render  # noqa: E402

THUMB = 220      # the longer side of each half of a pair
PAIRS_PER_ROW = 3
GAP = 6


def pair(original, colored, number):
    a, b = original.convert("RGB"), colored.convert("RGB")
    a.thumbnail((THUMB, THUMB))
    b.thumbnail((THUMB, THUMB))
    tile = Image.new("RGB", (2 * THUMB + GAP, THUMB), "white")
    tile.paste(a, (THUMB - a.width, (THUMB - a.height) // 2))
    tile.paste(b, (THUMB + GAP, (THUMB - b.height) // 2))
    ImageDraw.Draw(tile).text((THUMB - a.width + 4, 4), f"{number:02d}", fill=(255, 255, 0))
    return tile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--photos", default="data/lookset", help="folder of the look set's images")
    ap.add_argument("--out", required=True, help="JPEG to write")
    args = ap.parse_args()
    colorizer = Colorizer.load(args.model, device="cpu")
    files = sorted(Path(args.photos).glob("*.jpg"))
    if not files:
        sys.exit(f"no photos in {args.photos}: run bench/lookset/fetch_lookset.py first")
    tiles = []
    for number, path in enumerate(files, 1):
        with Image.open(path) as img:
            img.load()
            tiles.append(pair(img, render(colorizer.predict(img), img), number))
    rows = (len(tiles) + PAIRS_PER_ROW - 1) // PAIRS_PER_ROW
    width = PAIRS_PER_ROW * tiles[0].width + (PAIRS_PER_ROW - 1) * 3 * GAP
    sheet = Image.new("RGB", (width, rows * (THUMB + GAP)), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % PAIRS_PER_ROW) * (tile.width + 3 * GAP), (i // PAIRS_PER_ROW) * (THUMB + GAP)))
    sheet.save(args.out, "JPEG", quality=82, optimize=True)
    print(f"{len(tiles)} photos, {colorizer.version}: {args.out}")


if __name__ == "__main__":
    main()
