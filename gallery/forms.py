import io
import os
import warnings

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.template.defaultfilters import filesizeformat

from gallery.models import Gallery

# Pillow's format names for what we accept, and a file extension for each
# (the original is stored under a name of ours, with this extension).
ALLOWED_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}
# Any shape is harmless up to this long side; above it, the longer side may be at most
# UPLOAD_MAX_ASPECT_RATIO times the shorter. Pillow keeps about 17 bytes of bookkeeping per row,
# so a 1 x 40,000,000 PNG (78 KB, within the pixel limit) took 700 MB to open, whatever the
# colorizer does; no photo or panorama has that shape.
ANY_SHAPE_MAX_SIDE = 4096
# A JPEG needs at least about 2 bits per 8x8 block even for a flat gray frame (256 pixels a byte
# measured at 6000x6000); a file with 16 times fewer bytes than that cannot hold the picture its
# header claims. libjpeg would "decode" it all the same, padding it with gray.
JPEG_MAX_PIXELS_PER_BYTE = 4096
ACCEPT = "image/jpeg,image/png,image/webp,image/bmp,image/tiff,.jpg,.jpeg,.png,.webp,.bmp,.tif,.tiff"


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="For password resets. We send nothing else.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["username"].help_text = "Letters, digits and @ . + - _ only."



class GalleryForm(forms.ModelForm):
    class Meta:
        model = Gallery
        fields = ["name"]
        labels = {"name": "Gallery name"}


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Key name", help_text="Where you will use it, e.g. “laptop script” or “family app”."
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        if not self.user.check_password(self.cleaned_data["password"]):
            raise forms.ValidationError("That is not your password.")
        return self.cleaned_data["password"]


class CheckedImage:
    """An uploaded file that opened and decoded as an allowed image."""

    def __init__(self, upload, image_format, width, height):
        self.upload = upload
        self.image_format = image_format
        self.width = width
        self.height = height
        self.extension = ALLOWED_FORMATS[image_format]


def check_image(upload):
    """Open and fully decode an upload; return a CheckedImage or raise
    ValidationError naming the problem. Nothing is stored here."""
    from PIL import Image, UnidentifiedImageError

    name = os.path.basename(upload.name or "file")
    if upload.size > settings.UPLOAD_MAX_BYTES:
        raise forms.ValidationError(
            f"{name} is {filesizeformat(upload.size)}; the limit is {filesizeformat(settings.UPLOAD_MAX_BYTES)}."
        )
    if upload.size == 0:
        raise forms.ValidationError(f"{name} is empty.")
    data = upload.read()
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we
            # check our own limit below, before decoding anything.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                image_format = img.format
                width, height = img.size
                if image_format not in ALLOWED_FORMATS:
                    raise forms.ValidationError(
                        f"{name} is a {image_format} image; we accept JPEG, PNG, WEBP, BMP and TIFF."
                    )
                if width * height > settings.UPLOAD_MAX_PIXELS:
                    raise forms.ValidationError(
                        f"{name} is {width}×{height} pixels ({width * height / 1e6:.1f} megapixels); "
                        f"the limit is {settings.UPLOAD_MAX_PIXELS / 1e6:.0f} megapixels."
                    )
                long_side, short_side = max(width, height), min(width, height)
                if long_side > ANY_SHAPE_MAX_SIDE and long_side > settings.UPLOAD_MAX_ASPECT_RATIO * short_side:
                    raise forms.ValidationError(
                        f"{name} is {width}×{height} pixels: one side is more than "
                        f"{settings.UPLOAD_MAX_ASPECT_RATIO} times the other, which is not a photo we can colorize."
                    )
                if image_format in ("JPEG", "MPO") and len(data) * JPEG_MAX_PIXELS_PER_BYTE < width * height:
                    raise forms.ValidationError(
                        f"{name} claims to be {width}×{height} pixels but holds only {len(data)} bytes: "
                        "it is damaged or incomplete."
                    )
                img.load()  # decode it all: truncated and corrupt files fail here
    except Image.DecompressionBombError:
        raise forms.ValidationError(f"{name} claims to be far larger than any photo; it was refused.")
    except UnidentifiedImageError:
        raise forms.ValidationError(
            f"{name} is not an image we can read. We accept JPEG, PNG, WEBP, BMP and TIFF."
        )
    except forms.ValidationError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise forms.ValidationError(f"{name} is damaged or incomplete and could not be read ({e}).")
    return CheckedImage(upload, image_format, width, height)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Django's documented pattern for <input type=file multiple>."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT, "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        files = data if isinstance(data, (list, tuple)) else [data]
        files = [single(f, initial) for f in files if f]
        if not files:
            raise forms.ValidationError("Choose one or more photos.")
        if len(files) > settings.UPLOAD_MAX_FILES:
            raise forms.ValidationError(f"At most {settings.UPLOAD_MAX_FILES} photos at a time, please.")
        return files


class UploadForm(forms.Form):
    photos = MultipleImageField(label="Photos")

    def clean_photos(self):
        checked, errors = [], []
        for upload in self.cleaned_data["photos"]:
            try:
                checked.append(check_image(upload))
            except forms.ValidationError as e:
                errors.extend(e.messages)
        if errors:
            # All or nothing: a partly stored batch would be harder to
            # understand than a clear list of what to fix.
            raise forms.ValidationError(errors)
        return checked
