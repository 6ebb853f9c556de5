"""Photo pages and files: the owner gets them, everyone else a 404 (or the
login page when not logged in), except through a share link."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from gallery.models import Photo
from tests.conftest import run_worker
from tests.test_jobs import new_photo


@pytest.fixture
def done_photo(owner, redis_conn, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner, "Grandpa 1931.png", size=(90, 70), mode="LA")
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    return photo


def without_csrf(html):
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)


def photo_urls(p):
    return [
        f"/photos/{p.pk}/", f"/photos/{p.pk}/original",
        f"/photos/{p.pk}/download", f"/photos/{p.pk}/download?format=jpeg&quality=80",
        f"/photos/{p.pk}/before.jpg", f"/photos/{p.pk}/after.jpg", f"/photos/{p.pk}/thumbnail.jpg",
    ]


def post_urls(p):
    return [f"/photos/{p.pk}/retry", f"/photos/{p.pk}/delete", f"/photos/{p.pk}/share"]


def test_the_owner_can_open_everything(client, owner, done_photo):
    client.force_login(owner)
    for url in photo_urls(done_photo):
        r = client.get(url)
        assert r.status_code == 200, url
        if not url.endswith("/"):
            assert r["X-Content-Type-Options"] == "nosniff"


def test_it_validates_ownership(client, stranger, done_photo):
    client.force_login(stranger)
    missing = Photo.objects.order_by("-pk").first().pk + 100
    for url in photo_urls(done_photo):
        r = client.get(url)
        assert r.status_code == 404, url
        # Exactly like a photo that does not exist.
        other = client.get(url.replace(f"/{done_photo.pk}/", f"/{missing}/"))
        assert without_csrf(r.content) == without_csrf(other.content)
    for url in post_urls(done_photo):
        assert client.post(url, {"share": "on", "vividness": "50"}).status_code == 404, url
    done_photo.refresh_from_db()
    assert done_photo.share_token is None and done_photo.render_count == 1


def test_anonymous_visitors_are_sent_to_log_in(client, done_photo):
    for url in photo_urls(done_photo) + post_urls(done_photo):
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith("/accounts/login/"), url


def test_the_photo_page_shows_the_comparison_and_controls(client, owner, done_photo):
    client.force_login(owner)
    html = client.get(f"/photos/{done_photo.pk}/").content.decode()
    assert 'id="compare-range"' in html and 'type="range"' in html
    assert 'alt="Grandpa 1931, in color"' in html and 'alt="Grandpa 1931, original"' in html
    assert '<label for="vividness">Vividness</label>' in html
    assert done_photo.model_version in html


def test_png_download_is_full_size_with_its_alpha(client, owner, done_photo):
    client.force_login(owner)
    r = client.get(f"/photos/{done_photo.pk}/download")
    assert r["Content-Disposition"] == 'attachment; filename="Grandpa 1931-color.png"'
    img = Image.open(io.BytesIO(b"".join(r.streaming_content)))
    assert img.format == "PNG" and img.size == (90, 70) and img.mode == "RGBA"


def test_jpeg_download_honours_the_quality(client, owner, done_photo):
    client.force_login(owner)
    small = client.get(f"/photos/{done_photo.pk}/download?format=jpeg&quality=10")
    large = client.get(f"/photos/{done_photo.pk}/download?format=jpeg&quality=100")
    assert small["Content-Type"] == "image/jpeg"
    assert small["Content-Disposition"] == 'attachment; filename="Grandpa 1931-color.jpg"'
    small, large = small.getvalue(), large.getvalue()  # files, streamed once
    assert len(small) < len(large)
    assert Image.open(io.BytesIO(large)).size == (90, 70)
    assert client.get(f"/photos/{done_photo.pk}/download?format=jpeg&quality=0").status_code == 400
    assert client.get(f"/photos/{done_photo.pk}/download?format=gif").status_code == 400


def test_a_jpeg_download_is_made_once_kept_beside_the_result_and_gone_with_it(
    client, owner, done_photo, monkeypatch, django_capture_on_commit_callbacks
):
    from gallery import photos

    made = []
    encode = photos._encode_result_jpeg
    monkeypatch.setattr(photos, "_encode_result_jpeg", lambda *args: made.append(args) or encode(*args))
    client.force_login(owner)
    url = f"/photos/{done_photo.pk}/download?format=jpeg&quality=80"
    first, again = client.get(url).getvalue(), client.get(url).getvalue()
    assert first == again and len(made) == 1
    kept = done_photo.result.name.replace(".png", ".q80.jpg")
    assert default_storage.open(kept).read() == first

    with django_capture_on_commit_callbacks(execute=True):
        done_photo.request_render(vividness=20)
    run_worker()
    done_photo.refresh_from_db()
    assert not default_storage.exists(kept)  # the re-render's result has JPEGs of its own
    assert client.get(url).getvalue() != first and len(made) == 2


def test_the_default_quality_and_one_other_are_kept_per_result(client, owner, done_photo):
    from gallery.models import result_downloads
    from gallery.photos import JPEG_QUALITY_DEFAULT

    client.force_login(owner)
    for quality in (JPEG_QUALITY_DEFAULT, 50, 60, 70):
        assert client.get(f"/photos/{done_photo.pk}/download?format=jpeg&quality={quality}").status_code == 200
    stem = done_photo.result.name[: -len(".png")]
    assert sorted(result_downloads(done_photo.result.name)) == sorted(
        [f"{stem}.q{JPEG_QUALITY_DEFAULT}.jpg", f"{stem}.q70.jpg"])


def test_an_owner_who_keeps_all_metadata_has_jpegs_of_their_own_and_a_share_link_never_gets_them(
    client, owner, done_photo
):
    from gallery.models import result_downloads
    from gallery.photos import JPEG_QUALITY_DEFAULT

    client.force_login(owner)
    default = client.get(f"/photos/{done_photo.pk}/download?format=jpeg").getvalue()
    client.post("/accounts/", {"keep_photo_metadata": "on"})
    for quality in (JPEG_QUALITY_DEFAULT, 50, 60):
        assert client.get(f"/photos/{done_photo.pk}/download?format=jpeg&quality={quality}").status_code == 200
    full = client.get(f"/photos/{done_photo.pk}/download?format=jpeg").getvalue()
    assert b"Grandpa 1931" in full and b"Grandpa 1931" not in default  # the original's name: the owner's
    stem = done_photo.result.name[: -len(".png")]
    assert sorted(result_downloads(done_photo.result.name)) == sorted(
        [f"{stem}.q{JPEG_QUALITY_DEFAULT}.jpg", f"{stem}.q{JPEG_QUALITY_DEFAULT}-full.jpg", f"{stem}.q60-full.jpg"])
    done_photo.share()
    assert client.get(f"/s/{done_photo.share_token}/download?format=jpeg").getvalue() == default


def test_the_original_downloads_byte_for_byte(client, owner, done_photo):
    client.force_login(owner)
    r = client.get(f"/photos/{done_photo.pk}/original")
    assert b"".join(r.streaming_content) == default_storage.open(done_photo.original.name).read()
    assert r["Content-Disposition"] == 'attachment; filename="Grandpa 1931.png"'


def test_a_queued_photo_has_no_result_yet(client, owner, redis_conn):
    photo = new_photo(owner)
    client.force_login(owner)
    assert client.get(f"/photos/{photo.pk}/download").status_code == 404
    assert client.get(f"/photos/{photo.pk}/after.jpg").status_code == 404


def test_retry_queues_a_failed_photo(client, owner, redis_conn, django_capture_on_commit_callbacks):
    photo = new_photo(owner)
    Photo.objects.filter(pk=photo.pk).update(status=Photo.FAILED, error="boom", attempts=3)
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/photos/{photo.pk}/retry")
    assert r.status_code == 302
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED and photo.attempts == 0 and photo.enqueued_at is not None


def test_delete_removes_the_row_and_files(client, owner, done_photo, django_capture_on_commit_callbacks):
    client.force_login(owner)
    names = [done_photo.original.name, done_photo.result.name, done_photo.prediction.name, done_photo.before.name]
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/photos/{done_photo.pk}/delete")
    assert r.status_code == 302 and r.url == f"/galleries/{done_photo.gallery_id}/"
    assert not Photo.objects.exists()
    assert not any(default_storage.exists(n) for n in names)


def test_sharing_on_and_off(client, owner, stranger, done_photo):
    client.force_login(owner)
    client.post(f"/photos/{done_photo.pk}/share", {"share": "on"})
    done_photo.refresh_from_db()
    token = done_photo.share_token
    assert token and len(token) >= 32
    client.force_login(stranger)
    for url in [f"/s/{token}/", f"/s/{token}/before.jpg", f"/s/{token}/after.jpg", f"/s/{token}/download"]:
        assert client.get(url).status_code == 200, url
    client.logout()
    page = client.get(f"/s/{token}/").content.decode()
    assert "Vividness" not in page and "Delete photo" not in page and "/original" not in page
    assert client.get(f"/s/{token}/download?format=jpeg").status_code == 200

    client.force_login(owner)
    client.post(f"/photos/{done_photo.pk}/share", {"share": "off"})
    client.logout()
    for url in [f"/s/{token}/", f"/s/{token}/after.jpg", f"/s/{token}/download"]:
        assert client.get(url).status_code == 404, url

    # Sharing again makes a new link; the old one stays dead.
    client.force_login(owner)
    client.post(f"/photos/{done_photo.pk}/share", {"share": "on"})
    done_photo.refresh_from_db()
    assert done_photo.share_token != token
    assert client.get(f"/s/{token}/").status_code == 404


def test_a_made_up_token_is_a_404(client, db):
    assert client.get("/s/not-a-real-token/").status_code == 404


def test_files_can_be_handed_to_nginx(client, owner, done_photo, settings):
    settings.SENDFILE_MODE = "nginx"
    client.force_login(owner)
    # The stored result carries what the owner's downloads carry by default: served as it is.
    r = client.get(f"/photos/{done_photo.pk}/download")
    assert r["X-Accel-Redirect"] == "/protected/" + done_photo.result.name
    assert r["Content-Disposition"] == 'attachment; filename="Grandpa 1931-color.png"'
    assert r.content == b""


def test_a_share_links_download_is_handed_to_nginx_too(client, owner, done_photo, settings):
    settings.SENDFILE_MODE = "nginx"
    done_photo.share()
    r = client.get(f"/s/{done_photo.share_token}/download")
    assert r["X-Accel-Redirect"] == "/protected/" + done_photo.result.name
    assert r["Content-Disposition"] == 'attachment; filename="colorized-photo.png"'


def test_an_owner_who_keeps_all_metadata_gets_it_streamed_not_handed_off(client, owner, done_photo, settings):
    # Their downloads say more than the stored file: its metadata is rewritten on the way out.
    settings.SENDFILE_MODE = "nginx"
    client.force_login(owner)
    client.post("/accounts/", {"keep_photo_metadata": "on"})
    r = client.get(f"/photos/{done_photo.pk}/download")
    assert "X-Accel-Redirect" not in r and r.streaming
    assert Image.open(io.BytesIO(b"".join(r.streaming_content))).info["colorsite:source"] == "Grandpa 1931.png"


def shared(client, owner, photo):
    client.force_login(owner)
    client.post(f"/photos/{photo.pk}/share", {"share": "on"})
    client.logout()
    photo.refresh_from_db()
    return photo.share_token


def test_nothing_a_share_link_shows_may_be_kept_in_a_cache(client, owner, done_photo):
    token = shared(client, owner, done_photo)
    for url in [f"/s/{token}/", f"/s/{token}/before.jpg", f"/s/{token}/after.jpg", f"/s/{token}/thumbnail.jpg",
                f"/s/{token}/download", f"/s/{token}/download?format=jpeg&quality=90"]:
        r = client.get(url)
        assert r.status_code == 200 and r["Cache-Control"] == "no-store", url
    client.force_login(owner)  # the owner's own copies may stay in their browser a while
    assert client.get(f"/photos/{done_photo.pk}/after.jpg")["Cache-Control"] == "private, max-age=3600"


def test_anonymous_jpeg_reencodes_of_a_shared_photo_are_throttled_per_address(client, owner, done_photo, settings):
    settings.SHARED_REENCODE_RATE = "2/minute"
    token = shared(client, owner, done_photo)
    url = f"/s/{token}/download?format=jpeg&quality=100"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert client.get(url, REMOTE_ADDR="10.0.0.9").status_code == 200  # another address has its own
    assert client.get(f"/s/{token}/download").status_code == 200  # the stored PNG costs nothing
