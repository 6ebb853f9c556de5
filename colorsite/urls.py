from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("gallery.urls")),
    # The REST API lives under /api/v1/ (gallery/api/, added separately).
    path("admin/", admin.site.urls),
    path("admin/rq/", include("django_rq.urls")),
]
