"""Memory of a gunicorn worker before and after a re-render, for a checkout of colorsite.

    python bench/web_memory.py [--root CHECKOUT] [--size 4000x3000]

Makes a throwaway site (SQLite and media in a temporary folder), colorizes one generated photo
of --size in this process (as a worker would), then starts gunicorn (1 process) on it and asks
the API for the photo, then for a re-render (vividness 80, or temperature 0.9 where the checkout
has no vividness). Prints the worker's resident memory (VmRSS) after the first request and after
the re-render, its peak (VmHWM), and whether torch was loaded into it. --root measures another
checkout with this script, e.g. a `git worktree` of an older commit.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SETUP = """
import io, sys
import numpy as np
from PIL import Image
from django.core.files.uploadedfile import SimpleUploadedFile
from django.contrib.auth import get_user_model
from gallery.api.models import ApiToken
from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
from inference.jobs import colorize_photo

w, h = {size}
rng = np.random.default_rng(0)
img = Image.fromarray(rng.integers(0, 256, (h // 64, w // 64), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
buf = io.BytesIO(); img.save(buf, "JPEG", quality=90)
user = get_user_model().objects.create_user("bench", "bench@example.com", "bench password 1")
photo = create_photo(Gallery.default_for(user), check_image(SimpleUploadedFile("big.jpg", buf.getvalue(), "image/jpeg")))
colorize_photo(photo.pk)
photo.refresh_from_db()
assert photo.status == Photo.DONE, photo.error
_, key = ApiToken.create(user, "bench")
print("SETUP", photo.pk, key)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def torch_loaded(pid):
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def call(url, key, data=None):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET",
                                     headers={"Authorization": f"Token {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--size", default="4000x3000")
    args = parser.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    root = Path(args.root)
    with tempfile.TemporaryDirectory() as var:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(COLORSITE_VAR_DIR=var, DEBUG="True", COLORIZER_THREADS="1", DJANGO_SETTINGS_MODULE="colorsite.settings")
        manage = [sys.executable, str(root / "manage.py")]
        subprocess.run(manage + ["migrate", "-v0"], cwd=root, env=env, check=True)
        out = subprocess.run(manage + ["shell", "-c", SETUP.format(size=size)], cwd=root, env=env, check=True,
                             capture_output=True, text=True).stdout
        pk, key = re.search(r"SETUP (\d+) (\S+)", out).groups()
        port = free_port()
        master = subprocess.Popen([sys.executable, "-m", "gunicorn", "colorsite.wsgi", "--bind", f"127.0.0.1:{port}",
                                   "--workers", "1", "--threads", "4", "--timeout", "600"],
                                  cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}/api/v1/photos/{pk}/"
            for _ in range(120):
                try:
                    code, _ = call(base, key)
                    break
                except OSError:
                    time.sleep(0.5)
            assert code == 200, code
            worker = int(subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()[0])
            before = status_kb(worker, "VmRSS")
            start = time.perf_counter()
            code, body = call(base + "rerender/", key, {"vividness": 80})
            if code == 400 and "vividness" not in body:  # a checkout from before vividness
                code, body = call(base + "rerender/", key, {"temperature": 0.9})
            answered = time.perf_counter() - start
            assert code in (200, 202), (code, body)
            after, peak = status_kb(worker, "VmRSS"), status_kb(worker, "VmHWM")
            print(f"checkout {root} ({subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, capture_output=True, text=True).stdout.strip()}), photo {size[0]}x{size[1]}")
            print(f"re-render request answered {code} in {answered:.2f} s")
            print(f"gunicorn worker RSS after the first request {before / 1024:7.1f} MB")
            print(f"gunicorn worker RSS after the re-render     {after / 1024:7.1f} MB  (peak {peak / 1024:.1f} MB)")
            print(f"torch loaded in the web process: {torch_loaded(worker)}")
        finally:
            master.terminate()
            master.wait(timeout=30)


if __name__ == "__main__":
    main()
