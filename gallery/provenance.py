"""What a photo's colorized file says about itself, for the site and the API.

The facts, the allow-list of the original's EXIF and the one writer of results are
mlcore/provenance.py's (the command line writes results too, without Django). Here: the facts of
a photo's current result, as the photo page and the API show them (describe()); its original's
EXIF; and what each download of it carries (carried(), result_png()).

A result is stored carrying only the shareable part of the original's EXIF and our provenance
without the original's file name: what a share link gives anyone, and what the owner's own
downloads carry by default. So those downloads are the stored file as it is (nginx or apache can
send it). An owner who asks for it on the account page (AccountSettings.keep_photo_metadata)
gets everything in their own downloads: the PNG's metadata is rewritten while it streams.
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


def keeps_everything(user):
    """Whether `user`'s own downloads carry all of their originals' metadata: only when they
    asked for it on their account page. Share links never do."""
    # No row (the default) raises RelatedObjectDoesNotExist, an AttributeError.
    choices = getattr(user, "account_settings", None)
    return bool(choices and choices.keep_photo_metadata)


def carried(photo, facts, everything=False, exif=None):
    """(facts, exif) that a file of `photo`'s result says, for save_result(): with
    `everything`, the original's file name and all of its EXIF; otherwise neither, only the
    allow-list (mlcore.provenance.SHAREABLE_EXIF). exif: the original's, when the caller has
    read it already (a job has: it is not read again)."""
    exif = original_exif(photo) if exif is None else exif
    if everything:
        return facts and {**facts, "source": photo.original_filename}, exif
    return facts and {**facts, "source": None}, provenance.shareable_exif(exif)


def download_filename(photo, shared, extension):
    """The original's name is the owner's: a share link's download does not say it."""
    return f"colorized-photo.{extension}" if shared else f"{photo.title}-color.{extension}"


def result_png(photo, everything=False):
    """The stored result PNG as a download that carries `everything` (or not) has it: its
    storage name when the stored file is that already (it can be served as it is), else an
    iterator of its bytes with the metadata rewritten on the way out. Raises OSError
    (FileNotFoundError: deleted meanwhile)."""
    stored = default_storage.open(photo.result.name, "rb")
    try:
        with Image.open(stored) as png:  # reads the chunks before the pixels, not the pixels
            shareable = provenance.carries_only_shareable(png)
            facts = provenance.facts_of(png)
    except BaseException:
        stored.close()
        raise
    if shareable and not everything:
        stored.close()
        return photo.result.name
    # Everything the owner asked for; or a result stored before results kept only the
    # shareable part, which must not reach a share link as it is.
    stored.seek(0)
    return provenance.png_with_metadata(stored, *carried(photo, facts, everything))
