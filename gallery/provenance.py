"""What a photo's colorized file says about itself, for the site and the API.

The facts and the one writer of results are mlcore/provenance.py's (the command line
writes results too, without Django). Here: the facts of a photo's current result, as the
photo page and the API show them (describe()), and its original's EXIF (camera, date
taken), which its results keep.
"""

from django.core.files.storage import default_storage
from PIL import Image

from mlcore import provenance


def describe(photo, colorized_at=None, vividness=None, temperature=None):
    """The provenance of a photo's current result, as the page and the API show it;
    None until it is colorized. A rendering being stored passes its own time and
    settings (the row still holds the previous ones)."""
    when = colorized_at or photo.finished_at
    if not photo.model_version or when is None:
        return None
    return provenance.make_facts(
        photo.model_version,
        photo.vividness if vividness is None else vividness,
        # None: the model file's own temperature.
        photo.temperature if temperature is None else temperature,
        when,
        photo.original_filename,
        photo.hints_used,
    )


def original_exif(photo):
    """The original's EXIF (an empty one when it has none or cannot be read)."""
    try:
        with default_storage.open(photo.original.name, "rb") as f:
            return provenance.original_exif(f)
    except OSError:
        return Image.Exif()
