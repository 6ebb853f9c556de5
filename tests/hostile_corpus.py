"""
A corpus of hostile and odd uploads, made here (nothing downloaded).

Each Sample is a file as a client could send it: a file name, a declared
content type and bytes, and what the site must do with it: colorize it at
`size` (width, height after EXIF rotation), or refuse it with a message
holding `reason`. tests/test_hostile_inputs.py sends every sample through
the site's upload form and through the API.
"""

import io
import os
import random
import struct
import zlib
from dataclasses import dataclass

from PIL import Image, ImageCms

# EXIF tag 0x0112: how a camera says "rotate me when shown".
EXIF_ORIENTATION = 0x0112
# Above the site's default UPLOAD_MAX_PIXELS (40 Mpx), below Pillow's own
# decompression-bomb refusal (2 x 100 Mpx, see mlcore.imageio).
OVER_LIMIT_SIZE = (8000, 6000)
# Far above Pillow's refusal: a bomb.
BOMB_SIZE = (40000, 40000)


@dataclass
class Sample:
    kind: str
    name: str
    data: bytes
    content_type: str = "application/octet-stream"
    size: tuple = None  # expected result size when it is colorized
    reason: str = None  # part of the expected 400 message when refused
    # Refused by Django's request parser before any view code runs: the
    # site's answer is Django's plain 400 page (the API's is JSON with the
    # reason). No browser sends such a request.
    by_parser: bool = False

    @property
    def accepted(self):
        return self.reason is None


def gradient(size=(64, 48), mode="L"):
    img = Image.linear_gradient("L").resize(size)
    return img if mode == "L" else img.convert(mode)


def encode(img, fmt, **params):
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_chunk(kind, payload, crc=None):
    crc = zlib.crc32(kind + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc & 0xFFFFFFFF)


def png_header(width, height, bit_depth=8, color_type=0):
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))


def declared_png(width, height, rows=16):
    """A valid-looking gray PNG declaring a huge size, with a few kilobytes
    of pixel data: tiny on the wire, gigabytes once decoded."""
    raw = zlib.compress(b"\x00" * ((width + 1) * rows), 9)
    return png_header(width, height) + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b"")


def lying_jpeg(width=6000, height=6000):
    """A real 8x8 JPEG whose frame header claims width x height: a few hundred bytes that
    libjpeg would pad with gray into 36 megapixels."""
    data = bytearray(encode(Image.new("L", (8, 8), 100), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bad_crc_png():
    data = encode(gradient(), "PNG")
    # The IHDR chunk's CRC sits at bytes 29..32.
    return data[:29] + bytes(b ^ 0xFF for b in data[29:33]) + data[33:]


def ycck_jpeg():
    """A CMYK JPEG whose Adobe marker says YCCK (transform 2): decoders
    convert YCC to CMYK first. Pillow cannot write YCCK itself."""
    data = encode(gradient().convert("CMYK"), "JPEG")
    at = data.index(b"Adobe")
    transform = at + 11  # "Adobe", version (2 bytes), flags0 (2), flags1 (2), transform (1)
    assert data[transform] in (0, 2)
    return data[:transform] + b"\x02" + data[transform + 1:]


def exif_jpeg(orientation, size=(40, 20)):
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return encode(gradient(size, "RGB"), "JPEG", exif=exif)


def frames(n=3, size=(32, 24)):
    return [Image.new("L", size, 40 + 60 * i) for i in range(n)]


def polyglot_png():
    """A valid PNG that is also an HTML document with a script, to a
    browser that sniffs: HTML in a text chunk and after IEND."""
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    png = encode(gradient(), "PNG")
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + png_chunk(b"tEXt", b"Comment\x00" + html) + png[iend:] + html


def sepia(size=(60, 40)):
    g = gradient(size)
    return Image.merge("RGB", [g.point(lambda v: min(255, int(v * 1.07) + 20)), g.point(lambda v: int(v * 0.9) + 10),
                               g.point(lambda v: int(v * 0.7))])


def colour_photo(size=(60, 40)):
    img = Image.new("RGB", size)
    img.putdata([(x * 4 % 256, y * 6 % 256, (x + y) * 3 % 256) for y in range(size[1]) for x in range(size[0])])
    return img


def multipage_tiff():
    first, *rest = frames(3, (36, 28))
    buf = io.BytesIO()
    first.save(buf, "TIFF", save_all=True, append_images=rest)
    return buf.getvalue()


def animated(fmt, **params):
    first, *rest = frames(3)
    buf = io.BytesIO()
    first.save(buf, fmt, save_all=True, append_images=rest, duration=100, loop=0, **params)
    return buf.getvalue()


def palette_with_transparency():
    img = gradient((50, 30)).convert("P")
    return encode(img, "PNG", transparency=0)


def corpus():
    """Every sample, in a fixed order (test ids come from `kind`)."""
    rng = random.Random(6)
    jpeg = encode(gradient((200, 150)), "JPEG")
    png = encode(gradient((200, 150)), "PNG")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    samples = [
        Sample("zero-bytes", "empty.jpg", b"", "image/jpeg", reason="is empty"),
        Sample("random-bytes", "noise.jpg", bytes(rng.randrange(256) for _ in range(4096)), "image/jpeg",
               reason="not an image we can read"),
        Sample("truncated-jpeg", "half.jpg", jpeg[: len(jpeg) // 2], "image/jpeg", reason="damaged or incomplete"),
        Sample("truncated-png", "half.png", png[: len(png) // 2], "image/png", reason="damaged or incomplete"),
        Sample("png-bad-crc", "crc.png", bad_crc_png(), "image/png", reason="not an image we can read"),
        Sample("decompression-bomb", "bomb.png", declared_png(*BOMB_SIZE), "image/png",
               reason="far larger than any photo"),
        Sample("over-pixel-limit", "huge.png", declared_png(*OVER_LIMIT_SIZE), "image/png", reason="megapixels"),
        Sample("tall-thin-40-megapixels", "tall.png", declared_png(1, 40_000_000), "image/png",
               reason="more than 20 times the other"),
        Sample("jpeg-claiming-6000x6000", "liar.jpg", lying_jpeg(), "image/jpeg", reason="holds only"),
        Sample("one-pixel", "dot.png", encode(gradient((1, 1)), "PNG"), "image/png", size=(1, 1)),
        Sample("one-by-n", "line.png", encode(gradient((1, 300)), "PNG"), "image/png", size=(1, 300)),
        Sample("extreme-aspect", "panorama.png", encode(gradient((3000, 2)), "PNG"), "image/png", size=(3000, 2)),
        Sample("cmyk-jpeg", "cmyk.jpg", encode(gradient().convert("CMYK"), "JPEG"), "image/jpeg", size=(64, 48)),
        Sample("ycck-jpeg", "ycck.jpg", ycck_jpeg(), "image/jpeg", size=(64, 48)),
        Sample("png-16-bit", "deep.png", encode(gradient().convert("I;16"), "PNG"), "image/png", size=(64, 48)),
        Sample("tiff-16-bit", "deep.tif", encode(gradient().convert("I;16"), "TIFF"), "image/tiff", size=(64, 48)),
        Sample("palette-transparency", "pal.png", palette_with_transparency(), "image/png", size=(50, 30)),
        Sample("gray-alpha", "la.png", encode(gradient(mode="LA"), "PNG"), "image/png", size=(64, 48)),
        Sample("rgba", "rgba.png", encode(gradient(mode="RGBA"), "PNG"), "image/png", size=(64, 48)),
        *[
            Sample(f"exif-orientation-{o}", f"rotated-{o}.jpg", exif_jpeg(o), "image/jpeg",
                   size=(20, 40) if o >= 5 else (40, 20))
            for o in range(2, 9)
        ],
        Sample("animated-gif", "anim.gif", animated("GIF"), "image/gif", reason="is a GIF image"),
        Sample("animated-webp", "anim.webp", animated("WEBP", lossless=True), "image/webp", size=(32, 24)),
        Sample("multipage-tiff", "pages.tif", multipage_tiff(), "image/tiff", size=(36, 28)),
        Sample("progressive-jpeg", "prog.jpg", encode(gradient((120, 80)), "JPEG", progressive=True), "image/jpeg",
               size=(120, 80)),
        Sample("icc-profile", "icc.jpg", encode(gradient(mode="RGB"), "JPEG", icc_profile=srgb), "image/jpeg",
               size=(64, 48)),
        Sample("name-dot-dot", "../../../etc/passwd.png", encode(gradient(), "PNG"), "image/png", size=(64, 48)),
        Sample("name-nul", "evil\x00name.png", encode(gradient(), "PNG"), "image/png", size=(64, 48)),
        Sample("name-newline", "evil\r\nSet-Cookie: x=1.png", encode(gradient(), "PNG"), "image/png", size=(64, 48)),
        # The longest name a Linux file system holds: kept, cut to 255 characters.
        Sample("name-very-long", "a" * 251 + ".png", encode(gradient(), "PNG"), "image/png", size=(64, 48)),
        # Longer than the 1 KiB that Django's multipart parser allows for a part's headers.
        Sample("name-over-header-limit", "a" * 1100 + ".png", encode(gradient(), "PNG"), "image/png",
               reason="header size exceeded", by_parser=True),
        Sample("name-non-latin", "Бабушка 1931 祖母 👵.png", encode(gradient(), "PNG"), "image/png", size=(64, 48)),
        Sample("svg-as-png", "vector.png",
               b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
               b"<script>alert(1)</script></svg>", "image/png", reason="not an image we can read"),
        Sample("html-as-png", "page.png", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "image/png",
               reason="not an image we can read"),
        Sample("png-html-polyglot", "polyglot.png", polyglot_png(), "text/html", size=(64, 48)),
        Sample("wrong-extension-and-type", "really-a-png.jpg", encode(gradient((30, 20)), "PNG"), "image/jpeg",
               size=(30, 20)),
        Sample("colour-photo", "colour.jpg", encode(colour_photo(), "JPEG"), "image/jpeg", size=(60, 40)),
        Sample("sepia-photo", "sepia.png", encode(sepia(), "PNG"), "image/png", size=(60, 40)),
        Sample("all-black", "black.png", encode(Image.new("L", (40, 30), 0), "PNG"), "image/png", size=(40, 30)),
        Sample("all-white", "white.jpg", encode(Image.new("L", (40, 30), 255), "JPEG"), "image/jpeg", size=(40, 30)),
    ]
    assert len({s.kind for s in samples}) == len(samples)
    return samples


def basename(name):
    return os.path.basename(name)
