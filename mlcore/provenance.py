"""What a colorized file says about itself, and the one function that writes every result.

Every result says it was colorized, by whom and how: `colorsite`, the model version, the
vividness and temperature, how many colour hints a person gave, the date and the source file, in a PNG's text chunks and XMP (and
EXIF), or in a JPEG's EXIF and XMP, so that a copy passed around keeps saying it is not the
original photograph. save_result() is the only writer: the site's and the API's stored
results and JPEG downloads, share links and `manage.py colorize` all go through it.

The XMP names the result "composite with trained algorithmic media" in IPTC's digital source
type vocabulary, the term photo services and news agencies read for photos an AI model has
changed. No Django here: the command line writes results without the site.
"""

from xml.sax.saxutils import escape, quoteattr

from PIL import Image, PngImagePlugin

from .imageio import JPEG_QUALITY, save_jpeg, save_png

SOFTWARE = "colorsite"
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
XMP_KEY = "XML:com.adobe.xmp"  # the PNG iTXt keyword XMP lives under
NS = "https://colorsite.example/ns/provenance/1.0/"
# EXIF tags we write; everything else of the original's is kept.
EXIF_IMAGE_DESCRIPTION, EXIF_SOFTWARE, EXIF_ORIENTATION = 0x010E, 0x0131, 0x0112
# PNG text keys (tEXt), beside the XMP.
TEXT_PREFIX = "colorsite:"
FORMATS = ("png", "jpeg")


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
    n = facts.get("hints", 0)
    guided = f", guided by {n} colour hint{'' if n == 1 else 's'} from a person" if n else ""
    return (f"Colorized by {facts['software']} with the model {facts['model_version']} "
            f"(vividness {facts['vividness']}, {temperature}{guided}) on {facts['colorized_at'][:10]}, "
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


def save_result(image, fp, fmt="png", facts=None, exif=None, quality=JPEG_QUALITY):
    """Write a colorized result to `fp` as PNG or JPEG, saying how it was made. facts: from
    make_facts() (None writes none: a result from before provenance). exif: the original's
    (original_exif()), kept upright beside ours; its Orientation becomes 1, since the result
    is already rotated as people see it."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    params = {}
    if facts is not None:
        exif = exif if exif is not None else Image.Exif()
        exif[EXIF_SOFTWARE] = SOFTWARE
        exif[EXIF_IMAGE_DESCRIPTION] = sentence(facts)
        exif[EXIF_ORIENTATION] = 1
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
