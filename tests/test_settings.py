"""colorsite.settings reads the environment and refuses bad values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from colorsite.settings import envbool, envint

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env):
    """Import colorsite.settings in a fresh interpreter; return (rc, output)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL")}
    clean.update(env)
    code = (
        "import colorsite.settings as s; "
        "print(s.DATABASES['default']['ENGINE']); "
        "print(dict.get(s.RQ_QUEUES['colorize'], 'URL')); "
        "from inference import embedded_redis; print(embedded_redis._server is None); "
        "print(s.CACHES['default']['BACKEND'] if hasattr(s, 'CACHES') else 'locmem default', "
        "s.CACHES['default'].get('LOCATION') if hasattr(s, 'CACHES') else '')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def test_envbool_accepts_only_true_and_false(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "False")
    assert envbool("SOME_FLAG", "True") is False
    monkeypatch.setenv("SOME_FLAG", "yes")
    with pytest.raises(ImproperlyConfigured):
        envbool("SOME_FLAG", "True")


def test_envint_rejects_garbage(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "12")
    assert envint("SOME_NUMBER", "1") == 12
    monkeypatch.setenv("SOME_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured):
        envint("SOME_NUMBER", "1")


def test_debug_is_off_unless_asked_for(tmp_path):
    code = "import colorsite.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)"
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS")}
    env["COLORSITE_VAR_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.stdout.strip() == "False ['localhost', '127.0.0.1', '[::1]']", proc.stderr


def test_a_local_run_makes_its_secret_key_once_and_keeps_it_in_var(tmp_path):
    code = "import colorsite.settings as s; print(s.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL")}
    env["COLORSITE_VAR_DIR"] = str(tmp_path)
    keys = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True).stdout
            for _ in range(2)]
    assert keys[0] == keys[1] and len(keys[0].strip()) >= 50
    assert (tmp_path / "secret_key").read_text() == keys[0].strip()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_it_requires_secret_key_with_a_shared_database():
    rc, out = load_settings(DATABASE_URL="postgres://u@db.example:5432/x")
    assert rc != 0
    assert "SECRET_KEY must be set" in out


def test_it_defaults_to_sqlite_without_starting_redis():
    rc, out = load_settings()
    assert rc == 0, out
    # The embedded Redis starts when first used, not when settings load:
    # the stored URL is a placeholder until someone reads it.
    assert out.splitlines()[:4] == ["django.db.backends.sqlite3", "None", "True", "locmem default "]


def test_it_uses_postgres_and_redis_servers_from_the_environment():
    rc, out = load_settings(DATABASE_URL="postgres://u@db.example:5432/x", REDIS_URL="redis://cache.example:6379/2",
                            SECRET_KEY="k" * 50)
    assert rc == 0, out
    # With a connect and a read timeout, as every Redis connection has (REDIS_TIMEOUTS).
    assert out.splitlines()[:2] == ["django.db.backends.postgresql",
                                    "redis://cache.example:6379/2?socket_connect_timeout=2&socket_timeout=2"]
    # Throttle counts are shared by every web process through the same Redis.
    assert out.splitlines()[3] == "django.core.cache.backends.redis.RedisCache redis://cache.example:6379/2"


def test_reading_the_queue_url_starts_the_embedded_server(tmp_path):
    code = (
        "import colorsite.settings as s, redis; url = s.RQ_QUEUES['colorize']['URL']; "
        "print(url.startswith('unix://'), redis.Redis.from_url(url).ping())"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COLORSITE_VAR_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.stdout.split() == ["True", "True"], proc.stderr
