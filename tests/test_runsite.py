"""`manage.py runsite` (what `make run` starts): web server and worker share
one embedded Redis, and Ctrl-C stops all of it, Redis included."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis
import rq

from tests.test_embedded_redis import pid_alive

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(0.3)
    return False


def test_runsite_shares_one_redis_and_stops_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COLORSITE_VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    port = free_port()
    log = open(tmp_path / "runsite.log", "w+")
    proc = subprocess.Popen(manage + ["runsite", "--bind", f"127.0.0.1:{port}", "--web-workers", "1"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200)
        # As people will see it: DEBUG off, static files through whitenoise, the site's own 404 page.
        home = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        css = re.search(r'href="(/static/css/site\.[0-9a-f]+\.css)"', home).group(1)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}{css}", timeout=5).status == 200
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no/such/page/", timeout=5)
        except urllib.error.HTTPError as e:
            assert e.code == 404 and "Go to the home page" in e.read().decode()
        else:
            raise AssertionError("a missing page answered 200")
        output = (tmp_path / "runsite.log").read_text()
        url = re.search(r"Embedded Redis on (unix://\S+)", output).group(1)
        conn = redis.Redis.from_url(url)
        # The worker registered itself in the Redis the launcher started.
        assert wait_for(lambda: conn.scard("rq:workers") == 1), output
        # It serves the light re-render queue first, then colorization.
        (worker,) = rq.Worker.all(connection=conn)
        assert worker.queue_names() == ["render", "colorize"]
        server_pid = conn.info("server")["process_id"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0, (tmp_path / "runsite.log").read_text()
    assert not pid_alive(server_pid)
    assert not list(tmp_path.glob("redis-*.sock"))
