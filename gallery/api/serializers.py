"""What the API reads and writes. Field names follow the contract in the
REST API issue; models are the site's own (gallery.models)."""

import math

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import JPEG_QUALITY_DEFAULT
from mlcore.hint_points import MAX_HINTS, HintError, validate_hints
from mlcore.render import DEFAULT_VIVIDNESS, MAX_TEMPERATURE, MAX_VIVIDNESS, MIN_TEMPERATURE, MIN_VIVIDNESS

# The ranges are mlcore's (mlcore/render.py imports no torch).
TEMPERATURE_HELP = (
    f"Expert setting: the annealed-mean temperature, {MIN_TEMPERATURE} to {MAX_TEMPERATURE} "
    "(lower approaches each pixel's most likely color, higher their mean). Leave it out for the "
    "model's own; `vividness` is the control meant for people."
)
VIVIDNESS_HELP = (
    f"How colorful, {MIN_VIVIDNESS} to {MAX_VIVIDNESS}: higher is more colorful on every photo; "
    f"{DEFAULT_VIVIDNESS} is the model's own choice."
)


class TemperatureField(serializers.FloatField):
    """A float in the colorizer's range; NaN and infinities are refused
    (they pass DRF's min/max checks, since every comparison with NaN is false)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", MIN_TEMPERATURE)
        kwargs.setdefault("max_value", MAX_TEMPERATURE)
        kwargs.setdefault("help_text", TEMPERATURE_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


def vividness_field(**kwargs):
    """Vividness is a whole number everywhere on the web (the slider steps by one, the row
    stores an integer): validated here, once, for every client, the site's pages included."""
    return serializers.IntegerField(min_value=MIN_VIVIDNESS, max_value=MAX_VIVIDNESS, help_text=VIVIDNESS_HELP,
                                    **kwargs)


# -- resources ----------------------------------------------------------------


class GallerySerializer(serializers.ModelSerializer):
    photo_count = serializers.SerializerMethodField(help_text="Photos in the gallery.")
    created_at = serializers.DateTimeField(source="created", read_only=True)

    class Meta:
        model = Gallery
        fields = ["id", "name", "photo_count", "created_at"]

    def get_photo_count(self, gallery) -> int:
        # Lists annotate the count (one query); a single gallery counts.
        if hasattr(gallery, "photo_count"):
            return gallery.photo_count
        return gallery.photos.count()


class ProvenanceSerializer(serializers.Serializer):
    """What the result file itself says (PNG text and XMP; EXIF and XMP in a JPEG)."""

    software = serializers.CharField(help_text="Always `colorsite`.")
    model_version = serializers.CharField()
    vividness = serializers.IntegerField()
    temperature = serializers.FloatField(allow_null=True, help_text="null: the model's own.")
    colorized_at = serializers.DateTimeField()
    source = serializers.CharField(
        help_text="The original's file name. Files carry it only in their owner's downloads, when the owner keeps "
        "all metadata (account page); share links and, by default, the owner's downloads leave it out.")
    hints = serializers.IntegerField(help_text="How many colour hints a person gave this result; 0: none.")


class HintSerializer(serializers.Serializer):
    """One colour hint: "this spot is this colour". (For the schema: mlcore.hint_points checks them.)"""

    x = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction of the width, from the left (0 to 1).")
    y = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction of the height, from the top (0 to 1).")
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", help_text="The colour as sRGB `#rrggbb`.")


class HintListField(serializers.ListField):
    """A photo's hints, checked once for every client by mlcore.hint_points (the command
    line's `--hints` file too): errors per hint and field, e.g. {"1": {"x": [...]}}."""

    child = HintSerializer()

    def to_internal_value(self, data):
        try:
            return validate_hints(data)
        except HintError as e:
            raise serializers.ValidationError(e.errors.get("hints", e.errors)) from None


class PhotoWarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["already_in_colour", "tinted"],
        help_text="`already_in_colour`: the upload was a color photo, colorized from its lightness alone; "
        "`tinted`: a sepia or toned scan, whose tint is replaced.",
    )
    message = serializers.CharField(help_text="The same, in words for people.")


class PhotoSerializer(serializers.ModelSerializer):
    gallery = serializers.IntegerField(source="gallery_id", read_only=True, help_text="The gallery's id.")
    status = serializers.ChoiceField(
        choices=[Photo.QUEUED, Photo.RUNNING, Photo.DONE, Photo.FAILED], read_only=True,
        help_text="queued, running (colorizing), done, or failed (see `error`; POST .../retry/ to queue it again).",
    )
    error = serializers.SerializerMethodField(help_text="Why the job failed, in words; null otherwise.")
    width = serializers.IntegerField(read_only=True, help_text="Pixels, after the photo's EXIF rotation.")
    height = serializers.IntegerField(read_only=True, help_text="Pixels, after the photo's EXIF rotation.")
    vividness = vividness_field(read_only=True)
    temperature = serializers.FloatField(
        read_only=True, allow_null=True,
        help_text="The temperature of the current result; null before the first (the model's own).",
    )
    rendering = serializers.BooleanField(
        source="is_rendering", read_only=True,
        help_text="A re-render is on its way; the result changes when this turns false.",
    )
    requested_vividness = serializers.SerializerMethodField(
        help_text="The vividness the re-render on its way will have (`vividness` is the current result's); "
        "null when none is on its way.",
    )
    model_version = serializers.SerializerMethodField(help_text="The model that colorized it; null until done.")
    created_at = serializers.DateTimeField(source="created", read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="When the job ended.")
    original_url = serializers.SerializerMethodField(help_text="The original, as uploaded.")
    result_url = serializers.SerializerMethodField(help_text="The colorized photo at full resolution; null until done.")
    warnings = PhotoWarningSerializer(many=True, read_only=True, help_text="What to know about the input; often empty.")
    provenance = serializers.SerializerMethodField(
        help_text="How the result was made, as its file's metadata says; null until done."
    )
    title = serializers.CharField(read_only=True, help_text="The photo's name as shown: its file name without extension.")
    status_label = serializers.CharField(
        read_only=True, help_text="The status in words, as the site shows it (e.g. \"Queued, will start when the "
        "queue is back\")."
    )
    render_error = serializers.SerializerMethodField(help_text="Why the last re-render failed; null otherwise.")
    page_url = serializers.SerializerMethodField(help_text="The photo's page on the site.")
    thumbnail_url = serializers.SerializerMethodField(
        help_text="A small JPEG (at most 480 px): gray until colorized, then in color. Its URL changes with each result."
    )
    preview_url = serializers.SerializerMethodField(
        help_text="The result as a JPEG at screen size (at most 2048 px); null until done. Its URL changes with each result."
    )
    hints = HintSerializer(
        many=True, read_only=True,
        help_text="The colour hints as stored (PUT .../hints/); the result has them once `rendering` is false.",
    )

    class Meta:
        model = Photo
        fields = [
            "id", "gallery", "status", "error", "width", "height", "vividness", "temperature", "rendering",
            "requested_vividness", "model_version",
            "created_at", "finished_at", "original_url", "result_url", "warnings", "provenance",
            "title", "status_label", "render_error", "page_url", "thumbnail_url", "preview_url", "hints",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_requested_vividness(self, photo):
        return photo.requested_vividness if photo.is_rendering else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, photo):
        return photo.error or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_model_version(self, photo):
        return photo.model_version or None

    @extend_schema_field(ProvenanceSerializer(allow_null=True))
    def get_provenance(self, photo):
        return photo.provenance if photo.status == Photo.DONE else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_render_error(self, photo):
        return photo.render_error or None

    def _url(self, name, photo, query=""):
        path = reverse(name, args=[photo.pk]) + query
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(serializers.URLField())
    def get_original_url(self, photo):
        return self._url("api-photo-original", photo)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_result_url(self, photo):
        if photo.status != Photo.DONE:
            return None
        return self._url("api-photo-result", photo)

    @extend_schema_field(serializers.URLField())
    def get_page_url(self, photo):
        return self._url("photo", photo)

    @extend_schema_field(serializers.URLField())
    def get_thumbnail_url(self, photo):
        return self._url("api-photo-thumbnail", photo, f"?v={photo.render_count}")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_preview_url(self, photo):
        if photo.status != Photo.DONE:
            return None
        return self._url("api-photo-preview", photo, f"?v={photo.render_count}")


# -- requests -----------------------------------------------------------------


class DecodeSettingsSerializer(serializers.Serializer):
    """How a photo's colors are decoded, for an upload and for a re-render alike: each value
    is validated here once, for every client. (Colour hints have their own request,
    HintsSerializer: they need the network, these do not.)"""

    vividness = vividness_field(required=False)
    temperature = TemperatureField(required=False)


class PhotoCreateSerializer(DecodeSettingsSerializer):
    image = serializers.FileField(
        help_text="The photo: JPEG, PNG, WEBP, BMP or TIFF, at most "
        f"{settings.UPLOAD_MAX_BYTES // 2**20} MB and {settings.UPLOAD_MAX_PIXELS / 1e6:.0f} megapixels."
    )
    gallery = serializers.IntegerField(
        required=False, help_text="One of your galleries' ids; your default gallery when left out."
    )

    def validate_image(self, upload):
        # The site's own check (gallery.forms.check_image): same formats,
        # limits and messages as the upload form. Nothing is stored here.
        try:
            return check_image(upload)
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.messages)


class PhotoFilterSerializer(serializers.Serializer):
    gallery = serializers.IntegerField(required=False, help_text="Only photos in this gallery.")
    status = serializers.ChoiceField(
        choices=[Photo.QUEUED, Photo.RUNNING, Photo.DONE, Photo.FAILED], required=False,
        help_text="Only photos in this state.",
    )


class RerenderSerializer(DecodeSettingsSerializer):
    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Give a vividness (0 to 100), a temperature, or both.")
        return data


class HintsSerializer(serializers.Serializer):
    hints = HintListField(
        max_length=MAX_HINTS,
        help_text=f"At most {MAX_HINTS}; `[]` clears them and the photo gets the model's own colors again.",
    )


class SuggestionQuerySerializer(serializers.Serializer):
    x = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction of the width, from the left (0 to 1).")
    y = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction of the height, from the top (0 to 1).")

    def validate(self, data):
        if not all(math.isfinite(v) for v in data.values()):
            raise serializers.ValidationError("x and y must be numbers from 0 to 1.")
        return data


class SuggestionSerializer(serializers.Serializer):
    color = serializers.CharField(help_text="`#rrggbb`, at the photo's own lightness at that point.")
    p = serializers.FloatField(help_text="The model's probability for it; together at most 1.")


class SuggestionsSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()
    colors = SuggestionSerializer(many=True, help_text="At least 3, most likely first.")


class ResultQuerySerializer(serializers.Serializer):
    """A result download's query: the API's, the site's and a share link's."""

    format = serializers.ChoiceField(
        choices=["png", "jpeg", "jpg"], default="png", help_text="png (lossless) or jpeg (jpg means the same)."
    )
    quality = serializers.IntegerField(
        min_value=1, max_value=100, default=JPEG_QUALITY_DEFAULT, help_text="JPEG quality, 1 to 100 (jpeg only)."
    )

    def validate_format(self, value):
        return "jpeg" if value == "jpg" else value


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")


# -- errors (for the schema; the bodies come from views.exception_handler) ----


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words.")


class QuotaErrorSerializer(ErrorSerializer):
    """429 on upload: the daily quota (with limit, remaining, resets_at), or
    too many requests without credentials (detail only)."""

    limit = serializers.IntegerField(required=False, help_text="Colorizations allowed per day.")
    remaining = serializers.IntegerField(required=False, help_text="Colorizations left today (0).")
    resets_at = serializers.DateTimeField(required=False, help_text="When the quota starts again (00:00 UTC).")


def field_errors(name, *fields):
    """A 400 body for the schema: readable messages, listed per field."""

    def messages():
        return serializers.ListField(child=serializers.CharField(), required=False)

    return type(name, (serializers.Serializer,), {f: messages() for f in (*fields, "non_field_errors")})


PhotoCreateErrorSerializer = field_errors("PhotoCreateError", "image", "gallery", "vividness", "temperature")
PhotoFilterErrorSerializer = field_errors("PhotoFilterError", "gallery", "status")
GalleryErrorSerializer = field_errors("GalleryError", "name")
RerenderErrorSerializer = field_errors("RerenderError", "vividness", "temperature")
HintsErrorSerializer = field_errors("HintsError", "hints")
SuggestionQueryErrorSerializer = field_errors("SuggestionQueryError", "x", "y")
ResultErrorSerializer = field_errors("ResultQueryError", "format", "quality")
TokenLoginErrorSerializer = field_errors("TokenLoginError", "username", "password")
