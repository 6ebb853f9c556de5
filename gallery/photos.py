"""Turning a checked upload into a stored, queued Photo; serving photo files.

Both doors (gallery/views.py and gallery/api/views.py) call these and only
translate the outcome: a NotColorized is a 404 on the site, a 409 in the API.
"""

import io
import logging
import os
from contextlib import contextmanager

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from gallery import provenance
from gallery.colorizing import DISPLAY_SIZE, THUMBNAIL_SIZE, encode_jpeg, encode_png, fit
from gallery.models import NotColorized, Photo, jpeg_download_name, new_photo_folder, result_downloads
from mlcore.imageio import JPEG_QUALITY as JPEG_QUALITY_DEFAULT
from mlcore.provenance import facts_of, save_result

logger = logging.getLogger("gallery")
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tif": "image/tiff",
}


class PhotoNotStored(Exception):
    """The server could not write a photo's files (disk full, media folder
    not writable). Nothing of it was kept; the message says so to people."""


def create_photo(gallery, checked, temperature=None, vividness=None):
    """Store a CheckedImage (see forms.check_image) as a new queued photo,
    to be colorized at `vividness` and `temperature` (None: the model
    file's own). Takes no quota: uploads go through create_photos.

    The job is sent to Redis after the transaction commits; if Redis is
    down the photo is kept all the same and the sweeper sends it later.
    Raises PhotoNotStored, with nothing left behind, when its files cannot
    be written.
    """
    photo = _stored_photo(gallery, checked, temperature, vividness)
    try:
        with transaction.atomic():  # short: the files are written already
            photo.save()
            photo.enqueue_on_commit()
    except BaseException:
        photo.delete_files()
        raise
    return photo


def create_photos(gallery, checked_images, temperature=None, vividness=None):
    """Store checked uploads as new queued photos, all or none, each taking one
    colorization from the owner's daily quota (gallery.quota: one budget for
    the site and the API). Raises quota.QuotaExceeded or PhotoNotStored with
    nothing kept and no quota used.

    The files are written first, outside any transaction; the transaction
    that takes the quota and saves the rows is then a few quick writes. (On
    SQLite a transaction holds the database's one write lock from its start:
    decoding and writing a 40 Mpx photo inside it made every other upload
    wait.)"""
    from gallery import quota

    quota.check(gallery.owner, len(checked_images))  # before any work; consume() below decides
    photos = []
    try:
        for checked in checked_images:
            photos.append(_stored_photo(gallery, checked, temperature, vividness))
        with transaction.atomic():
            quota.consume(gallery.owner, len(photos))
            for photo in photos:
                photo.save()
                photo.enqueue_on_commit()
    except BaseException:
        for photo in photos:  # no row was kept; their files go too
            photo.delete_files()
        raise
    return photos


def _stored_photo(gallery, checked, temperature, vividness):
    """A new Photo, not saved, whose files (the original byte for byte, its display JPEG and
    gray thumbnail) are written. Raises PhotoNotStored, with its files removed, when they
    cannot be."""
    from mlcore.imageio import load_image
    from mlcore.inputcolor import classify

    upload = checked.upload
    data = upload.read()
    image = load_image(io.BytesIO(data))
    photo = Photo(
        owner=gallery.owner,
        gallery=gallery,
        folder=new_photo_folder(gallery.owner),
        original_filename=(upload.name or "photo")[:255],
        image_format=checked.image_format,
        width=image.width,  # after EXIF rotation: what people see
        height=image.height,
        size_bytes=len(data),
        input_color=classify(image),
        temperature=temperature,
    )
    if vividness is not None:
        photo.vividness = round(vividness)
    try:
        photo.save_file("original", f"original.{checked.extension}", data)
        display = fit(image, DISPLAY_SIZE)  # the thumbnail is shrunk from it, not from the full photo
        photo.save_file("before", "before.jpg", encode_jpeg(display))
        photo.save_file("thumbnail", "thumb-0.jpg", encode_jpeg(display.convert("L"), THUMBNAIL_SIZE))
    except OSError as e:
        photo.delete_files()
        logger.error("Cannot store a photo of user %s in %s: %s", gallery.owner_id, photo.folder, e)
        raise PhotoNotStored(
            f"{os.path.basename(upload.name or 'The photo')} could not be stored: the server is out of space "
            "or cannot write photos right now. Nothing was kept; please try again later."
        ) from e
    except BaseException:
        photo.delete_files()
        raise
    return photo


# The display JPEGs of a photo, by name: what pages and lists show (downloads are full size).
DISPLAY_FILES = ("before", "after", "thumbnail")


def display_response(photo, kind):
    """One of the photo's display JPEGs, inline. Raises Http404 for a kind that is none of
    DISPLAY_FILES, NotColorized when the photo has no such file (yet)."""
    from django.http import Http404

    if kind not in DISPLAY_FILES:
        raise Http404
    name = getattr(photo, kind).name
    if not name:
        raise NotColorized(photo)
    return serve_file(name, "image/jpeg")


def original_response(photo):
    """The original, byte for byte, as a download under its own name."""
    ext = photo.original.name.rsplit(".", 1)[-1]
    return serve_file(photo.original.name, CONTENT_TYPES.get(ext, "application/octet-stream"),
                      filename=photo.original_filename, attachment=True)


def result_response(photo, fmt="png", quality=JPEG_QUALITY_DEFAULT, shared=False):
    """The full-resolution result as a download: the stored PNG, or a JPEG made from it at
    `quality` (fmt "jpeg"), carrying what gallery/provenance.py lets it carry: through a share
    link (`shared`), the allow-list; to the owner, what they chose. Raises NotColorized."""
    if photo.status != Photo.DONE or not photo.result:
        raise NotColorized(photo)
    everything = not shared and provenance.keeps_everything(photo.owner)
    if fmt == "png":
        filename = provenance.download_filename(photo, shared, "png")
        png = provenance.result_png(photo, everything)
        if isinstance(png, str):  # the stored file as it is
            return serve_file(png, "image/png", filename=filename, attachment=True)
        response = StreamingHttpResponse(png, content_type="image/png")
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return private(response)
    return serve_file(result_jpeg(photo, quality, everything), "image/jpeg",
                      filename=provenance.download_filename(photo, shared, "jpg"), attachment=True)


# The cached JPEG of a download that carries all of the original's metadata (the owner asked
# for it) is another file than the default one, which carries the allow-list.
FULL_METADATA = "-full"


def result_jpeg(photo, quality, everything=False):
    """Storage name of the photo's result as a JPEG at `quality`, carrying `everything` of the
    original's metadata or the allow-list (gallery/provenance.py): made on the first request
    and kept beside the result (result-3.png -> result-3.q90.jpg, or result-3.q90-full.jpg
    with everything), so that the next request is a file sent as it is (by nginx, with
    SENDFILE_MODE) and not a full-resolution decode and encode in a web process (450 MB and
    4 s for 30 Mpx). A new result has a new name, and its JPEGs go with the old one
    (gallery.models.result_downloads). Requests racing for the same one wait for the first to
    make it.

    Besides the default quality, one other is kept of each kind: asking for a third replaces
    it, so that a hundred qualities do not make a hundred files."""
    variant = FULL_METADATA if everything else ""
    name = jpeg_download_name(photo.result.name, quality, variant)
    if default_storage.exists(name):
        return name
    with _folder_lock(photo):
        if default_storage.exists(name):  # made meanwhile, by the request we waited for
            return name
        keep = {jpeg_download_name(photo.result.name, JPEG_QUALITY_DEFAULT, v) for v in ("", FULL_METADATA)}
        for other in result_downloads(photo.result.name):
            if other not in keep and other.endswith(f"{FULL_METADATA}.jpg") == everything:
                default_storage.delete(other)  # the other quality of the same kind
        default_storage.save(name, ContentFile(_encode_result_jpeg(photo, quality, everything)))
    return name


def _encode_result_jpeg(photo, quality, everything):
    from PIL import Image

    with default_storage.open(photo.result.name, "rb") as f:
        png = Image.open(io.BytesIO(f.read()))
        png.load()
    jpeg = io.BytesIO()
    # The one writer of results, with the stored PNG's provenance and what this download carries.
    save_result(png, jpeg, "jpeg", *provenance.carried(photo, facts_of(png), everything), quality)
    return jpeg.getvalue()


@contextmanager
def _folder_lock(photo):
    """An exclusive lock on the photo's folder (flock), across threads and web processes. An
    object store has no folder to lock: there, racing first requests each make the file."""
    import fcntl

    try:
        fd = os.open(default_storage.path(photo.folder), os.O_RDONLY)
    except NotImplementedError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def stored_prediction(photo):
    """The photo's stored Prediction (mlcore/render.py); raises NotColorized when it has none."""
    from mlcore.render import Prediction

    if photo.status != Photo.DONE or not photo.prediction:
        raise NotColorized(photo)
    try:
        with default_storage.open(photo.prediction.name, "rb") as f:
            return Prediction.from_bytes(f.read())
    except FileNotFoundError:
        raise NotColorized(photo) from None


def suggestions_at(photo, x, y):
    """The colours the model hesitated between at fractions x, y of the photo, most likely
    first (mlcore/suggestions.py), each at the photo's lightness there, read from the stored
    prediction and the display version of the original: no network. Raises NotColorized when
    there is no stored distribution."""
    from PIL import Image

    from mlcore.suggestions import lightness_at, suggest

    prediction = stored_prediction(photo)
    if prediction.log_probs is None:
        raise NotColorized(photo)
    height, width = prediction.indices.shape[:2]
    with default_storage.open(photo.before.name, "rb") as f:
        before = Image.open(f)
        # A JPEG decodes at 1/2 to 1/8 scale in a fraction of the time: one cell's mean L is
        # all that is read, and a cell is hundreds of pixels of a display version.
        before.draft("RGB", (before.width // 8, before.height // 8))
        before.load()
    return suggest(prediction, x, y, lightness_at(before, x, y, height, width))


def uncertainty_response(photo, overlay=False):
    """How unsure the model was of each pixel's color (mlcore/uncertainty.py), as PNG: gray
    at the photo's own size, 0 sure to 255 unsure; or, for the photo page, an orange overlay
    at its display size. Raises NotColorized when there is no stored distribution (not
    colorized yet, or a model that predicts one color per pixel)."""
    from mlcore.uncertainty import overlay_image, uncertainty_image

    prediction = stored_prediction(photo)
    width, height = photo.width, photo.height
    if overlay:
        scale = min(1.0, DISPLAY_SIZE / max(width, height))
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    gray = uncertainty_image(prediction, width, height)
    if gray is None:
        raise NotColorized(photo)
    image = overlay_image(gray) if overlay else gray
    return serve_bytes(encode_png(image), "image/png", f"{photo.title}-uncertainty.png")


def serve_file(name, content_type, filename=None, attachment=False):
    """A response with a stored file's bytes; callers have checked access."""
    if settings.SENDFILE_MODE == "nginx":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.SENDFILE_PREFIX + name
    elif settings.SENDFILE_MODE == "apache":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = default_storage.path(name)
    else:
        response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    disposition = "attachment" if attachment else "inline"
    if filename:
        response["Content-Disposition"] = content_disposition_header(attachment, filename)
    else:
        response["Content-Disposition"] = disposition
    return private(response)


def serve_bytes(data, content_type, filename):
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return private(response)


def no_store(response):
    """For what a share link shows: nothing of it may stay in any cache, the browser's
    included, once the link is turned off."""
    response["Cache-Control"] = "no-store"
    return response


def private(response):
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
