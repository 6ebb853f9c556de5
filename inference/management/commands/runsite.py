"""
Start the whole product on one machine: the web server (gunicorn) and one or
more `rqworker render colorize` processes (re-renders first, then
colorization), stopped together on Ctrl-C.

Without REDIS_URL, this command starts the embedded Redis itself and passes
its socket to every child as REDIS_URL=unix://..., so that the web server
and the workers talk to the same server; it stops that server after the
children have exited. This is what `make run` runs.

The site runs as people will see it (DEBUG off, static files through
whitenoise, collected first). On a loopback address there is no TLS in
front, so unless the environment says otherwise the children are told to
serve plain HTTP: no HTTPS redirect, no HSTS, cookies without `Secure`.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from inference import embedded_redis

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# For a site on loopback only: production's HTTPS settings would redirect
# every request to an https:// nobody serves.
PLAIN_HTTP_ENV = {"SECURE_SSL_REDIRECT": "False", "SECURE_COOKIES": "False", "SECURE_HSTS_SECONDS": "0"}

# How long children get to finish their current request or job after the
# stop signal before they are killed.
STOP_GRACE_SECONDS = 15
# In the order a worker serves them: a re-render (well under a second) never
# waits behind a gallery's worth of uploads.
WORKER_QUEUES = ("render", "colorize")


# The web server, as the README's production layout runs it too (a test holds them equal).
# gthread: each process serves WEB_THREADS requests at once, and its timeout watches the
# process (a worker that stopped answering its arbiter), not the request. A gallery ZIP read
# slowly for minutes is never killed half-way, as sync workers killed every download still
# running at 30 s. Slow readers still hold a thread each: in production a buffering proxy
# (nginx) reads the response at once and feeds the client itself (README).
WEB_THREADS = 4
WEB_TIMEOUT = 120


def web_command(bind, web_workers, timeout=WEB_TIMEOUT):
    """gunicorn's command line (after `python -m`, or as a program) for the web server."""
    return ["gunicorn", "colorsite.wsgi", "--bind", bind, "--workers", str(web_workers),
            "--worker-class", "gthread", "--threads", str(WEB_THREADS), "--timeout", str(timeout),
            "--graceful-timeout", str(STOP_GRACE_SECONDS)]


class Command(BaseCommand):
    help = "Run the web server and colorize workers together (Ctrl-C stops both)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port for the web server")
        parser.add_argument("--workers", type=int, default=1, help="number of colorize worker processes")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")

    def handle(self, *args, bind, workers, web_workers, **options):
        env = os.environ.copy()
        if not settings.REDIS_URL:
            env["REDIS_URL"] = embedded_redis.server_url(settings.VAR_DIR, 0)
            self.stdout.write(f"Embedded Redis on {env['REDIS_URL']}")

        if bind.rsplit(":", 1)[0] in LOOPBACK_HOSTS:
            for name, value in PLAIN_HTTP_ENV.items():
                env.setdefault(name, value)
            env.setdefault("SITE_ROOT", f"http://{bind}")  # links in mails: the port actually used
        call_command("collectstatic", interactive=False, verbosity=0)

        manage = str(settings.BASE_DIR / "manage.py")
        commands = [[sys.executable, "-m", *web_command(bind, web_workers), "--access-logfile", "-"]]
        commands += [[sys.executable, manage, "rqworker", *WORKER_QUEUES] for _ in range(workers)]

        # SIGTERM (from a process manager) stops us the same way Ctrl-C does;
        # SIGINT is set explicitly because a shell starting us in the
        # background hands it down ignored.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        children = [subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for cmd in commands]
        self.stdout.write(f"Colorsite is running on http://{bind}/ (Ctrl-C to stop)")
        rc = 0
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            rc = 1
            self.stderr.write("A child process exited; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(children)
            embedded_redis.stop_server()
        if rc:
            sys.exit(rc)

    def _stop(self, children):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
