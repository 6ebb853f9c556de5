"""
Production hardening: `check --deploy` is clean with production settings,
security headers are sent, every form carries a CSRF token and every POST
without one is refused, logins are throttled on the site as in the API, and
weak passwords are refused.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.test_isolation import url_formats

ROOT = Path(__file__).resolve().parent.parent


def production_env(tiny_model_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(
        DJANGO_SETTINGS_MODULE="colorsite.settings", DEBUG="False", SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="colors.example.com", REDIS_URL=env.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        COLORIZER_MODEL=tiny_model_path, **extra,
    )
    return env


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """Production pages name their CSS through the collected manifest: collect it once, as a
    deployment does (a fresh checkout has no staticfiles/ folder)."""
    root = tmp_path_factory.mktemp("static")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "colorsite.settings", "STATIC_ROOT": str(root)}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True, timeout=120)
    return str(root)


def run_python(code, env):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tiny_model_path):
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(tiny_model_path), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_check_deploy_fails_without_the_hardening(tiny_model_path):
    # The test above can fail: turning HSTS off is reported.
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(tiny_model_path, SECURE_HSTS_SECONDS="0"), capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "security.W004" in proc.stderr


PRODUCTION_REQUESTS = """
import django, json
django.setup()
from django.test import Client
c = Client()
plain = c.get("/accounts/login/", HTTP_HOST="colors.example.com")
tls = c.get("/accounts/login/", HTTP_HOST="colors.example.com", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "tls": [tls.status_code, dict(tls.headers), {k: dict(v) for k, v in tls.cookies.items()}],
}))
"""


def test_production_pages_send_security_headers_and_secure_cookies(tiny_model_path, static_root):
    import json

    proc = run_python(PRODUCTION_REQUESTS, production_env(tiny_model_path, STATIC_ROOT=static_root))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["plain"] == [301, "https://colors.example.com/accounts/login/"]
    status, headers, cookies = out["tls"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert cookies["csrftoken"]["secure"] is True


def test_behind_a_proxy_https_is_read_from_x_forwarded_proto(tiny_model_path, static_root):
    code = PRODUCTION_REQUESTS.replace('secure=True', 'HTTP_X_FORWARDED_PROTO="https"')
    proc = run_python(code, production_env(tiny_model_path, NUM_PROXIES="1", STATIC_ROOT=static_root))
    assert proc.returncode == 0, proc.stderr
    import json

    assert json.loads(proc.stdout.strip().splitlines()[-1])["tls"][0] == 200


# -- CSRF ---------------------------------------------------------------------

FORM = re.compile(rb"<form\b[^>]*>.*?</form>", re.S | re.I)


def site_pages(owner):
    """Every parameterless page of the site, and the pages of one gallery and photo."""
    from gallery.models import Gallery

    pages = ["/" + fmt for fmt, params in url_formats() if not params and not fmt.startswith(("api/", "admin/"))]
    return pages + [Gallery.default_for(owner).get_absolute_url()]


def test_every_form_on_every_page_carries_a_csrf_token(client, owner, stranger):
    checked = 0
    for who in (None, owner):
        if who:
            client.force_login(who)
        for url in site_pages(owner):
            r = client.get(url)
            if r.status_code != 200 or not r["Content-Type"].startswith("text/html"):
                continue
            for form in FORM.findall(r.content):
                if re.search(rb'method="?post', form, re.I):
                    assert b'name="csrfmiddlewaretoken"' in form, (url, form[:200])
                    checked += 1
    assert checked >= 10


def test_every_post_without_a_csrf_token_is_refused(owner, redis_conn):
    """Logged in with a session, as a forged cross-site form would be: 403
    everywhere, the API included (session auth there checks CSRF too)."""
    from gallery.models import Gallery

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    gallery = Gallery.default_for(owner)
    posts = 0
    for fmt, params in url_formats():
        if fmt.startswith("admin/") or fmt in ("api/", "api/v1/auth/token/"):
            continue  # Django's own admin; the JSON 404 catch-all; token login has no session
        url = "/" + fmt % {p: gallery.pk if p == "pk" else "x" for p in params}
        r = client.post(url, {"name": "forged"})
        if r.status_code in (404, 405):
            continue  # not a POST endpoint, or "x" named nothing
        assert r.status_code == 403, (url, r.status_code)
        posts += 1
    assert posts >= 10
    assert Gallery.objects.get(pk=gallery.pk).name != "forged"


# -- logins and passwords -------------------------------------------------------


def test_site_logins_are_throttled_per_address(client, owner, settings):
    settings.API_LOGIN_RATE = "5/minute"
    for _ in range(5):
        r = client.post("/accounts/login/", {"username": "alice", "password": "wrong guess"})
        assert r.status_code == 200 and b"enter a correct username and password" in r.content
    r = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 60
    assert b"Too many login attempts" in r.content
    assert "_auth_user_id" not in client.session
    # The API's token login shares the budget: no going round through it.
    r = client.post("/api/v1/auth/token/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 429
    # Another address is not held back.
    r = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"},
                    REMOTE_ADDR="198.51.100.7")
    assert r.status_code == 302


@pytest.mark.parametrize("password,reason", [
    ("short1", b"too short"),
    ("password123", b"too common"),
    ("83659274018", b"entirely numeric"),
    ("newcomer-newcomer", b"too similar"),
])
def test_sign_up_refuses_weak_passwords(client, db, password, reason):
    r = client.post("/accounts/signup/", {
        "username": "newcomer-newcomer", "email": "new@example.com", "password1": password, "password2": password,
    })
    assert r.status_code == 200 and reason in r.content
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="newcomer-newcomer").exists()


# -- Content-Security-Policy: the site's own scripts only ---------------------------------

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "templates", ROOT / "gallery", ROOT / "study"]


def test_every_answer_carries_a_policy_that_allows_only_the_sites_own_scripts(client, owner):
    client.force_login(owner)
    for url in ("/", "/galleries/", "/accounts/login/", "/api/v1/photos/", "/no-such-page/"):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"


def test_no_template_holds_an_inline_script_or_event_handler():
    # The policy would block them: every script is a file under /static/.
    found = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text()
            found += [f"{path}: {tag}" for tag in re.findall(r"<script\b[^>]*>", text) if "src=" not in tag]
            found += [f"{path}: {attr}" for attr in re.findall(r"\son[a-z]+\s*=", text)]
            found += [f"{path}: {url}" for url in re.findall(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", text, re.I)]
    assert found == []


def test_the_api_docs_page_loads_its_start_up_script_from_a_file(client, db):
    page = client.get("/api/docs/").content.decode()
    tags = re.findall(r"<script\b[^>]*>", page)
    assert tags and all("src=" in tag for tag in tags), tags
