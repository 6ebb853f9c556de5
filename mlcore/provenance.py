"""What a colorized file says about itself, and the one function that writes every result.

Every result says it was colorized, by whom and how: `colorsite`, the model version, the
vividness and temperature, how many colour hints a person gave, the date and the source file, in a PNG's text chunks and XMP (and
EXIF), or in a JPEG's EXIF and XMP, so that a copy passed around keeps saying it is not the
original photograph. save_result() is the only writer: the site's and the API's stored
results and JPEG downloads, share links and `manage.py colorize` all go through it.

The XMP names the result "composite with trained algorithmic media" in IPTC's digital source
type vocabulary, the term photo services and news agencies read for photos an AI model has
changed. No Django here: the command line writes results without the site.

Of the original's EXIF, a file may carry all of it or only the allow-list SHAREABLE_EXIF
(shareable_exif): the caller chooses (the site: share links and, unless the owner asks for
everything, the owner's own downloads carry the allow-list and no file name). A JPEG cannot hold
more than about 64 KB of EXIF: a larger one falls back to the allow-list. A stored PNG's
metadata can be replaced while it streams, without decoding its pixels (png_with_metadata).
"""

import io
import logging
import struct
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, PngImagePlugin

from .imageio import JPEG_QUALITY, save_jpeg, save_png

SOFTWARE = "colorsite"
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
XMP_KEY = "XML:com.adobe.xmp"  # the PNG iTXt keyword XMP lives under
NS = "https://colorsite.example/ns/provenance/1.0/"
# EXIF tags we write; of the original's, all or the allow-list below are kept.
EXIF_IMAGE_DESCRIPTION, EXIF_SOFTWARE, EXIF_ORIENTATION = 0x010E, 0x0131, 0x0112
# PNG text keys (tEXt), beside the XMP.
TEXT_PREFIX = "colorsite:"
FORMATS = ("png", "jpeg")

# Of the original's EXIF, what a shared result may carry: when and with what it was taken, and
# which way up. Never where (GPS), who (Artist, Copyright, owner name), which camera exactly
# (serial numbers), or what anyone wrote (UserComment, ImageDescription, XPComment...).
EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_DATE_TAKEN = 0x010F, 0x0110, 0x8769, 0x9003
SHAREABLE_EXIF = {"make": EXIF_MAKE, "model": EXIF_MODEL, "orientation": EXIF_ORIENTATION,
                  "date_taken": EXIF_DATE_TAKEN}
# Longer values are not a camera's name or a date: dropped, not cut.
MAX_SHAREABLE_VALUE = 64
# A JPEG's EXIF lives in one APP1 segment: 65535 bytes less its length field and "Exif\0\0".
# Pillow refuses more ("EXIF data is too long").
MAX_JPEG_EXIF = 65527
# PNG chunks that hold metadata: replaced as a whole by png_with_metadata.
PNG_METADATA_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"eXIf"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

logger = logging.getLogger(__name__)


def make_facts(model_version, vividness, temperature, colorized_at, source, hints=0):
    """The provenance of one result, as files, the photo page and the API state it.
    colorized_at: an aware datetime; temperature None: the model file's own; hints: how many
    colour hints a person gave (0: the model's colours alone)."""
    return {
        "software": SOFTWARE,
        "model_version": model_version,
        "vividness": round(vividness),
        "temperature": temperature,
        "colorized_at": colorized_at.isoformat(timespec="seconds"),
        "source": source,
        "hints": int(hints),
    }


def sentence(facts):
    t = facts["temperature"]
    temperature = "the model's own temperature" if t is None else f"temperature {t:g}"
    # No source: a file that must not say the original's name.
    source = f", from {facts['source']}" if facts.get("source") else ""
    n = facts.get("hints", 0)
    guided = f", guided by {n} colour hint{'' if n == 1 else 's'} from a person" if n else ""
    return (f"Colorized by {facts['software']} with the model {facts['model_version']} "
            f"(vividness {facts['vividness']}, {temperature}{guided}) on {facts['colorized_at'][:10]}{source}.")


def xmp_packet(facts):
    attributes = "\n   ".join(
        f"colorsite:{key}={quoteattr(str(value))}" for key, value in facts.items()
        if key != "software" and value is not None
    )
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
   xmlns:xmp="http://ns.adobe.com/xap/1.0/"
   xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
   xmlns:colorsite="{NS}"
   xmp:CreatorTool="{SOFTWARE}"
   xmp:ModifyDate="{facts['colorized_at']}"
   Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"
   {attributes}>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(sentence(facts))}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def original_exif(fp):
    """The EXIF of an original (a path or an open file); an empty one when it has none or
    cannot be read."""
    try:
        with Image.open(fp) as img:
            return img.getexif()
    except (OSError, ValueError, SyntaxError):
        return Image.Exif()


def facts_of(result):
    """The facts a stored result PNG (an opened PIL image) carries in its text chunks; None
    when it carries none."""
    text = {key[len(TEXT_PREFIX):]: value for key, value in result.info.items()
            if isinstance(key, str) and key.startswith(TEXT_PREFIX)}
    if "model_version" not in text or "colorized_at" not in text:
        return None
    temperature = text.get("temperature")
    return {
        "software": result.info.get("Software", SOFTWARE),
        "model_version": text["model_version"],
        "vividness": round(float(text.get("vividness", 0))),
        "temperature": None if temperature is None else float(temperature),
        "colorized_at": text["colorized_at"],
        "source": text.get("source", ""),
        "hints": int(text.get("hints", 0)),  # results from before hints had none
    }


def shareable_exif(exif):
    """A new Image.Exif holding only the allow-list of `exif` (SHAREABLE_EXIF): date taken,
    camera make and model, orientation. `exif` is not changed."""
    kept = Image.Exif()
    for tag in (EXIF_MAKE, EXIF_MODEL, EXIF_ORIENTATION):
        if _plain(exif.get(tag)):
            kept[tag] = exif[tag]
    taken = exif.get_ifd(EXIF_IFD).get(EXIF_DATE_TAKEN)
    if _plain(taken):
        kept.get_ifd(EXIF_IFD)[EXIF_DATE_TAKEN] = taken
    return kept


def _plain(value):
    return isinstance(value, int) or (isinstance(value, str) and 0 < len(value) <= MAX_SHAREABLE_VALUE)


def carries_only_shareable(result):
    """Whether a result file (an opened PIL image; only its header is read) says nothing beyond
    the allow-list and our provenance: no source file name, no EXIF outside SHAREABLE_EXIF."""
    if (facts_of(result) or {}).get("source"):
        return False
    exif = result.getexif()
    ours = {EXIF_SOFTWARE, EXIF_IMAGE_DESCRIPTION, EXIF_IFD}
    base = {tag: value for tag, value in exif.items() if tag not in ours}
    kept = shareable_exif(exif)
    return base == {tag: kept[tag] for tag in kept if tag != EXIF_IFD} \
        and dict(exif.get_ifd(EXIF_IFD)) == dict(kept.get_ifd(EXIF_IFD))


def save_result(image, fp, fmt="png", facts=None, exif=None, quality=JPEG_QUALITY):
    """Write a colorized result to `fp` as PNG or JPEG, saying how it was made. facts: from
    make_facts() (None writes none: a result from before provenance). exif: the original's
    (original_exif()), kept upright beside ours; its Orientation becomes 1, since the result
    is already rotated as people see it."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    params = {}
    exif = _with_our_exif(exif, facts)
    if fmt == "jpeg" and exif and len(exif.tobytes()) > MAX_JPEG_EXIF:
        logger.info("The original's EXIF is too large for a JPEG: the result keeps its shareable part")
        exif = _with_our_exif(shareable_exif(exif), facts)
    if exif:
        params["exif"] = exif
    if fmt == "png":
        if facts is not None:
            info = PngImagePlugin.PngInfo()
            info.add_text("Software", SOFTWARE)
            info.add_itxt("Description", sentence(facts))
            for key, value in facts.items():
                if value is not None:
                    info.add_text(TEXT_PREFIX + key, str(value))
            info.add_itxt(XMP_KEY, xmp_packet(facts))
            params["pnginfo"] = info
        save_png(image, fp, **params)
    else:
        if facts is not None:
            params["xmp"] = xmp_packet(facts).encode()
        save_jpeg(image, fp, quality, **params)


def _with_our_exif(exif, facts):
    """A copy of `exif` (the original's) with our tags, upright: the result is already rotated
    as people see it. Without facts, `exif` as it is."""
    if facts is None:
        return exif
    exif = Image.Exif() if exif is None else _copy(exif)
    exif[EXIF_SOFTWARE] = SOFTWARE
    exif[EXIF_IMAGE_DESCRIPTION] = sentence(facts)
    exif[EXIF_ORIENTATION] = 1
    return exif


def _copy(exif):
    copy = Image.Exif()
    copy.load(exif.tobytes())
    return copy


# -- replacing a stored PNG's metadata while it streams ------------------------------------------


def png_with_metadata(stored, facts, exif):
    """The bytes of a result PNG (`stored`, an open binary file at its start) with its metadata
    chunks replaced by those save_result() writes for `facts` and `exif`; every other chunk as
    it is. An iterator: the pixels are never decoded, so a 30 Mpx result streams. Closes
    `stored` when done, or when the iterator is closed (as Django closes a response's)."""
    with stored:
        if stored.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            raise ValueError("the stored result is not a PNG")
        yield PNG_SIGNATURE
        ours = _metadata_chunks(facts, exif)
        for kind, chunk in _png_chunks(stored):
            if kind in PNG_METADATA_CHUNKS:
                continue
            if kind == b"IDAT" and ours:  # before the pixels, where readers look first
                yield b"".join(ours)
                ours = []
            yield chunk


def _metadata_chunks(facts, exif):
    """The metadata chunks save_result() writes for facts and exif (into a 1x1 PNG)."""
    buf = io.BytesIO()
    save_result(Image.new("L", (1, 1)), buf, "png", facts, exif)
    buf.seek(len(PNG_SIGNATURE))
    return [chunk for kind, chunk in _png_chunks(buf) if kind in PNG_METADATA_CHUNKS]


def _png_chunks(f):
    """(type, the whole chunk's bytes) of a PNG file positioned after its signature."""
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        yield kind, head + f.read(length + 4)
        if kind == b"IEND":
            return
