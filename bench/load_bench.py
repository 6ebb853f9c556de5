"""Load benchmark: the production layout on loopback, under 50 concurrent API clients.

    python bench/load_bench.py [--duration 60] [--clients 50] [--web 1] [--workers 1] [--model PATH]
    python bench/load_bench.py --web 1,2 --workers 1,2     # a rehearsal: 1 of each, then 2 of each

Starts --web gunicorn servers (production settings: DEBUG off; each one a
machine's web tier, --web-workers processes of --web-threads threads, on a port
of its own; the clients are spread over them as a load balancer would) and
--workers CPU `rqworker render colorize` processes, all against one PostgreSQL
(127.0.0.1:5432, database colorsite_bench, created if missing and migrated),
one Redis (redis://127.0.0.1:6379/14, flushed; refused if it holds anything
but RQ's keys) and one media folder. Then for --duration seconds each client
uploads a 512-pixel black-and-white photo through POST /api/v1/photos/ and
polls GET /api/v1/photos/{id}/ until it is done, again and again, as the
documented clients do: with If-None-Match and the last ETag, a 304 being an
unchanged status. Uploading stops at --duration (or --max-uploads); the run
then waits for every accepted photo to finish (at most --drain seconds).
With comma lists (--web 1,2 --workers 1,2) each configuration runs in turn,
and a table of their throughput closes the output.

Prints uploads accepted per second, status-poll latency p50/p95/p99 (as the
clients see it, and inside gunicorn), the p50/p95 of each stage of a poll
inside the server (its Server-Timing header: auth, db, ser, total), photos
colorized per minute per worker (from the jobs' own start and end times,
and over the wall clock), the jobs' mean time per stage when the jobs record
it (in their RQ meta, gallery/colorizing.py), errors (any unexpected answer,
exception or failed photo: must be 0), and whether every accepted photo
finished.

Then the limit: --limit-photos of the same photos, uploaded in-process and
colorized by the job's own function (inference.jobs.colorize_photo) in this
process, one after another, on the worker's torch threads (COLORIZER_THREADS)
with no web server or client running: what a job writes, without the queue
and the load. `worker_vs_limit` is a configuration's photos per minute per
worker (wall clock) over the limit's. It says something about the worker only
when its queue never ran dry (uploads outpaced it throughout); with few clients it
measures the uploads. When jobs batch photos (COLORIZE_BATCH), the rate "from
job times" counts a batch's time once per photo: read the wall-clock one.

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

from bench.load_figures import (  # noqa: E402: after the path
    POLL_STAGES,
    job_stage_means,
    parse_server_timing,
    per_minute,
    percentile,
    stage_percentiles,
    worker_vs_limit,
)

PHOTO_SIZE = 512
MAX_DURATION = 600
MAX_UPLOADS_CAP = 20000
MAX_LIMIT_PHOTOS = 500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counts(text):
    """--web / --workers: "2" or "1,2" (one configuration per number)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or a comma list of numbers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("each count must be 1 or more")
    return values


def configurations(webs, workers):
    """(web servers, workers) pairs: the lists side by side, a single number going with each."""
    if len(webs) == 1:
        webs = webs * len(workers)
    if len(workers) == 1:
        workers = workers * len(webs)
    if len(webs) != len(workers):
        sys.exit("--web and --workers: give lists of the same length, or one number")
    return list(zip(webs, workers))


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
        # Poll as the README's client examples do, until done (or give up at the end of the
        # run: the drain below checks every accepted photo anyway): send the last ETag, and
        # a 304 means the status has not changed.
        etag, status = None, None
        while time.monotonic() < self.stop_at + 5:
            headers = {"If-None-Match": etag} if etag else {}
            t = time.perf_counter()
            r = self.session.get(f"{self.base}/api/v1/photos/{pk}/", headers=headers, timeout=60)
            self.stats.poll(time.perf_counter() - t, r.status_code == 304, r.headers.get("Server-Timing"))
            if r.status_code == 304 and etag:
                pass  # unchanged: `status` is still the last one read
            elif r.status_code == 200:
                etag, body = r.headers.get("ETag"), r.json()
                status = body["status"]
                if status == "failed":
                    return self.stats.error(f"photo {pk} failed: {body['error']}")
            else:
                return self.stats.error(f"status {r.status_code}: {r.text[:200]}")
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
        self.not_modified, self.poll_stages = 0, []

    def upload(self, started, s):
        with self.lock:
            self.uploads.append(s)
            self.upload_starts.append(started)

    def poll(self, s, not_modified, server_timing):
        with self.lock:
            self.polls.append(s)
            self.not_modified += not_modified
            if server_timing:
                self.poll_stages.append(parse_server_timing(server_timing))

    def accepted(self, pk):
        with self.lock:
            self.ids.append(pk)

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def status_times_in_server(access_logs):
    """Milliseconds gunicorn spent on each status poll (GET /api/v1/photos/<id>/), 200 or 304."""
    import re

    poll = re.compile(r"GET /api/v1/photos/\d+/ \d+ (\d+)$")
    times = []
    for access_log in access_logs:
        try:
            lines = access_log.read_text().splitlines()
        except OSError:
            continue
        times += [int(m.group(1)) / 1000 for m in map(poll.match, lines) if m]
    return times


def job_stage_records(redis_conn, job_ids):
    """The photos' stage timings the jobs kept in their RQ meta (under gallery/colorizing.py's
    TIMINGS_META_KEY), and the stages' own order; ([], ()) on code whose jobs keep none."""
    try:
        from gallery.colorizing import STAGES, TIMINGS_META_KEY
    except ImportError:
        return [], ()
    from rq.job import Job

    records = []
    ids = [i for i in job_ids if i]
    for start in range(0, len(ids), 500):
        for job in Job.fetch_many(ids[start:start + 500], connection=redis_conn):
            if job is not None:
                records += job.meta.get(TIMINGS_META_KEY) or []
    return records, STAGES


ROLES = ("web", "workers", "postgres", "redis", "clients", "other")


def cpu_by_process(web_procs, worker_procs):
    """{(pid, role): CPU seconds so far} of every process on this machine. Roles: the web
    servers, the colorize workers (both with their children), PostgreSQL, Redis, these
    clients, and the rest."""
    import psutil

    owner = {}
    for role, popens in (("web", web_procs), ("workers", worker_procs)):
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
            requests.get(url, timeout=10)
            return
        # Not listening yet, or too busy starting up (several servers and workers at once) to answer.
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {deadline} s")


def run_configuration(args, env, keys, scratch, redis_conn, webs, workers, duration, max_uploads):
    """One run: `webs` gunicorn servers and `workers` rqworkers, the clients, the drain.
    Returns (the figures, the clients' errors)."""
    from rq import Worker

    from gallery.models import Photo

    tag = f"web{webs}-workers{workers}"
    log = (scratch / f"servers-{tag}.log").open("w")
    access_logs, bases, web_procs, worker_procs = [], [], [], []
    for i in range(webs):
        port = free_port()
        bases.append(f"http://127.0.0.1:{port}")
        access_logs.append(scratch / f"access-{tag}-{i}.log")
        web_procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "colorsite.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.web_workers), "--worker-class", "gthread", "--threads", str(args.web_threads),
             "--log-level", "warning",
             # Each request's own time inside gunicorn, to tell it from time spent waiting outside.
             "--access-logfile", str(access_logs[-1]), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    for _ in range(workers):
        worker_procs.append(subprocess.Popen([sys.executable, "manage.py", "rqworker", "render", "colorize"],
                                             cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    procs = web_procs + worker_procs
    print(f"Servers' log ({tag}): {log.name}")
    try:
        for base in bases:
            wait_for(base + "/api/v1/", 120, procs)
        # A worker registers once its model is loaded: start the clock then.
        end = time.monotonic() + 120
        while Worker.count(connection=redis_conn) < workers and time.monotonic() < end:
            time.sleep(0.2)
        photos = make_photos()
        stats = Stats()
        cpu_before = cpu_by_process(web_procs, worker_procs)
        started = time.monotonic()
        budget = Budget(max_uploads)
        clients = [Client(bases[i % webs], keys[i], photos, started + duration, budget, stats)
                   for i in range(args.clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(duration + 120)
        upload_seconds = time.monotonic() - started
        cpu_after = cpu_by_process(web_procs, worker_procs)

        # Drain: every accepted photo must finish.
        drain_end = time.monotonic() + args.drain
        while time.monotonic() < drain_end:
            if not Photo.objects.filter(pk__in=stats.ids).exclude(status__in=["done", "failed"]).exists():
                break
            time.sleep(0.5)
        rows = list(Photo.objects.filter(pk__in=stats.ids).values(
            "status", "started_at", "finished_at", "error", "rq_job_id"))
        job_stages = job_stage_means(*job_stage_records(redis_conn, [r["rq_job_id"] for r in rows]))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        redis_conn.flushdb()
        log.close()

    server_polls = status_times_in_server(access_logs)
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
        "duration_s": round(upload_seconds, 1),
        "clients": args.clients,
        "web_servers": webs,
        "web_workers": args.web_workers,
        "web_threads": args.web_threads,
        "rq_workers": workers,
        "threads_per_worker": args.threads or "torch default",
        "worker_nice": args.worker_nice,
        "uploads_accepted": len(stats.ids),
        "uploads_accepted_per_s": round(len(stats.ids) / upload_seconds, 2),
        "upload_p50_ms": round(percentile(stats.uploads, 50) * 1000, 1),
        "upload_p95_ms": round(percentile(stats.uploads, 95) * 1000, 1),
        # Without the first 5 s, when all the clients send their first photo at once.
        "upload_p95_after_5s_ms": round(percentile(steady_uploads, 95) * 1000, 1),
        "status_polls": len(stats.polls),
        "status_polls_304": stats.not_modified,
        "status_p50_ms": round(percentile(stats.polls, 50) * 1000, 1),
        "status_p95_ms": round(percentile(stats.polls, 95) * 1000, 1),
        "status_p99_ms": round(percentile(stats.polls, 99) * 1000, 1),
        # The same polls timed by gunicorn (request read to response written): the rest of the
        # clients' figure is waiting for a thread, the GIL or a core, on either side.
        "status_in_server_p50_ms": round(percentile(server_polls, 50), 1),
        "status_in_server_p95_ms": round(percentile(server_polls, 95), 1),
    }
    # Inside the view, per stage (the polls' Server-Timing headers).
    poll_stages = stage_percentiles(stats.poll_stages, POLL_STAGES)
    for stage in POLL_STAGES:
        for p in (50, 95):
            result[f"status_stage_{stage}_p{p}_ms"] = poll_stages.get(stage, {}).get(p, "not reported")
    result.update({
        "job_mean_s": round(statistics.mean(job_seconds), 3) if job_seconds else None,
        "colorized_per_min_per_worker_from_job_times": round(60 / statistics.mean(job_seconds), 1) if job_seconds else 0,
        "colorized_per_min_per_worker_wall": round(len(done) / wall_minutes / workers, 1) if done else 0,
        "colorized_per_min_all_workers_wall": round(len(done) / wall_minutes, 1) if done else 0,
        # Mean ms of each stage of a photo's job, as the jobs recorded them.
        "job_stage_means_ms": job_stages or "not recorded",
        "errors": errors,
        "all_accepted_finished": unfinished == 0 and not failed,
        # Where the machine's cores went while the clients ran (share of all cores, in %).
        "cpu_percent_by_role": cpu_percent_by_role(cpu_before, cpu_after, upload_seconds),
    })
    return result, stats.errors


def measure_limit(photos, count, redis_conn):
    """Photos per minute of the job's own code (inference.jobs.colorize_photo) run in this
    process on `count` queued photos, one after another, with nothing else running: the
    rate no worker can beat on these photos. Uploaded in-process first, the clock off.
    Returns (photos done, seconds)."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gallery.forms import check_image
    from gallery.models import Gallery, Photo
    from gallery.photos import create_photo
    from inference.jobs import colorize_photo, get_colorizer

    owner, _ = get_user_model().objects.get_or_create(username="bench-limit")
    gallery = Gallery.default_for(owner)
    def upload(i):
        return create_photo(gallery, check_image(SimpleUploadedFile("bench.jpg", photos[i % len(photos)],
                                                                    "image/jpeg"))).pk

    get_colorizer()  # the model loads (and torch takes COLORIZER_THREADS) before the clock
    # A worker measured under load has warmed up long before. Alone in the queue, so that a
    # batching job takes none of the measured photos with it.
    colorize_photo(upload(0))
    pks = [upload(i) for i in range(count)]
    started = time.perf_counter()
    for pk in pks:
        colorize_photo(pk)  # with batching it may take the next waiting ones too; those skip
    seconds = time.perf_counter() - started
    redis_conn.flushdb()  # the jobs create_photo sent; no worker ran them
    return Photo.objects.filter(pk__in=pks, status=Photo.DONE).count(), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60, help="seconds of uploading (at most 600)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--web", type=counts, default=[1],
                    help="gunicorn servers, each on its own port (a comma list runs one configuration per number)")
    ap.add_argument("--workers", type=counts, default=[1],
                    help="rqworker processes (CPU) (a comma list runs one configuration per number)")
    ap.add_argument("--web-workers", type=int, default=2, help="processes of each gunicorn server")
    ap.add_argument("--web-threads", type=int, default=8, help="threads of each gunicorn process")
    ap.add_argument("--threads", type=int, default=1, help="COLORIZER_THREADS of each worker (0: torch's default)")
    ap.add_argument("--worker-nice", type=int, default=10, help="COLORIZE_WORKER_NICE of each worker (0: none)")
    ap.add_argument("--max-uploads", type=int, default=5000, help="stop uploading after this many")
    ap.add_argument("--drain", type=float, default=180, help="seconds to wait for the last photos")
    ap.add_argument("--limit-photos", type=int, default=40,
                    help=f"photos colorized in-process for the limit (0: skip it; at most {MAX_LIMIT_PHOTOS})")
    ap.add_argument("--model", default=os.getenv("COLORIZER_MODEL"))
    ap.add_argument("--postgres", default="127.0.0.1:5432")
    ap.add_argument("--database", default="colorsite_bench")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = ap.parse_args()
    duration = min(args.duration, MAX_DURATION)
    max_uploads = min(args.max_uploads, MAX_UPLOADS_CAP)
    runs = configurations(args.web, args.workers)

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
        # One media folder for every web server and worker: the shared storage of several machines.
        "MEDIA_ROOT": str(scratch / "media"),
        "COLORSITE_VAR_DIR": str(scratch / "var"),
        "COLORIZER_MODEL": model,
        "COLORIZER_DEVICE": "cpu",
        "COLORIZER_THREADS": str(args.threads) if args.threads else "None",
        "COLORIZE_DAILY_QUOTA": str(10 * MAX_UPLOADS_CAP * len(runs)),
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

    results, ok = [], True
    print(f"model: {model}")
    for webs, workers in runs:
        result, errors = run_configuration(args, env, keys, scratch, redis_conn, webs, workers, duration, max_uploads)
        results.append(result)
        ok = ok and result["errors"] == 0 and result["all_accepted_finished"]
        for k, v in result.items():
            print(f"{k:>46}: {v}")
        for e in errors[:10]:
            print("error:", e)

    limit_per_min = None
    if args.limit_photos > 0:
        limit_done, limit_seconds = measure_limit(make_photos(), min(args.limit_photos, MAX_LIMIT_PHOTOS), redis_conn)
        limit_per_min = round(per_minute(limit_done, limit_seconds), 1)
        print(f"{'limit_photos':>46}: {limit_done} in {limit_seconds:.1f} s")
        print(f"{'limit_per_min':>46}: {limit_per_min}")
        ok = ok and limit_done == min(args.limit_photos, MAX_LIMIT_PHOTOS)
    for result in results:
        result["limit_per_min"] = limit_per_min
        result["worker_vs_limit"] = worker_vs_limit(result["colorized_per_min_per_worker_wall"], limit_per_min)
        print(f"{'worker_vs_limit':>46}: {result['worker_vs_limit']}"
              + (f" (web {result['web_servers']}, workers {result['rq_workers']})" if len(results) > 1 else ""))
    if len(results) > 1:
        print("\nweb  workers  uploads/s  colorized/min (all workers, wall)  per worker  status p95 ms  errors")
        for r in results:
            print(f"{r['web_servers']:>3}  {r['rq_workers']:>7}  {r['uploads_accepted_per_s']:>9}  "
                  f"{r['colorized_per_min_all_workers_wall']:>33}  {r['colorized_per_min_per_worker_wall']:>10}  "
                  f"{r['status_p95_ms']:>13}  {r['errors']:>6}")
    for result in results:
        print(json.dumps({"model": model, **result}))
    if ok:
        shutil.rmtree(scratch, ignore_errors=True)  # photos, model, logs: kept only when something failed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
