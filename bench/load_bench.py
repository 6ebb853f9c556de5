"""Load benchmark: the production layout on loopback, under 50 concurrent API clients.

    python bench/load_bench.py [--duration 60] [--clients 50] [--workers 1] [--model PATH]

Starts gunicorn (production settings: DEBUG off) and N CPU `rqworker
colorize` processes against PostgreSQL (127.0.0.1:5432, database
colorsite_bench, created if missing and migrated) and Redis
(redis://127.0.0.1:6379/14, flushed; refused if it holds anything but RQ's
keys). Then for --duration seconds each client uploads a 512-pixel
black-and-white photo through POST /api/v1/photos/ and polls
GET /api/v1/photos/{id}/ until it is done, again and again. Uploading stops
at --duration (or --max-uploads); the run then waits for every accepted
photo to finish (at most --drain seconds).

Prints uploads accepted per second, status-poll latency p50/p95/p99 (as the
clients see it, and inside gunicorn), photos
colorized per minute per worker (from the jobs' own start and end times,
and over the wall clock), errors (any non-2xx answer, exception or failed
photo: must be 0), and whether every accepted photo finished.

Loopback only, bounded in time and count. --model defaults to
$COLORIZER_MODEL, else the shipped mlcore/weights/default.pt, else a tiny
random-weight model (mlcore.testing.make_tiny_model) that only measures the
site around the network.
"""

import argparse
import io
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHOTO_SIZE = 512
MAX_DURATION = 600
MAX_UPLOADS_CAP = 20000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_photos(n=8):
    """A few 512x384 gray photos (noise over a gradient: JPEG cannot shrink them to nothing)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    photos = []
    for i in range(n):
        y, x = np.mgrid[0:384, 0:PHOTO_SIZE]
        pixels = (x * 0.3 + y * 0.2 + i * 17 + rng.normal(0, 12, x.shape)).clip(0, 255).astype("uint8")
        buf = io.BytesIO()
        Image.fromarray(pixels, "L").save(buf, "JPEG", quality=90)
        photos.append(buf.getvalue())
    return photos


def prepare_database(pg, name):
    import psycopg2

    host, port = pg.split(":")
    conn = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"postgres://postgres@{host}:{port}/{name}"


def prepare_redis(url):
    import redis

    conn = redis.Redis.from_url(url)
    foreign = [k for k in conn.scan_iter(count=1000) if not k.startswith((b"rq:", b"colorsite-cache:"))]
    if foreign:
        sys.exit(f"Refusing to flush {url}: it holds other data ({foreign[:3]})")
    conn.flushdb()
    return conn


class Client(threading.Thread):
    def __init__(self, base, key, photos, stop_at, budget, stats):
        super().__init__(daemon=True)
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {key}"
        self.base, self.photos, self.stop_at, self.budget, self.stats = base, photos, stop_at, budget, stats

    def run(self):
        n = 0
        while time.monotonic() < self.stop_at and self.budget.take():
            try:
                self.one(self.photos[n % len(self.photos)])
            except Exception as e:  # noqa: BLE001: every failure is counted, not raised
                self.stats.error(f"{type(e).__name__}: {e}")
            n += 1

    def one(self, photo):
        t = time.perf_counter()
        r = self.session.post(f"{self.base}/api/v1/photos/", files={"image": ("bench.jpg", photo, "image/jpeg")},
                              timeout=60)
        self.stats.upload(t, time.perf_counter() - t)
        if r.status_code != 202:
            return self.stats.error(f"upload {r.status_code}: {r.text[:200]}")
        pk = r.json()["id"]
        self.stats.accepted(pk)
        # Poll like the site's page does, until done (or give up at the end
        # of the run: the drain below checks every accepted photo anyway).
        while time.monotonic() < self.stop_at + 5:
            t = time.perf_counter()
            r = self.session.get(f"{self.base}/api/v1/photos/{pk}/", timeout=60)
            self.stats.poll(time.perf_counter() - t)
            if r.status_code != 200:
                return self.stats.error(f"status {r.status_code}: {r.text[:200]}")
            status = r.json()["status"]
            if status == "failed":
                return self.stats.error(f"photo {pk} failed: {r.json()['error']}")
            if status == "done":
                return
            time.sleep(0.25)


class Budget:
    def __init__(self, n):
        self.n, self.lock = n, threading.Lock()

    def take(self):
        with self.lock:
            self.n -= 1
            return self.n >= 0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.uploads, self.upload_starts, self.polls, self.ids, self.errors = [], [], [], [], []

    def upload(self, started, s):
        with self.lock:
            self.uploads.append(s)
            self.upload_starts.append(started)

    def poll(self, s):
        with self.lock:
            self.polls.append(s)

    def accepted(self, pk):
        with self.lock:
            self.ids.append(pk)

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def status_times_in_server(access_log):
    """Milliseconds gunicorn spent on each status poll (GET /api/v1/photos/<id>/)."""
    import re

    poll = re.compile(r"GET /api/v1/photos/\d+/ \d+ (\d+)$")
    try:
        lines = access_log.read_text().splitlines()
    except OSError:
        return []
    return [int(m.group(1)) / 1000 for m in map(poll.match, lines) if m]


ROLES = ("web", "workers", "postgres", "redis", "clients", "other")


def cpu_by_process(procs):
    """{(pid, role): CPU seconds so far} of every process on this machine. Roles: the web
    server, the colorize workers (both with their children), PostgreSQL, Redis, these
    clients, and the rest."""
    import psutil

    roles = {"web": procs[:1], "workers": procs[1:]}
    owner = {}
    for role, popens in roles.items():
        for p in popens:
            try:
                parent = psutil.Process(p.pid)
                owner[p.pid] = role
                for child in parent.children(recursive=True):
                    owner[child.pid] = role
            except psutil.NoSuchProcess:
                pass
    owner[os.getpid()] = "clients"
    used = {}
    for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        name = proc.info["name"] or ""
        role = owner.get(proc.info["pid"]) or (
            "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis") else "other")
        used[(proc.info["pid"], role)] = times.user + times.system
    return used


def cpu_percent_by_role(before, after, seconds):
    """Share of all cores each role used between two cpu_by_process readings; processes that
    ended in between are left out rather than counted negative."""
    used = dict.fromkeys(ROLES, 0.0)
    for key, cpu in after.items():
        used[key[1]] += cpu - before.get(key, 0.0)
    return {role: round(100 * cpu / seconds / os.cpu_count(), 1) for role, cpu in used.items()}


def wait_for(url, deadline, procs):
    import requests

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if any(p.poll() is not None for p in procs):
            sys.exit("A server process exited during start-up; see the logs above.")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {deadline} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60, help="seconds of uploading (at most 600)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1, help="rqworker processes (CPU)")
    ap.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    ap.add_argument("--web-threads", type=int, default=8, help="threads of each gunicorn process")
    ap.add_argument("--threads", type=int, default=1, help="COLORIZER_THREADS of each worker (0: torch's default)")
    ap.add_argument("--worker-nice", type=int, default=10, help="COLORIZE_WORKER_NICE of each worker (0: none)")
    ap.add_argument("--max-uploads", type=int, default=5000, help="stop uploading after this many")
    ap.add_argument("--drain", type=float, default=180, help="seconds to wait for the last photos")
    ap.add_argument("--model", default=os.getenv("COLORIZER_MODEL"))
    ap.add_argument("--postgres", default="127.0.0.1:5432")
    ap.add_argument("--database", default="colorsite_bench")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = ap.parse_args()
    duration = min(args.duration, MAX_DURATION)
    max_uploads = min(args.max_uploads, MAX_UPLOADS_CAP)

    scratch = Path(tempfile.mkdtemp(prefix="colorsite-bench-"))
    model = args.model
    if not model:
        from mlcore.paths import DEFAULT_MODEL_PATH

        if os.path.isfile(DEFAULT_MODEL_PATH):
            model = str(DEFAULT_MODEL_PATH)
        else:
            from mlcore.testing import make_tiny_model

            model = str(make_tiny_model(scratch / "tiny.pt"))
            print(f"No model given and {DEFAULT_MODEL_PATH} is missing: using a tiny random-weight model.")

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "colorsite.settings",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",  # plain HTTP on loopback
        "DATABASE_URL": prepare_database(args.postgres, args.database),
        "REDIS_URL": args.redis,
        "MEDIA_ROOT": str(scratch / "media"),
        "COLORSITE_VAR_DIR": str(scratch / "var"),
        "COLORIZER_MODEL": model,
        "COLORIZER_DEVICE": "cpu",
        "COLORIZER_THREADS": str(args.threads) if args.threads else "None",
        "COLORIZE_DAILY_QUOTA": str(10 * MAX_UPLOADS_CAP),
        "COLORIZE_WORKER_NICE": str(args.worker_nice),
        "LOG_LEVEL": "WARNING",
    }
    redis_conn = prepare_redis(args.redis)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from gallery.api.models import ApiToken
    from gallery.models import Photo

    Photo.objects.all().delete()  # a previous run's photos (their files were in its scratch folder)
    keys = []
    for i in range(args.clients):
        user, _ = get_user_model().objects.get_or_create(username=f"bench{i}")
        keys.append(ApiToken.create(user, "load bench")[1])

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (scratch / "servers.log").open("w")
    access_log = scratch / "access.log"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "colorsite.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.web_workers), "--worker-class", "gthread", "--threads", str(args.web_threads), "--log-level", "warning",
         # Each request's own time inside gunicorn, to tell it from time spent waiting outside.
         "--access-logfile", str(access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)]
    for _ in range(args.workers):
        procs.append(subprocess.Popen([sys.executable, "manage.py", "rqworker", "colorize"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
    print(f"Servers' log: {log.name}")
    try:
        wait_for(base + "/api/v1/", 120, procs)
        # A worker registers once its model is loaded: start the clock then.
        from rq import Worker

        end = time.monotonic() + 120
        while Worker.count(connection=redis_conn) < args.workers and time.monotonic() < end:
            time.sleep(0.2)
        photos = make_photos()
        stats = Stats()
        cpu_before = cpu_by_process(procs)
        started = time.monotonic()
        budget = Budget(max_uploads)
        clients = [Client(base, keys[i], photos, started + duration, budget, stats) for i in range(args.clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(duration + 120)
        upload_seconds = time.monotonic() - started
        cpu_after = cpu_by_process(procs)

        # Drain: every accepted photo must finish.
        drain_end = time.monotonic() + args.drain
        while time.monotonic() < drain_end:
            if not Photo.objects.filter(pk__in=stats.ids).exclude(status__in=["done", "failed"]).exists():
                break
            time.sleep(0.5)
        rows = list(Photo.objects.filter(pk__in=stats.ids).values("status", "started_at", "finished_at", "error"))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        redis_conn.flushdb()

    server_polls = status_times_in_server(access_log)
    first = min(stats.upload_starts, default=0.0)
    steady_uploads = [s for t, s in zip(stats.upload_starts, stats.uploads) if t - first >= 5]
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "failed"]
    unfinished = len(stats.ids) - len(done) - len(failed)
    job_seconds = [(r["finished_at"] - r["started_at"]).total_seconds() for r in done]
    if done:
        first = min(r["started_at"] for r in done)
        last = max(r["finished_at"] for r in done)
        wall_minutes = max((last - first).total_seconds(), 1e-6) / 60
    else:
        wall_minutes = float("nan")
    errors = len(stats.errors) + len(failed) + unfinished
    result = {
        "model": model,
        "duration_s": round(upload_seconds, 1),
        "clients": args.clients,
        "web_workers": args.web_workers,
        "web_threads": args.web_threads,
        "rq_workers": args.workers,
        "threads_per_worker": args.threads or "torch default",
        "worker_nice": args.worker_nice,
        "uploads_accepted": len(stats.ids),
        "uploads_accepted_per_s": round(len(stats.ids) / upload_seconds, 2),
        "upload_p50_ms": round(percentile(stats.uploads, 50) * 1000, 1),
        "upload_p95_ms": round(percentile(stats.uploads, 95) * 1000, 1),
        # Without the first 5 s, when all the clients send their first photo at once.
        "upload_p95_after_5s_ms": round(percentile(steady_uploads, 95) * 1000, 1),
        "status_polls": len(stats.polls),
        "status_p50_ms": round(percentile(stats.polls, 50) * 1000, 1),
        "status_p95_ms": round(percentile(stats.polls, 95) * 1000, 1),
        "status_p99_ms": round(percentile(stats.polls, 99) * 1000, 1),
        # The same polls timed by gunicorn (request read to response written): the rest of the
        # clients' figure is waiting for a thread, the GIL or a core, on either side.
        "status_in_server_p50_ms": round(percentile(server_polls, 50), 1),
        "status_in_server_p95_ms": round(percentile(server_polls, 95), 1),
        "job_mean_s": round(statistics.mean(job_seconds), 3) if job_seconds else None,
        "colorized_per_min_per_worker_from_job_times": round(60 / statistics.mean(job_seconds), 1) if job_seconds else 0,
        "colorized_per_min_per_worker_wall": round(len(done) / wall_minutes / args.workers, 1) if done else 0,
        "errors": errors,
        "all_accepted_finished": unfinished == 0 and not failed,
        # Where the machine's cores went while the clients ran (share of all cores, in %).
        "cpu_percent_by_role": cpu_percent_by_role(cpu_before, cpu_after, upload_seconds),
    }
    for k, v in result.items():
        print(f"{k:>46}: {v}")
    for e in stats.errors[:10]:
        print("error:", e)
    print(json.dumps(result))
    ok = errors == 0 and result["all_accepted_finished"]
    if ok:
        shutil.rmtree(scratch, ignore_errors=True)  # photos, model, logs: kept only when something failed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
