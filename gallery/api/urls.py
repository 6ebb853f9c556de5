"""URLs of the API, under /api/ (included from colorsite/urls.py)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from gallery.api import views

router = SimpleRouter()
router.register("galleries", views.GalleryViewSet, basename="api-gallery")
router.register("photos", views.PhotoViewSet, basename="api-photo")

v1 = [
    path("auth/token/", views.token_login, name="api-token-login"),
    *router.urls,
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script, as the CSP wants.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: anything else under /api/ is a JSON 404, not the site's HTML page.
    re_path(r"^", views.not_found),
]
