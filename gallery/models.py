"""
People's galleries and photos.

A Photo row is also its colorization job: its status, attempts, timings,
model version and error live here, and the queue (RQ) only carries the
photo's primary key. See inference/jobs.py for the worker side.

Its state machine lives here, as methods (claim, finish, fail, retry,
requeue_if_lost) that change the row with one count-checked UPDATE each, so
two workers, a sweeper and a person clicking "retry" can never both win.
inference/jobs.py only carries primary keys through RQ and calls them.

Files: every photo gets a folder with an unguessable name under its owner's
folder, photos/u<user id>/<128 random bits>/, holding the original as
uploaded, display versions, the compact prediction and the rendered result.
Nothing there is served by URL; views check ownership or a share token.
"""

import io
import logging
import os
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from inference import jobs
from mlcore.imageio import save_jpeg, save_png
from mlcore.render import DEFAULT_VIVIDNESS

logger = logging.getLogger("gallery")

DEFAULT_GALLERY_NAME = "My photos"
# Longest side of the JPEGs shown on the photo page (the before/after
# slider) and in the gallery grid. Downloads are always full size.
DISPLAY_SIZE = 2048
THUMBNAIL_SIZE = 480
DISPLAY_JPEG_QUALITY = 88
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


class NotColorized(Exception):
    """A result, or a re-render, was asked of a photo that has none (yet)."""

    def __init__(self, photo):
        super().__init__(f"This photo is not colorized: its status is {photo.status}.")


class PhotoQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def lost(self, now):
        """Running, but its worker is gone: no heartbeat for LOST_AFTER_BEATS beats (a worker
        killed, or its machine gone, is noticed in seconds), or running for longer than any
        job may run (a job whose worker still beats but never ends)."""
        silent = timedelta(seconds=settings.COLORIZE_HEARTBEAT_SECONDS * LOST_AFTER_BEATS)
        limit = timedelta(seconds=settings.COLORIZE_JOB_TIMEOUT + STALE_GRACE_SECONDS)
        return self.filter(status=Photo.RUNNING).filter(
            Q(heartbeat_at__lt=now - silent) | Q(started_at__lt=now - limit)
        )

    def to_send(self, now):
        """Queued but never accepted by Redis, or accepted long enough ago
        that a Redis restart may have lost the job."""
        recheck_before = now - timedelta(seconds=QUEUED_RECHECK_SECONDS)
        return self.filter(status=Photo.QUEUED).filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=recheck_before)
        )

    def renders_to_send(self, now):
        """Re-renders asked for long enough ago that their job may be lost (Redis was
        down, or restarted). Sending one twice is harmless: the second finds nothing asked."""
        return self.filter(status=Photo.DONE, render_requested_at__lt=now - timedelta(seconds=QUEUED_RECHECK_SECONDS))


class Photo(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Colorizing"), (DONE, "Done"), (FAILED, "Failed")]

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
    # Display versions (JPEG, at most DISPLAY_SIZE / THUMBNAIL_SIZE): the
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

    # The colorization job.
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    # Set when Redis accepted the job; null means it still has to be sent
    # (Redis was unreachable), which the sweeper does.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    rq_job_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed by the running job every COLORIZE_HEARTBEAT_SECONDS (see beat()).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    # How the current result was decoded (before the first one: how it will be). Vividness
    # is the control people see (scale: mlcore.render); temperature an expert setting, null
    # for "the model file's own" until a job records the one it used. Both defaults are the
    # model file's: this row never holds a number of its own choosing.
    vividness = models.PositiveSmallIntegerField(default=DEFAULT_VIVIDNESS)
    temperature = models.FloatField(null=True, blank=True)
    # A re-render asked for and not done yet (a job on the render queue): when, and at what.
    render_requested_at = models.DateTimeField(null=True, blank=True)
    requested_vividness = models.PositiveSmallIntegerField(null=True, blank=True)
    requested_temperature = models.FloatField(null=True, blank=True)
    render_error = models.CharField(max_length=500, blank=True)

    # Job output: the compact low-resolution prediction (re-rendering at
    # another vividness needs only this and the original), the result at
    # full resolution, and its display version.
    prediction = models.FileField(max_length=255, blank=True)
    result = models.FileField(max_length=255, blank=True)
    after = models.FileField(max_length=255, blank=True)
    render_count = models.PositiveIntegerField(default=0)

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
    def status_label(self):
        if self.status == self.QUEUED and self.enqueued_at is None:
            return "Queued, will start when the queue is back"
        return dict(self.STATUS_CHOICES)[self.status]

    @property
    def is_finished(self):
        return self.status in (self.DONE, self.FAILED)

    @property
    def is_rendering(self):
        return self.render_requested_at is not None

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

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

    def status_dict(self):
        """What the status endpoint and the page's script need."""
        return {
            "id": self.pk,
            "name": self.title,
            "status": self.status,
            "label": self.status_label,
            "error": self.error,
            "finished": self.is_finished,
            "url": self.get_absolute_url(),
            "thumbnail": reverse("photo-file", args=[self.pk, "thumbnail"]) + f"?v={self.render_count}",
            "after": (reverse("photo-file", args=[self.pk, "after"]) + f"?v={self.render_count}"
                      if self.status == self.DONE else None),
            "vividness": self.vividness,
            "temperature": self.temperature,
            "rendering": self.is_rendering,
            "render_error": self.render_error,
            "warnings": self.warnings,
        }

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
        from gallery import provenance

        self.render_count += 1
        n = self.render_count
        # The file says it was colorized, and by what (gallery/provenance.py).
        facts = provenance.describe(self, timezone.now(), vividness, temperature)
        params = provenance.png_params(facts, provenance.original_exif(self)) if facts else {}
        replaced = [
            self.save_file("result", f"result-{n}.png", encode_png(image, **params)),
            self.save_file("after", f"after-{n}.jpg", encode_jpeg(image, DISPLAY_SIZE)),
            self.save_file("thumbnail", f"thumb-{n}.jpg", encode_jpeg(image, THUMBNAIL_SIZE)),
        ]
        return [name for name in replaced if name]

    # -- job: every transition is one count-checked UPDATE -------------------

    def _transition(self, **changes):
        """Update this photo's row only if it is still in the state this
        object saw (status and attempts); True when it was."""
        return bool(
            Photo.objects.filter(pk=self.pk, status=self.status, attempts=self.attempts).update(**changes)
        )

    @classmethod
    def claim(cls, pk):
        """queued -> running. Returns the photo, or None when it was not ours
        to run (already claimed, deleted, or no longer queued)."""
        claimed = cls.objects.filter(pk=pk, status=cls.QUEUED).update(
            status=cls.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), finished_at=None, error="",
            attempts=F("attempts") + 1,
        )
        return cls.objects.get(pk=pk) if claimed == 1 else None

    def colorize(self, colorizer):
        """The work of a claimed (running) photo: predict, render, store, and
        mark it done. Returns "done", or "discarded" when the row changed
        under us (deleted, or swept and requeued). Raises on failure, having
        removed what it wrote; the caller records the reason with fail()."""
        from mlcore.render import render

        written = []
        try:
            image = self.load_original()
            prediction = colorizer.predict(image)
            vividness, temperature = prediction.settings(self.vividness, self.temperature)
            rendering = render(prediction, image, vividness, temperature)
            self.model_version = colorizer.version  # for the result's provenance
            replaced = [self.save_file("prediction", "prediction.npz", prediction.to_bytes())]
            written.append(self.prediction.name)
            replaced += self.store_rendering(rendering, vividness, temperature)
            written += [self.result.name, self.after.name, self.thumbnail.name]
            finished = self._transition(
                status=self.DONE,
                finished_at=timezone.now(),
                model_version=colorizer.version,
                temperature=temperature,
                prediction=self.prediction.name,
                result=self.result.name,
                after=self.after.name,
                thumbnail=self.thumbnail.name,
                render_count=self.render_count,
            )
        except BaseException:
            _delete_names(written)
            raise
        if not finished:
            _delete_names(written)  # our output is not the row's any more
            return "discarded"
        _delete_names(replaced)  # e.g. the gray thumbnail shown while it was queued
        return "done"

    def beat(self):
        """The running job is alive: refresh its heartbeat. False when the row is not this
        job's any more (swept and requeued, deleted): the job's output will be discarded."""
        return self._transition(heartbeat_at=timezone.now())

    def fail(self, reason):
        """running -> failed, with a reason people can read."""
        return self._transition(status=self.FAILED, finished_at=timezone.now(), error=reason[:MAX_ERROR_LENGTH])

    def retry(self):
        """failed -> queued, with a fresh set of attempts; sent after the commit."""
        updated = Photo.objects.filter(pk=self.pk, status=self.FAILED).update(
            status=self.QUEUED, error="", attempts=0, queued_at=timezone.now(), enqueued_at=None, rq_job_id=""
        )
        if updated:
            self.enqueue_on_commit()
        self.refresh_from_db()
        return bool(updated)

    def requeue_if_lost(self, now, dry_run=False):
        """For a photo whose worker died (see PhotoQuerySet.lost): running ->
        queued, or -> failed after COLORIZE_MAX_ATTEMPTS. Returns "requeued"
        or "failed" (what was, or with dry_run would be, done), or None when
        the row had moved on meanwhile. The caller sends a requeued photo."""
        if self.attempts >= settings.COLORIZE_MAX_ATTEMPTS:
            reason = (f"The worker stopped while colorizing this photo, {self.attempts} times. "
                      "Retry it, or try a smaller photo.")
            changed = dry_run or self._transition(status=self.FAILED, finished_at=now, error=reason)
            return "failed" if changed else None
        changed = dry_run or self._transition(status=self.QUEUED, queued_at=now, enqueued_at=None, rq_job_id="")
        return "requeued" if changed else None

    @classmethod
    def mark_sent(cls, pk, job_id):
        """Redis accepted the photo's job (see enqueued_at)."""
        cls.objects.filter(pk=pk, status=cls.QUEUED).update(enqueued_at=timezone.now(), rq_job_id=job_id)

    def enqueue_on_commit(self):
        jobs.enqueue_on_commit(self.pk)

    # -- re-rendering: a light job, from the stored prediction ------------------

    def request_render(self, vividness=None, temperature=None):
        """Ask for the result again at another vividness and/or temperature (None keeps the
        current one). A job on the render queue decodes the stored prediction (no network,
        no torch) and replaces the result; until then is_rendering is True. Raises
        NotColorized when there is no result or no stored prediction to start from."""
        if self.status != self.DONE or not self.prediction or not default_storage.exists(self.prediction.name):
            raise NotColorized(self)
        self.render_requested_at = timezone.now()
        self.requested_vividness = self.vividness if vividness is None else round(vividness)
        self.requested_temperature = self.temperature if temperature is None else temperature
        self.render_error = ""
        updated = Photo.objects.filter(pk=self.pk, status=self.DONE).update(
            render_requested_at=self.render_requested_at, requested_vividness=self.requested_vividness,
            requested_temperature=self.requested_temperature, render_error="",
        )
        if not updated:
            raise NotColorized(self)
        jobs.enqueue_render_on_commit(self.pk)

    def render_requested(self):
        """The render job's work. Returns "done", "skipped" (nothing asked, or no longer
        done) or "discarded" (asked again, or deleted, meanwhile: the newer job renders)."""
        from mlcore.render import Prediction, render

        asked_at = self.render_requested_at
        if asked_at is None or self.status != self.DONE:
            return "skipped"
        still_asked = Photo.objects.filter(pk=self.pk, status=self.DONE, render_requested_at=asked_at)
        try:
            with default_storage.open(self.prediction.name, "rb") as f:
                prediction = Prediction.from_bytes(f.read())
            vividness, temperature = prediction.settings(self.requested_vividness, self.requested_temperature)
            rendering = render(prediction, self.load_original(), vividness, temperature)
        except Exception as e:
            logger.exception("Photo %s: cannot re-render", self.pk)
            still_asked.update(render_requested_at=None, render_error=f"Could not re-color this photo: {e}"[:500])
            return "failed"
        replaced = self.store_rendering(rendering, vividness, temperature)
        written = [self.result.name, self.after.name, self.thumbnail.name]
        done = still_asked.update(
            vividness=round(vividness), temperature=temperature, result=self.result.name, after=self.after.name,
            thumbnail=self.thumbnail.name, render_count=self.render_count,
            render_requested_at=None, requested_vividness=None, requested_temperature=None,
        )
        _delete_names(replaced if done else written)
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


# A job past its timeout is killed by RQ; give the worker this long to
# record that before the sweeper calls the job lost.
STALE_GRACE_SECONDS = 60
# A running job whose heartbeat is this many beats old is lost (its worker died): with the
# default 10 s beat and 15 s sweeps, a photo is queued again 30 to 45 s after its worker died.
LOST_AFTER_BEATS = 3
# A queued photo whose job Redis accepted this long ago but that no worker
# has claimed is checked against Redis: a Redis restart loses queued jobs.
QUEUED_RECHECK_SECONDS = 120
# Longest error text kept on a photo; enough for a readable reason.
MAX_ERROR_LENGTH = 500


def _delete_names(names):
    for name in names:
        if name:
            default_storage.delete(name)


def _delete_photo_files(sender, instance, **kwargs):
    # After the commit, so a rolled-back delete keeps its files. Runs for
    # cascades too (a gallery or an account deleted).
    transaction.on_commit(instance.delete_files)


models.signals.post_delete.connect(_delete_photo_files, sender=Photo)


def _fit(image, size):
    """The image shrunk to fit size x size (never enlarged), as Image.thumbnail would make it,
    without thumbnail's full-size copy first (120 MB for a 40 Mpx photo)."""
    from PIL import Image

    longest = max(image.size)
    if longest <= size:
        return image
    scale = size / longest
    fitted = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(fitted, Image.Resampling.BICUBIC, reducing_gap=2.0)


def encode_jpeg(image, max_size=None, quality=DISPLAY_JPEG_QUALITY, **params):
    if max_size:
        image = _fit(image, max_size)
    buf = io.BytesIO()
    save_jpeg(image, buf, quality, **params)
    return buf.getvalue()


def encode_png(image, **params):
    buf = io.BytesIO()
    save_png(image, buf, **params)
    return buf.getvalue()

