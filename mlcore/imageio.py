"""Reading photos the way people send them: any orientation, mode and bit depth."""
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# zlib level 1: several times faster than Pillow's default 6, for PNGs a few percent larger; at
# the default, encoding was most of a result's cost. Every PNG result (site, API, command line)
# is written at this.
PNG_COMPRESS_LEVEL = 1
# Quality of a full-size JPEG result when none is asked for (site, API and command line).
JPEG_QUALITY = 92
Image.MAX_IMAGE_PIXELS = 100_000_000  # Pillow warns above this and refuses at twice it: decompression bombs


def load_image(source, draft=None):
    """Open a path or file object and return a PIL image with EXIF orientation applied.

    Modes are normalised to what the colorizer handles: L, LA, RGB or RGBA. 16-bit and
    32-bit gray become 8-bit L; CMYK, YCbCr and palette images become RGB (RGBA if the
    palette has transparency).

    draft=(w, h): for a photo about to be shrunk, a JPEG may decode at 1/2, 1/4 or 1/8 scale,
    never below (w, h), which is many times faster for a large photo.
    """
    with Image.open(source) as img:
        if draft:
            img.draft(None, draft)
        img = ImageOps.exif_transpose(img)
        img.load()
    return normalise_mode(img)


def normalise_mode(img):
    if img.mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "1":
        return img.convert("L")
    if img.mode == "P" and "transparency" in img.info:
        return img.convert("RGBA")
    if img.mode == "PA":
        return img.convert("RGBA")
    return img.convert("RGB")


def is_grayscale(rgb, tolerance=1.0):
    """True when an RGB array's channels are (nearly) identical: nothing to learn colour from."""
    rgb = rgb.astype(np.int16)
    diff = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])).mean() / 2.0
    return diff < tolerance


def save_png(image, fp, **params):
    """Write a result as PNG at PNG_COMPRESS_LEVEL (params: Pillow's, e.g. pnginfo)."""
    image.save(fp, "PNG", compress_level=PNG_COMPRESS_LEVEL, **params)


def save_jpeg(image, fp, quality=JPEG_QUALITY, **params):
    """Write a result as JPEG; transparency becomes white (JPEG has no alpha). params: Pillow's,
    e.g. exif."""
    if image.mode not in ("RGB", "L"):
        image = flatten(image)
    image.save(fp, "JPEG", quality=quality, optimize=True, **params)


def flatten(image):
    """RGB on white for formats without alpha (JPEG)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def open_colour_photo(path, draft_size):
    """A colour photo as an RGB PIL image (decoded at a reduced scale when the file allows, never
    below draft_size), or why not: 'unreadable' or 'grayscale' (judged on the whole photo)."""
    try:
        img = load_image(path, draft=(draft_size, draft_size))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "unreadable"
    if img.mode in ("L", "LA"):
        return "grayscale"
    rgb = img.convert("RGB")
    if is_grayscale(np.asarray(rgb)):
        return "grayscale"
    return rgb


def load_colour_photo(path, size):
    """A colour photo as an RGB PIL image of size x size, or why not: 'unreadable' or 'grayscale'.
    Photos are resized to the square, not cropped."""
    rgb = open_colour_photo(path, size)
    if isinstance(rgb, str):
        return rgb
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    return rgb
