"""Throttle counts in production live in Redis (settings.CACHES with REDIS_URL): every web
process shares them, and a Redis outage lets requests through instead of failing them."""
import logging
import os
import subprocess
import sys
from pathlib import Path

from rest_framework.test import APIClient

from tests.test_api_auth import login

ROOT = Path(__file__).resolve().parent.parent


def redis_cache(location):
    # What colorsite.settings configures when REDIS_URL is set.
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location,
                        "KEY_PREFIX": "colorsite-cache", "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}


def test_login_attempts_count_across_web_processes(owner, settings, redis_conn):
    url = settings.RQ_QUEUES["colorize"]["URL"]  # the test Redis database, flushed around the test
    settings.CACHES = redis_cache(url)
    settings.API_LOGIN_RATE = "3/minute"
    assert [login(APIClient(), password="wrong").status_code for _ in range(3)] == [400, 400, 400]
    # Another web process, configured from the environment as production is, sees those three.
    code = ("import django; django.setup()\n"
            "from django.test import RequestFactory\n"
            "from gallery.throttles import LoginThrottle\n"
            "request = RequestFactory().post('/api/v1/auth/token/', REMOTE_ADDR='127.0.0.1')\n"
            "print(LoginThrottle().allow_request(request, None))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "colorsite.settings", "REDIS_URL": url,
           "API_LOGIN_RATE": "3/minute"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
    assert login(APIClient()).status_code == 429  # and this one still counts them


def test_with_the_throttle_cache_down_logins_go_through_and_a_warning_is_logged(owner, settings, caplog):
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    settings.API_LOGIN_RATE = "1/minute"
    with caplog.at_level(logging.WARNING, logger="gallery"):
        codes = [login(APIClient(), password="wrong").status_code for _ in range(2)]
        codes.append(login(APIClient()).status_code)
        anonymous = APIClient().get("/api/v1/photos/").status_code
    assert codes == [400, 400, 200] and anonymous == 401
    assert "Throttle login not applied: its cache is unreachable" in caplog.text
