"""Settings for the test suite: colorsite.settings with fast, isolated parts."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# The suite runs against PostgreSQL too (.ci/run), where colorsite.settings
# wants a SECRET_KEY, as production does.
os.environ.setdefault("SECRET_KEY", "colorsite-tests-" + "k" * 50)

from inference.embedded_redis import EmbeddedRedisConfig  # noqa: E402
from colorsite.settings import *  # noqa: E402, F403
from colorsite.settings import REDIS_URL, RQ_QUEUES, VAR_DIR, with_redis_timeouts  # noqa: E402

# The product defaults to production's settings (DEBUG off, HTTPS only);
# the test client and the live server speak plain HTTP on loopback.
DEBUG = False
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Workers run inside the test process too: it keeps its priority.
COLORIZE_WORKER_NICE = 0

# Throttle counts per test process, cleared around each test (conftest); the
# shared Redis cache of production is tested in tests/test_shared_throttles.py.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No collectstatic before tests: serve from the app and project folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MEDIA_ROOT = tempfile.mkdtemp(prefix="colorsite-test-media-")
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
STATIC_ROOT = tempfile.mkdtemp(prefix="colorsite-test-static-")
atexit.register(shutil.rmtree, STATIC_ROOT, ignore_errors=True)

# A file, not SQLite's default in-memory test database, so that the live
# server's threads and the worker each have their own connection, with the
# same locking as in production.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    _test_db_dir = tempfile.mkdtemp(prefix="colorsite-test-db-")
    atexit.register(shutil.rmtree, _test_db_dir, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_test_db_dir, "test.sqlite3")}  # noqa: F405

# Tests flush the Redis database they use, so they get one of their own:
# database 15 of REDIS_URL's server, or of this process's embedded server.
TEST_REDIS_DB = 15


def with_db(url, db):
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return urlunsplit(parts._replace(query=urlencode(query)))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
    return urlunsplit(parts._replace(path=f"/{db}", query=urlencode(query)))


if REDIS_URL:
    RQ_QUEUES["colorize"]["URL"] = with_db(with_redis_timeouts(REDIS_URL), TEST_REDIS_DB)
else:
    RQ_QUEUES["colorize"] = EmbeddedRedisConfig(VAR_DIR, db=TEST_REDIS_DB, with_options=with_redis_timeouts)
    RQ_QUEUES["colorize"]["DEFAULT_TIMEOUT"] = COLORIZE_JOB_TIMEOUT  # noqa: F405
# Every queue on the test database: a worker takes one connection for all its queues.
for _name in RQ_QUEUES:
    RQ_QUEUES[_name] = RQ_QUEUES["colorize"]

# What commands write under var/ during the tests (the evaluate command's classifier graph,
# 24 MB, even with --no-cache) goes to the test run's own folder, never into the checkout. The
# embedded Redis above keeps the checkout's var/: one server per checkout.
VAR_DIR = Path(tempfile.mkdtemp(prefix="colorsite-test-var-"))
atexit.register(shutil.rmtree, VAR_DIR, ignore_errors=True)
