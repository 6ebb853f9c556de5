"""
Pages and endpoints people use: accounts, galleries, photos, sharing.

Every view that touches a gallery or a photo finds it among
Gallery/Photo.objects.owned_by(request.user), so anything that is not the
current user's is a 404: another person's photo looks exactly like a photo
that does not exist. Shared photos are reached only through their share
token. What happens to a photo is the model's (gallery/models.py) or
gallery/photos.py's; these views turn outcomes into pages. The pages' scripts
talk to the REST API (/api/v1/, with the browser's session), so every JSON
answer and every value a script sends is the API's, validated once in its
serializers; the site's views answer HTML and files only.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery import quota
from gallery.api.models import ApiToken
from gallery.forms import ACCEPT, ApiKeyForm, DeleteAccountForm, GalleryForm, SignupForm, UploadForm
from gallery.models import DEFAULT_GALLERY_KEPT, AccountSettings, Gallery, NotColorized, Photo, model_takes_hints
from gallery.streams import TooManyDownloads
from gallery.api.serializers import ResultQuerySerializer
from gallery.photos import (
    PhotoNotStored,
    create_photos,
    display_response,
    no_store,
    original_response,
    result_response,
    uncertainty_response,
)
from gallery.throttles import (
    LoginThrottle,
    PasswordResetThrottle,
    ResetMailThrottle,
    SharedReencodeThrottle,
    SignupThrottle,
)
from mlcore.hint_points import MAX_HINTS
from mlcore.render import MAX_VIVIDNESS, MIN_VIVIDNESS

logger = logging.getLogger("gallery")


def _get_gallery_for_user(request, pk):
    return get_object_or_404(Gallery.objects.owned_by(request.user), pk=pk)


def _get_photo_for_user(request, pk):
    return get_object_or_404(Photo.objects.owned_by(request.user).select_related("gallery"), pk=pk)


def _get_shared_photo(token):
    if not token:
        raise Http404
    return get_object_or_404(Photo, share_token=token)


# -- home and accounts ------------------------------------------------------


def home(request):
    if request.user.is_authenticated:
        return redirect(Gallery.default_for(request.user))
    return render(request, "gallery/home.html")


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    if request.method == "POST":
        wait = SignupThrottle().check(request)
        if wait:
            return _too_many(request, "registration/signup.html", {"form": SignupForm()}, wait,
                             "Too many sign-ups from your address. Try again in {wait} seconds.")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        Gallery.default_for(user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Drop a few black-and-white photos here to see them in color.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


def _too_many(request, template, context, wait, message):
    """The page again, unbound, with a 429, Retry-After and why."""
    messages.error(request, message.format(wait=wait))
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(wait)
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, throttled per client address (429) and per e-mail address. The
    second refusal is silent: the same "check your mail" page as always, so that nobody
    learns from it whether an account uses that address, and nobody can flood a mailbox."""

    def post(self, request, *args, **kwargs):
        wait = PasswordResetThrottle().check(request)
        if wait:
            return _too_many(request, self.template_name, self.get_context_data(form=self.form_class()), wait,
                             "Too many reset requests from your address. Try again in {wait} seconds.")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        if ResetMailThrottle(form.cleaned_data["email"]).check(self.request):
            return redirect(self.get_success_url())
        return super().form_valid(form)


class LoginView(auth_views.LoginView):
    """Django's login page, throttled per client address like the API's
    token login (gallery.throttles.LoginThrottle; the two share one
    budget), so that guessing passwords is as slow here as there."""

    def post(self, request, *args, **kwargs):
        throttle = LoginThrottle()
        if throttle.allow_request(request, self):
            return super().post(request, *args, **kwargs)
        wait = max(1, round(throttle.wait() or 1))
        messages.error(request, f"Too many login attempts from your address. Try again in {wait} seconds.")
        # An unbound form: validating the posted one would try the password.
        response = self.render_to_response(self.get_context_data(form=self.form_class(request)))
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Django names the site after the request's host ("127.0.0.1:8000"), which would hide
        # the name every page takes from gallery.context_processors.site.
        del context["site_name"]
        return context


@login_required
def account(request):
    choices = AccountSettings.of(request.user)
    if request.method == "POST":
        choices.keep_photo_metadata = request.POST.get("keep_photo_metadata") == "on"
        choices.save()
        messages.success(request, "Saved." + (" Your downloads keep all of your photos' metadata."
                                              if choices.keep_photo_metadata else ""))
        return redirect("account")
    return render(request, "registration/account.html", {"account_settings": choices})


@login_required
@require_GET
def account_export(request):
    """Everything of the person as one ZIP: originals, results, account.json."""
    from gallery.archive import account_zip

    try:
        return account_zip(request.user)
    except TooManyDownloads as e:
        return _refused(request, e.retry_after, str(e))


@login_required
def account_delete(request):
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        # Cascades to galleries and photos; their files go after the commit
        # (gallery.models._delete_photo_files).
        user.delete()
        messages.success(request, "Your account and all your photos have been deleted.")
        return redirect("home")
    return render(request, "registration/account_delete.html", {"form": form})


# -- API keys: make, name, see the last use of, and revoke them --------------

KEY_PLACEHOLDER = "YOUR_API_KEY"
# The session key under which a new key waits for the page after the redirect.
NEW_KEY_SESSION = "api_new_key"


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Post/redirect/get, so that reloading the page makes no second key.
        # The key waits in the session for that one redirect and is popped
        # when shown: it is in clear nowhere else, and never again.
        _, key = ApiToken.create(request.user, form.cleaned_data["name"])
        request.session[NEW_KEY_SESSION] = key
        return redirect("api-keys")
    new_key = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
    ctx = {
        "form": form,
        "tokens": request.user.api_tokens.all(),
        "new_key": new_key,
        "key": new_key or KEY_PLACEHOLDER,
        "api_root": request.build_absolute_uri(reverse("api-photo-list")).removesuffix("photos/"),
        "docs_url": request.build_absolute_uri(reverse("api-docs")),
        "quota": quota.status(request.user),
    }
    return render(request, "api/keys.html", ctx, status=400 if form.errors else 200)


@login_required
@require_POST
def api_key_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Revoked the key “{token.name}”. Programs using it can no longer connect.")
    return redirect("api-keys")


# -- galleries --------------------------------------------------------------


@login_required
def gallery_list(request):
    Gallery.default_for(request.user)
    galleries = Gallery.objects.owned_by(request.user).for_listing()
    return render(request, "gallery/gallery_list.html", {"galleries": galleries, "form": GalleryForm()})


@login_required
@require_POST
def gallery_create(request):
    form = GalleryForm(request.POST)
    if form.is_valid():
        gallery = form.save(commit=False)
        gallery.owner = request.user
        gallery.save()
        return redirect(gallery)
    galleries = Gallery.objects.owned_by(request.user).for_listing()
    return render(request, "gallery/gallery_list.html", {"galleries": galleries, "form": form}, status=400)


@login_required
def gallery(request, pk):
    return _gallery_page(request, _get_gallery_for_user(request, pk))


def _gallery_page(request, gallery, status=200, headers=None):
    ctx = {
        "gallery": gallery,
        "photos": gallery.photos.all(),
        "upload_form": UploadForm(),
        "rename_form": GalleryForm(instance=gallery),
        "accept": ACCEPT,
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "max_megapixels": settings.UPLOAD_MAX_PIXELS // 1_000_000,
        "quota": quota.status(request.user),
    }
    response = render(request, "gallery/gallery.html", ctx, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@login_required
@require_POST
def gallery_upload(request, pk):
    gallery = _get_gallery_for_user(request, pk)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = form.errors.get("photos") or ["Choose one or more photos."]
        for error in errors:
            messages.error(request, error)
        return redirect(gallery)

    try:
        photos = create_photos(gallery, form.cleaned_data["photos"])  # all or nothing, as for bad files
    except quota.QuotaExceeded as e:
        # The API's answer: 429 with Retry-After, and the same message, on the page itself.
        headers = {"Retry-After": str(e.quota.retry_after)}
        messages.error(request, e.message)
        return _gallery_page(request, gallery, status=429, headers=headers)
    except PhotoNotStored as e:
        messages.error(request, str(e))
        return redirect(gallery)
    messages.success(request, f"Uploaded {len(photos)} photo{'s' if len(photos) != 1 else ''}.")
    return redirect(gallery)


@login_required
@require_POST
def gallery_rename(request, pk):
    gallery = _get_gallery_for_user(request, pk)
    form = GalleryForm(request.POST, instance=gallery)
    if form.is_valid():
        form.save()
        messages.success(request, "Gallery renamed.")
    else:
        messages.error(request, "A gallery needs a name.")
    return redirect(gallery)


@login_required
def gallery_delete(request, pk):
    gallery = _get_gallery_for_user(request, pk)
    if gallery.is_default:
        messages.error(request, DEFAULT_GALLERY_KEPT)
        return redirect(gallery)
    if request.method == "POST":
        name = gallery.name
        gallery.delete_with_photos()
        messages.success(request, f"Deleted the gallery “{name}” and its photos.")
        return redirect("gallery-list")
    return render(request, "gallery/gallery_delete.html", {"gallery": gallery, "count": gallery.photos.count()})


@login_required
@require_http_methods(["GET", "POST"])
def gallery_download(request, pk):
    """A ZIP of the gallery's colorized photos: all of them (GET), or those
    selected on the gallery page (POST, photo=<id> for each)."""
    from gallery.archive import gallery_zip

    gallery = _get_gallery_for_user(request, pk)
    selected = None
    if request.method == "POST":
        selected = gallery.selected_photos(request.POST.getlist("photo"))
        if not selected.filter(status=Photo.DONE).exists():
            messages.error(request, "Select at least one colorized photo to download.")
            return redirect(gallery)
    try:
        return gallery_zip(gallery, selected)
    except TooManyDownloads as e:
        return _refused(request, e.retry_after, str(e))


@login_required
@require_POST
def gallery_delete_photos(request, pk):
    """Delete the photos selected on the gallery page."""
    gallery = _get_gallery_for_user(request, pk)
    selected = gallery.selected_photos(request.POST.getlist("photo"))
    count = len(selected)
    for photo in selected:
        photo.delete()  # each takes its files with it, after the commit
    if count:
        messages.success(request, f"Deleted {count} photo{'s' if count != 1 else ''}.")
    else:
        messages.error(request, "Select the photos to delete first.")
    return redirect(gallery)


# -- photos -----------------------------------------------------------------


@login_required
def photo(request, pk):
    photo = _get_photo_for_user(request, pk)
    share_url = None
    if photo.share_token:
        share_url = request.build_absolute_uri(reverse("shared-photo", args=[photo.share_token]))
    ctx = {"photo": photo, "share_url": share_url, "shared_view": False,
           "vividness_min": MIN_VIVIDNESS, "vividness_max": MAX_VIVIDNESS,
           "hints_supported": photo.status == Photo.DONE and model_takes_hints(), "max_hints": MAX_HINTS}
    return render(request, "gallery/photo.html", ctx)


@login_required
@require_GET
def photo_uncertainty(request, pk):
    """The page's overlay of where the model was unsure of the colors."""
    try:
        return uncertainty_response(_get_photo_for_user(request, pk), overlay=True)
    except NotColorized:
        raise Http404 from None


@login_required
@require_GET
def photo_file(request, pk, kind):
    photo = _get_photo_for_user(request, pk)
    return _serve_display_file(photo, kind)


@login_required
@require_GET
def photo_original(request, pk):
    return original_response(_get_photo_for_user(request, pk))


@login_required
@require_GET
def photo_download(request, pk):
    return _download_result(request, _get_photo_for_user(request, pk))


@login_required
@require_POST
def photo_retry(request, pk):
    photo = _get_photo_for_user(request, pk)
    if photo.retry():
        messages.success(request, "Queued again.")
    else:
        messages.error(request, "Only a failed photo can be retried.")
    return redirect(photo)


@login_required
@require_POST
def photo_delete(request, pk):
    photo = _get_photo_for_user(request, pk)
    gallery = photo.gallery
    photo.delete()
    messages.success(request, f"Deleted {photo.original_filename}.")
    return redirect(gallery)


@login_required
@require_POST
def photo_share(request, pk):
    photo = _get_photo_for_user(request, pk)
    if request.POST.get("share") == "on":
        photo.share()
        messages.success(request, "Anyone with the link can now see this photo.")
    else:
        photo.unshare()
        messages.success(request, "The link is off. This photo is private again.")
    return redirect(photo)


# -- shared photos ----------------------------------------------------------

SHARED_PAGE_TITLE = "A colorized photo"


def shared_photo(request, token):
    photo = _get_shared_photo(token)
    # The file name is the owner's (often a person's or a place's name): a share link's page
    # does not say it, as its downloads do not.
    return no_store(render(request, "gallery/photo.html", {"photo": photo, "shared_view": True, "token": token,
                                                           "page_title": SHARED_PAGE_TITLE}))


@require_GET
def shared_file(request, token, kind):
    return no_store(_serve_display_file(_get_shared_photo(token), kind))


@require_GET
def shared_download(request, token):
    photo = _get_shared_photo(token)
    if request.GET.get("format", "png").lower() != "png":
        wait = SharedReencodeThrottle().check(request)
        if wait:
            return _refused(request, wait)
    return no_store(_download_result(request, photo, shared=True))


# -- helpers ----------------------------------------------------------------


def _refused(request, wait, message=None):
    """The site's 429 page, with Retry-After, and why when there is more to say."""
    response = render(request, "429.html", {"retry_after": wait, "message": message}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _serve_display_file(photo, kind):
    try:
        return display_response(photo, kind)
    except NotColorized:
        raise Http404 from None


def _download_result(request, photo, shared=False):
    """The result as PNG or JPEG, its query read by the API's own serializer (one set of
    rules and messages for the site, the API and share links); `shared`: through a share link."""
    query = ResultQuerySerializer(data=request.GET)
    if not query.is_valid():
        return HttpResponseBadRequest(" ".join(m for errors in query.errors.values() for m in errors))
    try:
        return result_response(photo, query.validated_data["format"], query.validated_data["quality"],
                               shared=shared)
    except NotColorized:
        raise Http404 from None
