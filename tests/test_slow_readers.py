"""
Production against slow readers, with real sockets: the web server as `runsite` and the
README run it (gthread), gallery ZIPs read at a throttled rate for longer than the server's
timeout, one person's download cap, and a ZIP whose stream fails half-way.
"""

import http.client
import io
import os
import re
import socket
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from gallery.models import Gallery, Photo
from inference.management.commands.runsite import web_command
from tests.api_support import client_for
from tests.conftest import upload_file
from tests.test_faults import START_DEADLINE, Processes, free_port, redis_server, wait_until  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
# Shorter than any slow download below: a download is never bound by it.
TEST_WEB_TIMEOUT = 3
# The reader's pace, and its socket's receive buffer: small, so that the server really waits on it.
READ_RATE = 3 * 1024 * 1024 // 2
READ_BLOCK = 64 * 1024


def test_the_readmes_production_command_is_the_one_runsite_uses():
    readme = (ROOT / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith("gunicorn colorsite.wsgi")]
    assert line.split() == web_command("127.0.0.1:8000", 4)
    assert "--worker-class gthread" in line


def big_done_photo(gallery, name):
    """A finished photo whose result is a 5.8 Mpx PNG of noise (incompressible: 5.8 MB)."""
    from gallery.forms import check_image
    from gallery.photos import create_photo

    photo = create_photo(gallery, check_image(upload_file(name)))
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    png = io.BytesIO()
    Image.fromarray(noise).save(png, "PNG", compress_level=0)
    result = default_storage.save(f"{photo.folder}/result-1.png", ContentFile(png.getvalue()))
    Photo.objects.filter(pk=photo.pk).update(status=Photo.DONE, result=result)
    return Photo.objects.get(pk=photo.pk)


@pytest.fixture
def site(tmp_path, settings, redis_server, tiny_model_path, transactional_db, owner):  # noqa: F811
    """gunicorn as runsite starts it (with a timeout shorter than the downloads), on the test's
    database, media and Redis, and a gallery of two large finished photos."""
    gallery = Gallery.default_for(owner)
    photos = [big_done_photo(gallery, "one.png"), big_done_photo(gallery, "two.png")]
    procs = Processes(tmp_path, settings, redis_server.url, tiny_model_path)
    port = free_port()
    procs.start([sys.executable, "-m", *web_command(f"127.0.0.1:{port}", 1, timeout=TEST_WEB_TIMEOUT)], "web")
    wait_until(lambda: _up(port), START_DEADLINE, "gunicorn to start", procs.logs)
    yield {"port": port, "gallery": gallery, "photos": photos, "key": client_for(owner).key, "procs": procs}
    procs.stop_all()


def _up(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code in (200, 503)
    except requests.RequestException:
        return False


def open_download(site, path):
    """A request whose answer is read later, through a socket with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, READ_BLOCK)
    sock.connect(("127.0.0.1", site["port"]))
    conn = http.client.HTTPConnection("127.0.0.1", site["port"], timeout=60)
    conn.sock = sock
    conn.request("GET", path, headers={"Authorization": f"Token {site['key']}"})
    return conn.getresponse()


def read_slowly(response):
    """The body at READ_RATE; raises http.client.IncompleteRead when the server cuts it."""
    body = bytearray()
    while block := response.read(READ_BLOCK):
        body += block
        time.sleep(READ_BLOCK / READ_RATE)
    return bytes(body)


def test_slow_readers_get_whole_zips_two_at_a_time_and_the_site_keeps_answering(site):
    path = f"/api/v1/galleries/{site['gallery'].pk}/download/"
    responses = [open_download(site, path) for _ in range(4)]
    assert [r.status for r in responses] == [200, 200, 429, 429]
    assert all(r.getheader("Retry-After") == "30" for r in responses[2:])

    # Two downloads stream to slow readers; the rest of the site answers at once meanwhile.
    bodies, started = {}, time.monotonic()
    readers = [threading.Thread(target=lambda n=n: bodies.setdefault(n, read_slowly(responses[n]))) for n in (0, 1)]
    for reader in readers:
        reader.start()
    time.sleep(1)
    health_started = time.monotonic()
    assert requests.get(f"http://127.0.0.1:{site['port']}/healthz", timeout=10).status_code == 200
    assert time.monotonic() - health_started < 2
    for reader in readers:
        reader.join(timeout=120)
    took = time.monotonic() - started

    assert took > TEST_WEB_TIMEOUT + 2  # read for longer than the server's timeout, and whole:
    stored = {default_storage.open(p.result.name).read() for p in site["photos"]}
    for n in (0, 1):
        archive = zipfile.ZipFile(io.BytesIO(bodies[n]))
        assert archive.testzip() is None
        assert {archive.read(name) for name in archive.namelist()} == stored
    # Both slots are free again.
    again = open_download(site, path)
    assert again.status == 200
    again.close()
    log = site["procs"].logs[0].read_text()
    assert "WORKER TIMEOUT" not in log


def test_a_zip_whose_stream_fails_half_way_reaches_the_client_as_a_broken_download(site):
    # The ZIP's second result (newest first: the first photo made) cannot be read, a directory
    # standing at its name: the other one has gone out by then, and the ZIP cannot be finished.
    second = Path(default_storage.path(site["photos"][0].result.name))
    second.unlink()
    second.mkdir()
    response = open_download(site, f"/api/v1/galleries/{site['gallery'].pk}/download/")
    assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
    with pytest.raises(http.client.IncompleteRead) as cut:
        read_slowly(response)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(cut.value.partial))
    assert "IsADirectoryError" in site["procs"].logs[0].read_text()
