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
"""

import io
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
    return (f"Colorized by {facts['software']} with the model {facts['model_version']} "
            f"(vividness {facts['vividness']}, {temperature}) on {facts['colorized_at'][:10]}, "
            f"from {facts['source']}.")


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
