import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores photos in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_cache():
    """Login throttles count in Django's cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_conn():
    """The test Redis database (db 15), flushed before and after the test.

    Refuses to flush a database that holds anything but RQ's keys: that would
    be someone's data, not ours.
    """
    import django_rq

    conn = django_rq.get_connection("colorize")
    foreign = [k for k in conn.scan_iter(count=1000) if not k.startswith((b"rq:", b"colorsite-cache:", b"colorsite-streams:"))]
    if foreign:
        pytest.exit(f"Refusing to use a Redis database holding other data: {foreign[:5]}", returncode=3)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    from mlcore.testing import make_tiny_model

    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt"))


@pytest.fixture
def tiny_model(settings, tiny_model_path):
    """Point the site at a tiny random-weight model (loads in milliseconds)."""
    settings.COLORIZER_MODEL_PATH = tiny_model_path
    settings.COLORIZER_DEVICE = "cpu"
    return tiny_model_path


@pytest.fixture(scope="session")
def tiny_hint_model_path(tmp_path_factory):
    from mlcore.testing import make_tiny_model

    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny-hint.pt", arch="lite0hint"))


@pytest.fixture
def tiny_hint_model(settings, tiny_hint_model_path):
    """Point the site at a tiny random-weight model that takes colour hints."""
    settings.COLORIZER_MODEL_PATH = tiny_hint_model_path
    settings.COLORIZER_DEVICE = "cpu"
    return tiny_hint_model_path


def prepare_tiny_pool(root):
    """A prepared pool (32 px) of 24 generated colour photos under ROOT/pool, for tiny training runs."""
    import numpy as np
    from django.core.management import call_command

    rng = np.random.default_rng(0)
    src = root / "src" / "blobs"
    src.mkdir(parents=True)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((48, 48), Image.BICUBIC).save(
            src / f"{i}.jpg")
    call_command("prepare_dataset", str(src), "--out", str(root / "pool"), "--fraction", "1", "--size", "32",
                 "--workers", "1", verbosity=0)
    return root / "pool"


def image_bytes(fmt="PNG", size=(64, 48), mode="L", color=None):
    """A small generated photo: a gradient, so it is not flat."""
    img = Image.linear_gradient("L").resize(size)
    if mode != "L":
        img = img.convert(mode)
    if color is not None:
        img = Image.new(mode, size, color)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def upload_file(name="photo.png", fmt="PNG", **kwargs):
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg"}.get(fmt, "application/octet-stream")
    return SimpleUploadedFile(name, image_bytes(fmt, **kwargs), content_type=content_type)


@pytest.fixture
def make_user(db):
    def make(username="alice", password="correct horse battery"):
        return get_user_model().objects.create_user(username, f"{username}@example.com", password)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("alice")


@pytest.fixture
def stranger(make_user):
    return make_user("mallory")


def run_worker():
    """Run a real RQ worker in burst mode on the render and colorize queues,
    as `rqworker render colorize` does, until they are empty (in this
    process, so it sees the test's database)."""
    import django_rq

    worker = django_rq.get_worker("render", "colorize")
    worker.work(burst=True)
    return worker
