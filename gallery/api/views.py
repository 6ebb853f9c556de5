"""
The REST API, /api/v1/: thin adapters over the site's own code.

Uploads go through gallery.forms.check_image and gallery.photos.create_photos
(the same validation, daily quota, storage and enqueue-on-commit as the
upload form);
re-renders, retries and deletions through the Photo's and Gallery's own
methods; files through gallery.photos (original_response, result_response:
nosniff, Content-Disposition, X-Sendfile). Everything is looked up among
Gallery/Photo.objects.owned_by(request.user), so another person's id answers
404 exactly like an id that does not exist. This module never imports the
site's views, nor they it.

Errors are always JSON: exception_handler() below turns whatever a view
raises into {"detail": ...} (or per-field lists for bad input), and
not_found() answers unknown /api/ URLs.
"""

import logging

from django.core.exceptions import SuspiciousOperation
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from gallery import quota
from gallery.api.models import ApiToken
from gallery.api.polls import StatusPollMixin
from gallery.api.serializers import (
    ErrorSerializer,
    GalleryErrorSerializer,
    HintsErrorSerializer,
    HintsSerializer,
    GallerySerializer,
    PhotoCreateErrorSerializer,
    PhotoCreateSerializer,
    PhotoFilterErrorSerializer,
    PhotoFilterSerializer,
    PhotoSerializer,
    QuotaErrorSerializer,
    RerenderErrorSerializer,
    RerenderSerializer,
    ResultErrorSerializer,
    ResultQuerySerializer,
    SuggestionQueryErrorSerializer,
    SuggestionQuerySerializer,
    SuggestionsSerializer,
    TokenLoginErrorSerializer,
    TokenLoginSerializer,
    TokenSerializer,
)
from gallery.throttles import AnonThrottle, LoginThrottle, RenderThrottle, ThrottleAnonymousFirst
from gallery.models import DEFAULT_GALLERY_KEPT, Gallery, HintsNotSupported, NotColorized, Photo
from gallery.photos import (
    CONTENT_TYPES,
    PhotoNotStored,
    create_photos,
    display_response,
    original_response,
    result_response,
    suggestions_at,
    uncertainty_response,
)

logger = logging.getLogger("gallery")

# -- errors -------------------------------------------------------------------


def exception_handler(exc, context):
    """DRF's handler, plus: every 404 reads the same ("Not found."), a
    suspicious request is a 400, and anything else is a JSON 500 (logged)
    instead of Django's HTML error page."""
    if isinstance(exc, Http404):
        # get_object_or_404's message names the model; keep them all alike.
        exc = exceptions.NotFound()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "Bad request.")
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.error("API error in %s", type(view).__name__, exc_info=exc)
        set_rollback()
        response = Response({"detail": "Server error. It has been logged; please try again later."}, status=500)
    return response


@csrf_exempt  # a DELETE to a wrong URL must get this 404, not an HTML CSRF 403
def not_found(request, path=""):
    """Any /api/ URL that is not an endpoint: a JSON 404, with a hint when
    only the final slash is missing."""
    body = {"detail": "Not found."}
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            body["detail"] = f"Not found. Did you mean {request.path}/ (with a final slash)?"
    return JsonResponse(body, status=404)



def not_colorized(photo):
    """409 for a result or re-render asked of a photo that has none (yet)."""
    return Response({"detail": str(NotColorized(photo))}, status=status.HTTP_409_CONFLICT)


def owned_or_404(queryset, request, pk):
    # No ORDER BY: the key finds one row at most, and first()'s ordering costs a third of a poll's lookup.
    obj = next(iter(queryset.owned_by(request.user).filter(pk=pk).order_by()[:1]), None)
    if obj is None:
        raise exceptions.NotFound()
    return obj


class FileNegotiation(DefaultContentNegotiation):
    """For the endpoints that answer with image bytes: ignore Accept (a
    client asking for image/png must get its PNG), and render any error as
    JSON, the only renderer these views have. Bodies are parsed as anywhere
    else: a forged form POST must reach the CSRF check (403), not fail to
    parse as JSON (400)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# -- schema building blocks ---------------------------------------------------

NOT_AUTHENTICATED = OpenApiResponse(ErrorSerializer, description="No credentials, or a key that is not valid.")
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such object among yours (another person's looks exactly the same)."
)
NOT_FOUND_PAGE = OpenApiResponse(ErrorSerializer, description="No such page.")
THROTTLED = OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After.")
QUOTA_HEADERS = [
    OpenApiParameter(
        "X-Quota-Limit", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[202, 400, 404, 429, 503],
        description="Colorizations allowed per day (UTC).",
    ),
    OpenApiParameter(
        "X-Quota-Remaining", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[202, 400, 404, 429, 503],
        description="Colorizations left today.",
    ),
]
RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429],
    description="Seconds to wait before trying again.",
)
RETRY_STORAGE = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[503],
    description="Seconds to wait before trying again.",
)
LOCATION = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[202], description="The photo's URL."
)
PHOTO_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The photo's id.")
GALLERY_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The gallery's id.")
BINARY = OpenApiTypes.BINARY


# -- token login --------------------------------------------------------------


@extend_schema(
    tags=["auth"],
    summary="Get an API key with a username and password",
    description="Gives a fresh secret to your one key named \"API login\" on each call (it appears once on "
    "the API keys page, however often a script logs in); the key is shown only here, and the one an earlier "
    "login gave stops working. Programs that run side by side want keys of their own, made on the API keys "
    "page. Throttled per client address.",
    request=TokenLoginSerializer,
    responses={
        200: TokenSerializer,
        400: OpenApiResponse(TokenLoginErrorSerializer, description="Missing fields or wrong credentials."),
        429: THROTTLED,
    },
    parameters=[RETRY_AFTER],
    auth=[],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([LoginThrottle])
def token_login(request):
    from django.contrib.auth import authenticate

    serializer = TokenLoginSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = authenticate(request, **serializer.validated_data)
    if user is None:
        raise exceptions.ValidationError({"non_field_errors": ["Unable to log in with the username and password given."]})
    _, key = ApiToken.login_key(user)
    return Response({"token": key})


# -- galleries ----------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List your galleries", responses={200: GallerySerializer(many=True), 401: NOT_AUTHENTICATED, 404: NOT_FOUND_PAGE}
    ),
    create=extend_schema(
        summary="Create a gallery",
        responses={
            201: GallerySerializer, 400: OpenApiResponse(GalleryErrorSerializer, description="A name is needed."),
            401: NOT_AUTHENTICATED,
        },
    ),
    retrieve=extend_schema(
        summary="A gallery", parameters=[GALLERY_ID],
        responses={200: GallerySerializer, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Rename a gallery", parameters=[GALLERY_ID],
        responses={
            200: GallerySerializer, 400: OpenApiResponse(GalleryErrorSerializer, description="A name is needed."),
            401: NOT_AUTHENTICATED, 404: NOT_FOUND,
        },
    ),
    destroy=extend_schema(
        summary="Delete a gallery and all its photos", parameters=[GALLERY_ID],
        responses={
            204: OpenApiResponse(description="Deleted, with its photos and their files."),
            401: NOT_AUTHENTICATED, 404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Your default gallery cannot be deleted."),
        },
    ),
)
@extend_schema(tags=["galleries"])
class GalleryViewSet(
    StatusPollMixin,
    ThrottleAnonymousFirst,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your galleries. Every photo is in one; a default gallery always exists."""

    serializer_class = GallerySerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Gallery.objects.none()
        return (
            Gallery.objects.owned_by(self.request.user)
            .annotate(photo_count=Count("photos"))
            .order_by("-is_default", "name", "id")
        )

    def get_object(self):
        with self.timer.stage("db"):
            gallery = owned_or_404(Gallery.objects, self.request, self.kwargs["pk"])
        self.check_object_permissions(self.request, gallery)
        return gallery

    def list(self, request, *args, **kwargs):
        Gallery.default_for(request.user)  # as on the site: everyone has one
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)

    @extend_schema(
        summary="Download every colorized photo of a gallery as one ZIP",
        description="Streamed as it is made: the full-resolution PNG results of the gallery's finished photos "
        "(each named after its original, `-color.png`; names that would collide get ` (2)`, ` (3)`...). "
        "Photos not colorized yet are left out.",
        parameters=[GALLERY_ID],
        responses={
            (200, "application/zip"): OpenApiResponse(BINARY, description="The ZIP."),
            401: NOT_AUTHENTICATED, 404: NOT_FOUND,
            429: OpenApiResponse(description="As many ZIPs as DOWNLOAD_STREAMS_PER_PERSON are running already; "
                                             "Retry-After says when to try again."),
        },
    )
    @action(detail=True, methods=["get"], url_path="download", url_name="download",
            content_negotiation_class=FileNegotiation)
    def download(self, request, pk=None):
        from gallery.archive import gallery_zip
        from gallery.streams import TooManyDownloads

        try:
            return gallery_zip(self.get_object())
        except TooManyDownloads as e:
            raise exceptions.Throttled(wait=e.retry_after, detail=str(e)) from None

    def destroy(self, request, *args, **kwargs):
        if not self.get_object().delete_with_photos():
            return Response({"detail": DEFAULT_GALLERY_KEPT}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- photos -------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List your photos, newest first",
        parameters=[PhotoFilterSerializer],
        responses={
            200: PhotoSerializer(many=True),
            400: OpenApiResponse(PhotoFilterErrorSerializer, description="A filter value is not valid."),
            401: NOT_AUTHENTICATED,
            404: OpenApiResponse(ErrorSerializer, description="No such gallery among yours, or no such page."),
        },
    ),
    retrieve=extend_schema(
        summary="A photo and the state of its colorization", parameters=[PHOTO_ID],
        responses={200: PhotoSerializer, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a photo and its files", parameters=[PHOTO_ID],
        responses={204: OpenApiResponse(description="Deleted, with its files."), 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    ),
)
@extend_schema(tags=["photos"])
class PhotoViewSet(
    StatusPollMixin,
    ThrottleAnonymousFirst,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your photos, each with the state of its colorization job."""

    serializer_class = PhotoSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Photo.objects.none()
        photos = Photo.objects.owned_by(self.request.user)
        if self.action == "list":
            filters = PhotoFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            if "gallery" in filters.validated_data:
                # Whether the gallery is theirs is asked only when no photo shows it (list()):
                # a gallery poll is then one query fewer.
                self.gallery_filter = filters.validated_data["gallery"]
                photos = photos.filter(gallery_id=self.gallery_filter)
            if "status" in filters.validated_data:
                photos = photos.filter(status=filters.validated_data["status"])
        return photos

    gallery_filter = None

    def list(self, request, *args, **kwargs):
        try:
            response = super().list(request, *args, **kwargs)
        except exceptions.NotFound:
            self._check_gallery_filter()  # no such gallery among theirs says so, not "Invalid page."
            raise
        if not response.data["count"]:
            self._check_gallery_filter()
        return response

    def _check_gallery_filter(self):
        gallery_id = self.gallery_filter
        if gallery_id is None:
            return
        with self.timer.stage("db"):
            theirs = Gallery.objects.owned_by(self.request.user).filter(pk=gallery_id).exists()
        if not theirs:
            raise exceptions.NotFound("Not found: no such gallery.")

    def get_object(self):
        with self.timer.stage("db"):
            photo = owned_or_404(Photo.objects, self.request, self.kwargs["pk"])
        self.check_object_permissions(self.request, photo)
        return photo

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Every answer to an upload tells the quota, refused uploads included.
        if getattr(self, "action", None) == "create" and request.user and request.user.is_authenticated:
            for header, value in quota.status(request.user).headers().items():
                response[header] = value
        return response

    def _photo_response(self, photo, code=status.HTTP_200_OK, headers=None):
        return Response(PhotoSerializer(photo, context=self.get_serializer_context()).data, status=code, headers=headers)

    @extend_schema(
        summary="Upload a photo to colorize",
        description="Stores the photo and queues its colorization; poll the photo (or its `status`) until it is "
        "`done`, then download `result_url`. Counts against your daily quota.",
        request={"multipart/form-data": PhotoCreateSerializer},
        parameters=[*QUOTA_HEADERS, LOCATION, RETRY_AFTER, RETRY_STORAGE],
        responses={
            202: OpenApiResponse(PhotoSerializer, description="Stored and queued."),
            400: OpenApiResponse(PhotoCreateErrorSerializer, description="Not an image we accept; nothing stored."),
            401: NOT_AUTHENTICATED,
            404: OpenApiResponse(ErrorSerializer, description="No such gallery among yours."),
            429: OpenApiResponse(
                QuotaErrorSerializer, description="The daily quota is used up, or too many requests."
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="The server cannot store photos right now (e.g. its disk is full); "
                "nothing was kept and no quota used. See Retry-After.",
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = PhotoCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "gallery" in data:
            gallery = Gallery.objects.owned_by(request.user).filter(pk=data["gallery"]).first()
            if gallery is None:
                raise exceptions.NotFound("Not found: no such gallery.")
        else:
            gallery = Gallery.default_for(request.user)
        try:
            (photo,) = create_photos(gallery, [data["image"]], temperature=data.get("temperature"),
                                     vividness=data.get("vividness"))
        except PhotoNotStored as e:
            return Response({"detail": str(e)}, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "60"})
        except quota.QuotaExceeded as e:
            q = e.quota
            body = {
                "detail": e.message,
                "limit": q.limit,
                "remaining": q.remaining,
                "resets_at": q.resets_at.isoformat().replace("+00:00", "Z"),
            }
            return Response(body, status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(q.retry_after)})
        url = request.build_absolute_uri(reverse("api-photo-detail", args=[photo.pk]))
        return self._photo_response(photo, status.HTTP_202_ACCEPTED, headers={"Location": url})

    def destroy(self, request, *args, **kwargs):
        # The files go after the commit (gallery.models._delete_photo_files).
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Download the colorized photo at full resolution",
        parameters=[PHOTO_ID, ResultQuerySerializer],
        responses={
            (200, "image/png"): OpenApiResponse(BINARY, description="The result (format=png, the default)."),
            (200, "image/jpeg"): OpenApiResponse(BINARY, description="The result (format=jpeg)."),
            400: OpenApiResponse(ResultErrorSerializer, description="format or quality not valid."),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Not colorized (yet): see the photo's status."),
        },
    )
    @action(detail=True, methods=["get"], url_path="result", url_name="result",
            content_negotiation_class=FileNegotiation)
    def result(self, request, pk=None):
        photo = self.get_object()
        query = ResultQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            return result_response(photo, query.validated_data["format"], query.validated_data["quality"])
        except NotColorized:
            return not_colorized(photo)

    @extend_schema(
        summary="The uncertainty map: how sure the model was of each pixel's color",
        description="A grayscale PNG at the photo's size: the entropy of the model's color distribution "
        "at each pixel, 0 (black) where it was sure, 255 (white) where many colors were as likely. Bright "
        "areas are where a person may want to check or fix the colors.",
        parameters=[PHOTO_ID],
        responses={
            (200, "image/png"): OpenApiResponse(BINARY, description="The uncertainty map."),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Not colorized (yet), or by a model that gives "
                                 "no distribution: see the photo's status."),
        },
    )
    @action(detail=True, methods=["get"], url_path="uncertainty", url_name="uncertainty",
            content_negotiation_class=FileNegotiation)
    def uncertainty(self, request, pk=None):
        photo = self.get_object()
        try:
            return uncertainty_response(photo)
        except NotColorized:
            return not_colorized(photo)

    @extend_schema(
        summary="A small JPEG of the photo, for lists",
        description="At most 480 px on its longer side: gray until the photo is colorized, then in color. "
        "Use the photo's `thumbnail_url`, which changes with each result.",
        parameters=[PHOTO_ID],
        responses={(200, "image/jpeg"): OpenApiResponse(BINARY, description="The thumbnail."),
                   401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], url_path="thumbnail", url_name="thumbnail",
            content_negotiation_class=FileNegotiation)
    def thumbnail(self, request, pk=None):
        return display_response(self.get_object(), "thumbnail")

    @extend_schema(
        summary="The colorized photo as a JPEG at screen size",
        description="At most 2048 px on its longer side, for showing; download `result_url` for the full "
        "resolution. Use the photo's `preview_url`, which changes with each result.",
        parameters=[PHOTO_ID],
        responses={
            (200, "image/jpeg"): OpenApiResponse(BINARY, description="The preview."),
            401: NOT_AUTHENTICATED, 404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Not colorized (yet): see the photo's status."),
        },
    )
    @action(detail=True, methods=["get"], url_path="preview", url_name="preview",
            content_negotiation_class=FileNegotiation)
    def preview(self, request, pk=None):
        photo = self.get_object()
        try:
            return display_response(photo, "after")
        except NotColorized:
            return not_colorized(photo)

    @extend_schema(
        summary="Download the original, as uploaded",
        parameters=[PHOTO_ID],
        responses={
            **{(200, t): OpenApiResponse(BINARY, description="The original.") for t in sorted(set(CONTENT_TYPES.values()))},
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], url_path="original", url_name="original",
            content_negotiation_class=FileNegotiation)
    def original(self, request, pk=None):
        return original_response(self.get_object())

    @extend_schema(
        summary="Render the colors again at another vividness or temperature",
        description="Queues a re-render from the stored prediction (no network run, well under a second "
        "on a worker) and answers at once with `rendering: true`; poll the photo until `rendering` is "
        "false, then `vividness`, `temperature` and `result_url` are the new result's. A setting left out "
        "keeps its current value. Does not count against the quota. A newer request replaces one still "
        "waiting; rate-limited per person with hint renders (Retry-After on 429).",
        parameters=[PHOTO_ID, RETRY_AFTER],
        request=RerenderSerializer,
        responses={
            202: OpenApiResponse(PhotoSerializer, description="Queued; see `rendering`."),
            400: OpenApiResponse(RerenderErrorSerializer, description="vividness or temperature missing or out of range."),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(
                ErrorSerializer, description="Not colorized (yet): see the photo's status; or its saved colors are missing."
            ),
            429: THROTTLED,
        },
    )
    @action(detail=True, methods=["post"], url_path="rerender", url_name="rerender",
            throttle_classes=[AnonThrottle, RenderThrottle])
    def rerender(self, request, pk=None):
        photo = self.get_object()
        serializer = RerenderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._render(photo, serializer.validated_data)

    def _render(self, photo, request):
        """Ask the photo for a render (photo.request_render) and answer 202, or why not."""
        try:
            photo.request_render(**request)
        except HintsNotSupported as e:
            return Response({"detail": str(e)}, status=status.HTTP_409_CONFLICT)
        except NotColorized:
            if photo.status == Photo.DONE:
                return Response({"detail": "The saved colors of this photo are missing; it cannot be re-rendered."},
                                status=status.HTTP_409_CONFLICT)
            return not_colorized(photo)
        return self._photo_response(photo, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Color the photo again with your colour hints",
        description="Stores the hints (they replace any before; `[]` clears them) and queues a job that "
        "runs the model with them, so that each hinted spot, and the object around it, takes its color. "
        "Answers at once with `rendering: true` and the stored `hints`; poll the photo until `rendering` is "
        "false. A newer request replaces one still waiting. Rate-limited per person with re-renders "
        "(Retry-After on 429). Needs a model trained with hints: others answer 409.",
        parameters=[PHOTO_ID, RETRY_AFTER],
        request=HintsSerializer,
        responses={
            202: OpenApiResponse(PhotoSerializer, description="Stored and queued; see `rendering`."),
            400: OpenApiResponse(HintsErrorSerializer, description="Hints missing, too many, out of range or not "
                                 "`#rrggbb`: messages per hint and field."),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Not colorized (yet), or this model cannot take "
                                 "colour hints."),
            429: THROTTLED,
        },
    )
    @action(detail=True, methods=["put"], url_path="hints", url_name="hints",
            throttle_classes=[AnonThrottle, RenderThrottle])
    def hints(self, request, pk=None):
        photo = self.get_object()
        serializer = HintsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._render(photo, serializer.validated_data)

    @extend_schema(
        summary="Colors worth trying at one point of the photo",
        description="The colors the model hesitated between at `x`, `y` (fractions of the width and height "
        "from the top-left), most likely first, each with its probability and shown at the photo's own "
        "lightness there: good first choices for a colour hint. Read from the stored prediction; no model run.",
        parameters=[PHOTO_ID, SuggestionQuerySerializer],
        responses={
            200: SuggestionsSerializer,
            400: OpenApiResponse(SuggestionQueryErrorSerializer, description="x or y missing or not from 0 to 1."),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Not colorized (yet), or by a model that gives "
                                 "no distribution."),
        },
    )
    @action(detail=True, methods=["get"], url_path="suggestions", url_name="suggestions")
    def suggestions(self, request, pk=None):
        photo = self.get_object()
        query = SuggestionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        x, y = query.validated_data["x"], query.validated_data["y"]
        try:
            colors = suggestions_at(photo, x, y)
        except NotColorized:
            return not_colorized(photo)
        return Response({"x": x, "y": y, "colors": colors})

    @extend_schema(
        summary="Queue a failed photo again",
        parameters=[PHOTO_ID],
        request=None,
        responses={
            202: OpenApiResponse(PhotoSerializer, description="Queued again."),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Only a failed photo can be retried."),
        },
    )
    @action(detail=True, methods=["post"], url_path="retry", url_name="retry")
    def retry(self, request, pk=None):
        photo = self.get_object()
        if not photo.retry():
            return Response(
                {"detail": f"Only a failed photo can be retried: its status is {photo.status}."},
                status=status.HTTP_409_CONFLICT,
            )
        return self._photo_response(photo, status.HTTP_202_ACCEPTED)
