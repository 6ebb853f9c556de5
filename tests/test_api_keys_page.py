"""The API keys page: make, name, see the last use of, and revoke keys; and
its quick start, whose curl and Python examples are run here, as shown,
against the live server and a real worker."""

import html
import io
import os
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from gallery.api.models import ApiToken, hash_key
from gallery.models import Photo
from tests.api_support import client_for, fresh_throttles  # noqa: F401
from tests.conftest import run_worker

URL = "/accounts/api-keys/"


def examples(page_html):
    found = re.findall(r'<code data-example="([\w-]+)">(.*?)</code>', page_html, re.S)
    return {name: html.unescape(code) for name, code in found}


def new_key(page_html):
    return re.search(r'id="new-key" class="key" value="([^"]+)"', page_html).group(1)


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_it_needs_a_login(client, db):
    r = client.get(URL)
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_the_account_page_links_to_it(logged_in):
    assert f'href="{URL}"' in logged_in.get("/accounts/").content.decode()


def test_with_no_keys_the_quick_start_shows_a_placeholder(logged_in):
    page = logged_in.get(URL).content.decode()
    assert "No keys yet." in page
    code = examples(page)
    assert set(code) == {"curl-upload", "curl-download", "python"}
    assert 'COLORSITE_KEY="YOUR_API_KEY"' in code["curl-upload"]
    assert "http://testserver/api/v1/photos/" in code["curl-upload"]


def test_a_new_key_is_shown_once_and_stored_hashed(logged_in, owner):
    r = logged_in.post(URL, {"name": "laptop script"})
    # Post/redirect/get: reloading the page that shows the key makes no other key.
    assert r.status_code == 302 and r["Location"] == URL
    page = logged_in.get(URL).content.decode()
    key = new_key(page)
    token = ApiToken.objects.get(user=owner)
    assert token.name == "laptop script" and token.key_hash == hash_key(key)
    assert f'COLORSITE_KEY="{key}"' in examples(page)["curl-upload"]
    assert f'"Token {key}"' in examples(page)["python"]
    # It works, and the page never shows it again.
    assert client_for(None).get("/api/v1/photos/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    again = logged_in.get(URL).content.decode()
    assert key not in again
    assert "laptop script" in again and f"{token.key_start}…" in again


def test_a_key_needs_a_name(logged_in):
    r = logged_in.post(URL, {"name": ""})
    assert r.status_code == 400
    assert "This field is required." in r.content.decode()
    assert not ApiToken.objects.exists()


def test_the_page_shows_when_each_key_was_last_used(logged_in, owner):
    used, _ = ApiToken.create(owner, "phone app")
    ApiToken.create(owner, "old laptop")
    ApiToken.objects.filter(pk=used.pk).update(last_used_at=timezone.now() - timedelta(hours=3))
    page = logged_in.get(URL).content.decode()
    rows = dict(re.findall(r"<tr>\s*<td>([^<]+)</td>(.*?)</tr>", page, re.S))
    assert "3\xa0hours ago" in rows["phone app"]
    assert "never" in rows["old laptop"]


def test_a_key_used_within_the_minute_was_used_just_now(logged_in, owner):
    used, _ = ApiToken.create(owner, "phone app")
    ApiToken.objects.filter(pk=used.pk).update(last_used_at=timezone.now())
    page = logged_in.get(URL).content.decode()
    assert "just now" in page and "0\xa0minutes" not in page


def test_reloading_after_making_a_key_makes_no_second_key(logged_in, owner):
    logged_in.post(URL, {"name": "laptop"}, follow=True)
    logged_in.get(URL)
    logged_in.get(URL)
    assert ApiToken.objects.filter(user=owner).count() == 1


def test_revoking_a_key_stops_it(logged_in, owner):
    laptop, laptop_key = ApiToken.create(owner, "laptop")
    _, phone_key = ApiToken.create(owner, "phone")
    r = logged_in.post(f"{URL}{laptop.pk}/revoke")
    assert r.status_code == 302 and r["Location"] == URL
    assert "Revoked the key “laptop”" in logged_in.get(URL).content.decode()
    anonymous = client_for(None)
    assert anonymous.get("/api/v1/photos/", HTTP_AUTHORIZATION=f"Token {laptop_key}").status_code == 401
    assert anonymous.get("/api/v1/photos/", HTTP_AUTHORIZATION=f"Token {phone_key}").status_code == 200


def test_revoke_is_a_post(logged_in, owner):
    token, _ = ApiToken.create(owner, "laptop")
    assert logged_in.get(f"{URL}{token.pk}/revoke").status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_it_validates_ownership(client, owner, stranger):
    mine, _ = ApiToken.create(owner, "mine")
    client.force_login(stranger)
    assert "mine" not in client.get(URL).content.decode()
    r = client.post(f"{URL}{mine.pk}/revoke")
    assert r.status_code == 404
    assert ApiToken.objects.filter(pk=mine.pk).exists()


# -- the quick start, run as shown -------------------------------------------


@pytest.fixture
def quick_start(live_server, transactional_db, redis_conn, tiny_model, client, owner, tmp_path):
    """The quick start as a person sees it right after making a key, with
    the live server's address, and a photo.jpg beside it."""
    client.force_login(owner)
    host = live_server.url.removeprefix("http://")
    page = client.post(URL, {"name": "quick start"}, HTTP_HOST=host, follow=True).content.decode()
    Image.linear_gradient("L").resize((120, 90)).save(tmp_path / "photo.jpg", "JPEG")
    return examples(page), new_key(page), tmp_path


def run_shell(script, cwd, **env):
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_curl_examples_work_as_shown(quick_start, live_server):
    import json

    code, key, folder = quick_start
    assert live_server.url in code["curl-upload"]
    photo = json.loads(run_shell(code["curl-upload"], folder))
    assert photo["status"] == "queued"

    run_worker()
    out = run_shell(code["curl-download"], folder, COLORSITE_KEY=key, PHOTO_ID=str(photo["id"]))
    assert json.loads(out)["status"] == "done"
    with Image.open(folder / "photo-color.png") as result:
        assert result.format == "PNG" and result.size == (120, 90) and result.mode == "RGB"


def test_the_python_example_works_as_shown(quick_start):
    code, _, folder = quick_start
    script = subprocess.Popen(
        [sys.executable, "-c", code["python"]], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # The example polls until done; this process is its worker meanwhile.
    deadline = time.monotonic() + 90
    while script.poll() is None and time.monotonic() < deadline:
        run_worker()
        time.sleep(0.2)
    if script.poll() is None:
        script.kill()
    out, err = script.communicate()
    assert script.returncode == 0, err
    assert out.strip() == "Saved photo-color.png"
    assert Photo.objects.get().status == Photo.DONE
    with Image.open(io.BytesIO((folder / "photo-color.png").read_bytes())) as result:
        assert result.size == (120, 90)


def test_the_quick_start_sends_no_setting_that_overrides_the_models(logged_in):
    page = html.unescape(logged_in.get("/accounts/api-keys/").content.decode())
    for setting in ("temperature", "vividness"):
        assert f'"{setting}"' not in page and f"{setting}=" not in page
