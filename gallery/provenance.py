"""What a colorized file says about itself.

Every result we store says it was colorized, by whom and how: `colorsite`,
the model version, the vividness and temperature, and the date, in the PNG's
text chunks and XMP (and in EXIF and XMP when it is downloaded as JPEG), so
that a copy passed around keeps saying it is not the original photograph.
The original's own EXIF (camera, date taken) is carried over, upright: the
result is already rotated as people see it, so its Orientation is 1.
The photo page and the API's status show the same facts (describe()).

The XMP names the result "composite with trained algorithmic media" in
IPTC's digital source type vocabulary, the term photo services and news
agencies read for photos an AI model has changed.

The stored result keeps all of the original's EXIF. Downloads carry less: a
result served through a share link, and by default the owner's own, carry
only SHAREABLE_EXIF of it (shareable_exif) and our provenance without the
original's file name; an owner who asks for it on the account page
(AccountSettings.keep_photo_metadata) gets everything in their own downloads.
"""

import io
import logging
import struct
from xml.sax.saxutils import escape, quoteattr

from django.core.files.storage import default_storage
from PIL import Image, PngImagePlugin

SOFTWARE = "colorsite"
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
XMP_KEY = "XML:com.adobe.xmp"  # the PNG iTXt keyword XMP lives under
NS = "https://colorsite.example/ns/provenance/1.0/"
# EXIF tags we write; everything else of the original's is kept.
EXIF_IMAGE_DESCRIPTION, EXIF_SOFTWARE, EXIF_ORIENTATION = 0x010E, 0x0131, 0x0112
# PNG text keys (tEXt), beside the XMP.
TEXT_PREFIX = "colorsite:"

# Of the original's EXIF, what a shared result may carry: when and with what it was taken, and
# which way up (1: the result is upright). Never where (GPS), who (Artist, Copyright, owner
# name), which camera exactly (serial numbers), or what anyone wrote (UserComment,
# ImageDescription, XPComment...): a share link goes to anyone.
EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_DATE_TAKEN = 0x010F, 0x0110, 0x8769, 0x9003
SHAREABLE_EXIF = {"make": EXIF_MAKE, "model": EXIF_MODEL, "orientation": EXIF_ORIENTATION,
                  "date_taken": EXIF_DATE_TAKEN}
# Longer values are not a camera's name or a date: dropped, not cut.
MAX_SHAREABLE_VALUE = 64
# A JPEG's EXIF lives in one APP1 segment: 65535 bytes less its length field and "Exif\0\0".
# Pillow refuses more ("EXIF data is too long"); a larger original EXIF falls back to the
# shareable part in a JPEG download.
MAX_JPEG_EXIF = 65527
# PNG chunks that hold metadata: replaced as a whole in a download that carries less.
PNG_METADATA_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"eXIf"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

logger = logging.getLogger("gallery")


def describe(photo, colorized_at=None, vividness=None, temperature=None):
    """The provenance of a photo's current result, as the page and the API show it;
    None until it is colorized. A rendering being stored passes its own time and
    settings (the row still holds the previous ones)."""
    when = colorized_at or photo.finished_at
    if not photo.model_version or when is None:
        return None
    return {
        "software": SOFTWARE,
        "model_version": photo.model_version,
        "vividness": round(photo.vividness if vividness is None else vividness),
        # None: the model file's own temperature.
        "temperature": photo.temperature if temperature is None else temperature,
        "colorized_at": when.isoformat(timespec="seconds"),
        "source": photo.original_filename,
    }


def sentence(facts):
    t = facts["temperature"]
    temperature = "the model's own temperature" if t is None else f"temperature {t:g}"
    source = f", from {facts['source']}" if facts.get("source") else ""
    return (f"Colorized by {facts['software']} with the model {facts['model_version']} "
            f"(vividness {facts['vividness']}, {temperature}) on {facts['colorized_at'][:10]}{source}.")


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


def original_exif(photo):
    """The original's EXIF (an empty one when it has none or cannot be read)."""
    try:
        with default_storage.open(photo.original.name, "rb") as f, Image.open(f) as img:
            return img.getexif()
    except (OSError, ValueError, SyntaxError):
        return Image.Exif()


def result_exif(exif, facts):
    exif[EXIF_SOFTWARE] = SOFTWARE
    exif[EXIF_IMAGE_DESCRIPTION] = sentence(facts)
    exif[EXIF_ORIENTATION] = 1
    return exif


def png_params(facts, exif):
    """Pillow's PNG save parameters for a result: text chunks, XMP (iTXt) and EXIF (eXIf)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", SOFTWARE)
    info.add_itxt("Description", sentence(facts))
    for key, value in facts.items():
        if value is not None:
            info.add_text(TEXT_PREFIX + key, str(value))
    info.add_itxt(XMP_KEY, xmp_packet(facts))
    return {"pnginfo": info, "exif": result_exif(exif, facts)}


def jpeg_params(png):
    """Pillow's JPEG save parameters for a JPEG made from a stored result PNG (an
    opened PIL image): the EXIF and XMP that PNG carries."""
    params = {}
    exif, xmp = png.getexif(), png.info.get(XMP_KEY)
    if exif:
        params["exif"] = exif
    if xmp:
        params["xmp"] = xmp.encode()
    return params


# -- what a download carries ---------------------------------------------------------------


def shareable_exif(exif):
    """A new Image.Exif holding only the allow-list of `exif` (SHAREABLE_EXIF): date taken,
    camera make and model, orientation. Pure: `exif` is not changed."""
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


def keeps_everything(photo, shared):
    """Whether this download carries all of the original's metadata: only the owner's own,
    and only when they asked for it on their account page."""
    if shared:
        return False
    # No row (the default) raises RelatedObjectDoesNotExist, an AttributeError.
    choices = getattr(photo.owner, "account_settings", None)
    return bool(choices and choices.keep_photo_metadata)


def download_filename(photo, shared, extension):
    """The original's name is the owner's: a share link's download does not say it."""
    return f"colorized-photo.{extension}" if shared else f"{photo.title}-color.{extension}"


def _public_facts(photo):
    facts = describe(photo)
    return facts and {**facts, "source": None}


def shareable_png(stored, photo):
    """The stored result PNG (an open binary file) with only the shareable EXIF and our
    provenance (without the original's file name) in its metadata chunks; every other chunk as
    it is. An iterator of bytes: the pixels are never decoded, so a 30 Mpx result streams."""
    facts = _public_facts(photo)
    exif = shareable_exif(original_exif(photo))
    return _replace_png_metadata(stored, _png_metadata_chunks(facts, exif) if facts else [])


def _png_metadata_chunks(facts, exif):
    """Our metadata chunks, as Pillow writes them (from a 1x1 image saved with png_params)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG", **png_params(facts, exif))
    data = io.BytesIO(buf.getvalue())
    data.read(len(PNG_SIGNATURE))
    return [chunk for kind, chunk in _png_chunks(data) if kind in PNG_METADATA_CHUNKS]


def _png_chunks(f):
    """(type, whole chunk bytes) of a PNG file positioned after its signature."""
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        yield kind, head + f.read(length + 4)
        if kind == b"IEND":
            return


def _replace_png_metadata(stored, chunks):
    """Closes `stored` when done, or when the response is closed (Django closes the iterator)."""
    with stored:
        if stored.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            raise ValueError("the stored result is not a PNG")
        yield PNG_SIGNATURE
        for kind, chunk in _png_chunks(stored):
            if kind in PNG_METADATA_CHUNKS:
                continue
            if kind == b"IDAT" and chunks:  # ours go before the pixels, where readers look first
                yield b"".join(chunks)
                chunks = []
            yield chunk


def jpeg_download_params(png, photo, shared):
    """Pillow's JPEG save parameters for a download made from the stored result PNG (an opened
    PIL image). Everything the PNG carries when keeps_everything, unless the original's EXIF is
    too large for a JPEG, in which case the shareable part of it; else only the shareable part."""
    if keeps_everything(photo, shared):
        params = jpeg_params(png)
        if len(params.get("exif", Image.Exif()).tobytes()) <= MAX_JPEG_EXIF:
            return params
        logger.info("Photo %s: its original EXIF is too large for a JPEG; the download keeps the shareable part",
                    photo.pk)
    facts = _public_facts(photo)
    if not facts:
        return {}
    return {"exif": result_exif(shareable_exif(original_exif(photo)), facts), "xmp": xmp_packet(facts).encode()}
