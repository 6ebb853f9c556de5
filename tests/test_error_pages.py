"""Error pages: the site's own, in its style, never Django's debug page."""

import io
import logging

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path
from django.views import defaults

from gallery.models import Gallery, Photo


def test_a_missing_page_gets_the_sites_own_404_page(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and "site.css" in html
    assert "URLconf" not in html and "Traceback" not in html


def test_a_turned_off_share_link_gets_the_404_page(client, owner, media_root):
    from tests.conftest import upload_file
    from gallery.forms import check_image
    from gallery.photos import create_photo

    photo = create_photo(Gallery.default_for(owner), check_image(upload_file()))
    photo.share()
    token = photo.share_token
    photo.unshare()
    response = client.get(f"/s/{token}/")
    assert response.status_code == 404
    assert "turns it off" in response.content.decode()
    assert Photo.objects.filter(pk=photo.pk).exists()


def test_a_server_error_page_needs_neither_the_database_nor_a_context():
    # Django renders 500.html with an empty context: it must still look like the site.
    response = defaults.server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "Colorsite" in html and "site.css" in html


def test_a_form_posted_without_its_csrf_token_explains_itself(db):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


@pytest.mark.parametrize("code, text", [(400, "did not make sense"), (403, "cannot do that"),
                                        (429, "Too many requests")])
def test_every_error_page_is_in_the_sites_style(code, text):
    from django.template.loader import render_to_string

    html = render_to_string(f"{code}.html")
    assert text in html and "site.css" in html and f"Error {code}" in html



def crash(request):
    raise RuntimeError("a bug in a view")


# The site's own URLs (its 500 page links home) and one view that fails.
urlpatterns = [path("crash/", crash), path("", include("colorsite.urls"))]


def test_a_server_error_with_debug_off_logs_its_traceback(db):
    console = logging.getLogger("django").handlers[0]  # what settings.LOGGING gives Django's logger
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
            response = Client(raise_request_exception=False).get("/crash/")
    finally:
        console.setStream(previous)
    assert response.status_code == 500
    logged = stream.getvalue()
    assert "Internal Server Error: /crash/" in logged
    assert "Traceback" in logged and 'RuntimeError: a bug in a view' in logged
