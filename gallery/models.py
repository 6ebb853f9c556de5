"""
People's galleries and photos.

A Photo row is also its colorization job: its state and the methods that
change it are gallery/job.py's (ColorizationJob), which the Photo extends;
here is the work the job does (colorize(), render_requested()) and the
files it writes.

Files: every photo gets a folder with an unguessable name under its owner's
folder, photos/u<user id>/<128 random bits>/, holding the original as
uploaded, display versions, the compact prediction and the rendered result.
Nothing there is served by URL; views check ownership or a share token.
"""

import logging
import os
import posixpath
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from gallery import quota  # noqa: F401  (Django registers the quota's tables, which live beside its logic)
from gallery.job import ColorizationJob, JobQuerySet, readable_reason
from mlcore.render import DEFAULT_VIVIDNESS

logger = logging.getLogger("gallery")

DEFAULT_GALLERY_NAME = "My photos"
class GalleryQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def for_listing(self):
        """With photo_count and a cover: the newest colorized photo (the newest
        of any when none is done yet), as cover_id and cover_version for its
        thumbnail's URL."""
        newest = Photo.objects.filter(gallery=models.OuterRef("pk")).order_by(
            models.Case(models.When(status=Photo.DONE, then=0), default=1), "-created", "-id"
        )
        return self.annotate(
            photo_count=models.Count("photos"),
            cover_id=models.Subquery(newest.values("pk")[:1]),
            cover_version=models.Subquery(newest.values("render_count")[:1]),
        )


class Gallery(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="galleries")
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = GalleryQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner"], condition=Q(is_default=True), name="one_default_gallery"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("gallery", args=[self.pk])

    @classmethod
    def default_for(cls, user):
        gallery, _ = cls.objects.get_or_create(owner=user, is_default=True, defaults={"name": DEFAULT_GALLERY_NAME})
        return gallery

    def selected_photos(self, ids):
        """This gallery's photos among `ids` (ids as sent by a form: anything not a
        number, or not a photo of this gallery, selects nothing)."""
        wanted = {int(i) for i in ids if str(i).isdigit()}
        return self.photos.filter(pk__in=wanted)

    def delete_with_photos(self):
        """Delete the gallery and its photos (their files go after the
        commit). Returns False, deleting nothing, for the default gallery."""
        if self.is_default:
            return False
        self.delete()
        return True


DEFAULT_GALLERY_KEPT = "Your default gallery cannot be deleted; rename it if you like."


def new_photo_folder(user):
    return f"photos/u{user.pk}/{secrets.token_hex(16)}"


class AccountSettings(models.Model):
    """A person's choices about their own photos; no row means every default."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="account_settings")
    # Off: the owner's downloads carry only the shareable part of the original's metadata, as
    # a share link's do (gallery/provenance.py). On: all of it (GPS, serial numbers, names...).
    keep_photo_metadata = models.BooleanField(
        default=False, verbose_name="Keep all my photos' metadata in my own downloads")

    @classmethod
    def of(cls, user):
        return cls.objects.filter(user=user).first() or cls(user=user)


HINTS_UNSUPPORTED = "This model cannot take colour hints: the site's model was not trained with them."


class HintsNotSupported(Exception):
    """Colour hints were given, and the site's model cannot take them."""

    def __init__(self):
        super().__init__(HINTS_UNSUPPORTED)


def model_takes_hints():
    """Whether the site's model takes colour hints (read from its file, without torch)."""
    from mlcore.modelfile import takes_hints
    from mlcore.paths import model_path

    return takes_hints(model_path(settings.COLORIZER_MODEL_PATH))


class NotColorized(Exception):
    """A result, or a re-render, was asked of a photo that has none (yet)."""

    def __init__(self, photo):
        super().__init__(f"This photo is not colorized: its status is {photo.status}.")


class PhotoQuerySet(JobQuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)


class Photo(ColorizationJob):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="photos")
    gallery = models.ForeignKey(Gallery, models.CASCADE, related_name="photos")
    folder = models.CharField(max_length=200, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    # The upload, byte for byte, and what we learnt opening it.
    original = models.FileField(max_length=255)
    original_filename = models.CharField(max_length=255)
    image_format = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    # Display versions (JPEG, at most gallery.colorizing.DISPLAY_SIZE / THUMBNAIL_SIZE): the
    # browser cannot show a TIFF, and a 40 Mpx PNG is no page element.
    before = models.FileField(max_length=255, blank=True)
    thumbnail = models.FileField(max_length=255, blank=True)
    # What the upload's own colour was (mlcore.inputcolor): the colorizer
    # uses only lightness, which people should hear about when it matters.
    INPUT_GRAY, INPUT_TINTED, INPUT_COLOR = "gray", "tinted", "color"
    input_color = models.CharField(
        max_length=8, default=INPUT_GRAY,
        choices=[(INPUT_GRAY, "Gray"), (INPUT_TINTED, "Tinted (sepia or toned)"), (INPUT_COLOR, "In color")],
    )

    model_version = models.CharField(max_length=100, blank=True)
    # How the current result was decoded (before the first one: how it will be). Vividness
    # is the control people see (scale: mlcore.render); temperature an expert setting, null
    # for "the model file's own" until a job records the one it used. Both defaults are the
    # model file's: this row never holds a number of its own choosing.
    vividness = models.PositiveSmallIntegerField(default=DEFAULT_VIVIDNESS)
    temperature = models.FloatField(null=True, blank=True)

    # Job output: the compact low-resolution prediction (re-rendering at
    # another vividness needs only this and the original), the result at
    # full resolution, and its display version.
    prediction = models.FileField(max_length=255, blank=True)
    result = models.FileField(max_length=255, blank=True)
    after = models.FileField(max_length=255, blank=True)
    render_count = models.PositiveIntegerField(default=0)
    # A person's colour hints, as the API takes them ([{"x", "y", "color"}], validated by
    # mlcore.hint_points), and how many the current result was coloured with (its provenance;
    # it differs from len(hints) while a hint render is on its way).
    hints = models.JSONField(default=list, blank=True)
    hints_used = models.PositiveSmallIntegerField(default=0)

    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.original_filename

    def get_absolute_url(self):
        return reverse("photo", args=[self.pk])

    # -- presentation -----------------------------------------------------

    @property
    def title(self):
        return os.path.splitext(self.original_filename)[0] or "Photo"

    @property
    def warnings(self):
        """What people should know about this photo's input, as {code, message}."""
        if self.input_color == self.INPUT_COLOR:
            return [{"code": "already_in_colour", "message": (
                "This photo is already in color. It is colorized from its lightness alone, "
                "so its own colors are replaced by the model's.")}]
        if self.input_color == self.INPUT_TINTED:
            return [{"code": "tinted", "message": (
                "This scan is tinted (sepia or toned). It is colorized from its lightness, "
                "so the tint is replaced by natural colors.")}]
        return []

    @property
    def provenance(self):
        """How the current result was made, as its file says (gallery/provenance.py)."""
        from gallery.provenance import describe

        return describe(self)

    # -- files ------------------------------------------------------------

    def save_file(self, field, name, data):
        """Store bytes as <folder>/<name> and point `field` at it (not saved)."""
        old = getattr(self, field).name
        stored = default_storage.save(f"{self.folder}/{name}", ContentFile(data))
        setattr(self, field, stored)
        return old

    def delete_files(self):
        """Remove the photo's folder and everything in it."""
        try:
            _, names = default_storage.listdir(self.folder)
        except OSError:
            return  # no folder: never created, or the media folder is unusable
        for name in names:
            default_storage.delete(f"{self.folder}/{name}")
        try:
            os.rmdir(default_storage.path(self.folder))
        except (NotImplementedError, OSError):
            pass  # an object store has no folders; or someone left a file

    def store_rendering(self, image, vividness=None, temperature=None):
        """Save a full-resolution color rendering as the result, with its
        display version and a color thumbnail. Returns the names replaced,
        for the caller to delete once the row points at the new ones."""
        from gallery.colorizing import encode_rendering

        self.render_count += 1
        return self.store_files(self.render_count, *encode_rendering(self, image, vividness, temperature))

    def store_files(self, n, result, after, thumbnail):
        """Write a rendering's encoded files (gallery.colorizing.encode_rendering) as the
        result numbered n; returns the names replaced. A disk full at the thumbnail leaves no
        orphan result behind."""
        files = [("result", f"result-{n}.png", result), ("after", f"after-{n}.jpg", after),
                 ("thumbnail", f"thumb-{n}.jpg", thumbnail)]
        replaced, written = [], []
        try:
            for field, name, data in files:
                replaced.append(self.save_file(field, name, data))
                written.append(getattr(self, field).name)
        except BaseException:
            delete_names(written)
            raise
        return [name for name in replaced if name]

    def discard_files(self, names):
        """Delete stored files by name, with the downloads made from them."""
        delete_names(names)

    def colorize(self, colorizer):
        """The work of a claimed (running) photo: predict, render, store, and
        mark it done. Returns "done", or "discarded" when the row changed
        under us (deleted, or swept and requeued). Raises on failure, having
        removed what it wrote; the caller records the reason with fail().
        A worker colorizes several at once with gallery.colorizing.colorize_claimed."""
        from gallery.colorizing import colorize_claimed

        [(outcome, _)] = colorize_claimed([self], colorizer)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    # -- re-rendering: a light job, from the stored prediction ------------------

    def request_render(self, vividness=None, temperature=None, hints=None):
        """Ask for the result again at another vividness and/or temperature (None keeps the
        current one, or the pending request's), or with other colour hints (validated ones; [] clears them). A job
        decodes the stored prediction (no network, no torch; the render queue), or for new
        hints runs the network with them (the colorize queue), and replaces the result; until
        then is_rendering is True. A newer request replaces a pending one (send_render()).
        Raises NotColorized when there is no result or no stored prediction to start from,
        HintsNotSupported for hints the site's model cannot take."""
        if hints and not model_takes_hints():
            raise HintsNotSupported()
        if self.status != self.DONE or not self.prediction or not default_storage.exists(self.prediction.name):
            raise NotColorized(self)
        # A setting left out keeps the one a pending request asked for, else the current one.
        pending = self.is_rendering
        kept_vividness = self.requested_vividness if pending else self.vividness
        kept_temperature = self.requested_temperature if pending else self.temperature
        self.render_requested_at = timezone.now()
        self.requested_vividness = kept_vividness if vividness is None else round(vividness)
        self.requested_temperature = kept_temperature if temperature is None else temperature
        self.render_error = ""
        changes = {"render_requested_at": self.render_requested_at, "requested_vividness": self.requested_vividness,
                   "requested_temperature": self.requested_temperature, "render_error": ""}
        if hints is not None:
            self.hints, self.hints_pending = hints, True
            changes.update(hints=hints, hints_pending=True)
        if not Photo.objects.filter(pk=self.pk, status=self.DONE).update(**changes):
            raise NotColorized(self)
        self.send_render()

    def render_requested(self, get_colorizer):
        """The render job's work. Returns "done", "skipped" (nothing asked, or no longer
        done), "failed" (recorded in render_error) or "discarded" (asked again, or deleted,
        meanwhile: the newer job renders). get_colorizer() gives the network, for new hints."""
        from mlcore.hint_points import hint_points
        from mlcore.render import Prediction, render

        asked_at = self.render_requested_at
        if asked_at is None or self.status != self.DONE:
            return "skipped"
        still_asked = Photo.objects.filter(pk=self.pk, status=self.DONE, render_requested_at=asked_at)
        new_prediction = None
        replaced, written = [], []
        try:
            image = self.load_original()
            if self.hints_pending:
                colorizer = get_colorizer()
                if self.hints and not colorizer.takes_hints:
                    raise ValueError(HINTS_UNSUPPORTED)
                new_prediction = prediction = colorizer.predict(image, hint_points(self.hints) or None)
                self.model_version, self.hints_used = colorizer.version, len(self.hints)
            else:
                with default_storage.open(self.prediction.name, "rb") as f:
                    prediction = Prediction.from_bytes(f.read())
            vividness, temperature = prediction.settings(self.requested_vividness, self.requested_temperature)
            rendering = render(prediction, image, vividness, temperature)
            # Inside the try: a disk full while storing is a failed render too, recorded, and
            # what this run wrote (a new prediction; store_rendering removes its own) goes.
            if new_prediction is not None:
                replaced.append(self.save_file("prediction", "prediction.npz", new_prediction.to_bytes()))
                written.append(self.prediction.name)
            replaced += self.store_rendering(rendering, vividness, temperature)
        except Exception as e:
            logger.exception("Photo %s: cannot re-render", self.pk)
            delete_names(written)
            still_asked.update(render_requested_at=None, hints_pending=False,
                               render_error=f"Could not re-color this photo: {readable_reason(e)}"[:500])
            return "failed"
        written += [self.result.name, self.after.name, self.thumbnail.name]
        done = still_asked.update(
            vividness=round(vividness), temperature=temperature, result=self.result.name, after=self.after.name,
            thumbnail=self.thumbnail.name, render_count=self.render_count, prediction=self.prediction.name,
            model_version=self.model_version, hints_used=self.hints_used, hints_pending=False,
            render_requested_at=None, requested_vividness=None, requested_temperature=None,
        )
        delete_names(replaced if done else written)
        return "done" if done else "discarded"

    def load_original(self):
        from mlcore.imageio import load_image

        with default_storage.open(self.original.name, "rb") as f:
            return load_image(f)

    # -- sharing ----------------------------------------------------------

    def share(self):
        if not self.share_token:
            self.share_token = secrets.token_urlsafe(24)
            self.save(update_fields=["share_token"])

    def unshare(self):
        # A new share gets a new token: an old link stays dead.
        self.share_token = None
        self.save(update_fields=["share_token"])


def jpeg_download_name(result_name, quality, variant=""):
    """Where a JPEG made from a result is kept: beside it, named after it (gallery.photos.result_jpeg)."""
    return f"{result_name.rsplit('.', 1)[0]}.q{quality}{variant}.jpg"


def result_downloads(result_name):
    """The downloads made from a result and kept beside it (its JPEGs), which go with it."""
    folder, base = posixpath.split(result_name)
    stem = base.rsplit(".", 1)[0] + "."
    try:
        _, files = default_storage.listdir(folder)
    except OSError:
        return []
    return [f"{folder}/{f}" for f in files if f.startswith(stem) and f != base and f.endswith(".jpg")]


def delete_names(names):
    for name in names:
        if name:
            default_storage.delete(name)
            for made_from_it in result_downloads(name):
                default_storage.delete(made_from_it)


def _delete_photo_files(sender, instance, **kwargs):
    # After the commit, so a rolled-back delete keeps its files. Runs for
    # cascades too (a gallery or an account deleted).
    transaction.on_commit(instance.delete_files)


models.signals.post_delete.connect(_delete_photo_files, sender=Photo)
