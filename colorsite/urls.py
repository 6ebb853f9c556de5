from django.contrib import admin
from django.urls import include, path

from inference import ops
from gallery.api import urls as api_urls

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
    # The REST API: /api/v1/, its schema /api/schema/ and docs /api/docs/.
    path("api/", include(api_urls)),
    path("", include("gallery.urls")),
    path("", include("study.urls")),
    path("admin/", admin.site.urls),
    path("admin/rq/", include("django_rq.urls")),
]
