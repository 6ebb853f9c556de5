"""`manage.py study_add`: real photos and their colorizations stored as study pairs, once per
model version; and the torch-free reading of a model file that it and the model page use."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from mlcore.modelfile import read_summary
from study.models import Pair
from study.pairs import JPEG_QUALITY, STUDY_SIZE

REPO = Path(__file__).resolve().parent.parent


def color_photo(path, size=(80, 60), seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(4):
        color_photo(folder / f"{i}.jpg", seed=i)
    color_photo(folder / "sub" / "big.png", size=(640, 320), seed=9)
    Image.new("L", (50, 50), 90).save(folder / "gray.png")
    Image.new("RGB", (50, 50), (90, 90, 90)).save(folder / "sub" / "gray-rgb.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("study_add", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue()


def test_it_stores_each_color_photo_with_its_colorization_at_the_same_size(photos, tiny_model, db):
    from mlcore.colorizer import Colorizer

    output = run(photos)
    assert "5 pair(s) added" in output and "2 grayscale" in output and "1 unreadable" in output
    version = Colorizer.load(tiny_model, device="cpu").version
    assert set(Pair.objects.values_list("model_version", flat=True)) == {version}
    for pair in Pair.objects.all():
        real, fake = (Image.open(io.BytesIO(pair.image(is_real))) for is_real in (True, False))
        assert real.format == fake.format == "JPEG"
        assert real.size == fake.size == (pair.width, pair.height)
        assert not real.info.get("exif") and not real.info.get("icc_profile")
        assert "real" not in pair.real.name and "fake" not in pair.fake.name
    big = Pair.objects.get(source__endswith="big.png")
    assert (big.width, big.height) == (STUDY_SIZE, STUDY_SIZE // 2)  # shrunk, shape kept


def test_both_images_are_encoded_the_same_way(photos, tiny_model, db):
    from study.pairs import encode, real_photo

    run(photos / "0.jpg")
    pair = Pair.objects.get()
    real = real_photo(photos / "0.jpg")
    # The stored real photo is this encoding, padded to the fake's length with a comment.
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(pair.image(True)))),
                          np.asarray(Image.open(io.BytesIO(encode(real)))))
    assert len(pair.image(True)) == len(pair.image(False))
    # Same quantisation tables (quality) and chroma subsampling for both.
    a, b = (Image.open(io.BytesIO(pair.image(is_real))) for is_real in (True, False))
    assert a.quantization == b.quantization
    assert a.layer == b.layer
    assert JPEG_QUALITY < 100


@pytest.mark.parametrize("lengths", [(1000, 1000), (1000, 1001), (1000, 1003), (1000, 1004), (900, 70_000),
                                     (1000, 1000 + 65537 + 2), (1000, 200_000)])
def test_padding_makes_two_jpegs_the_same_length_and_keeps_their_pixels(lengths):
    from study.pairs import same_length

    def sized(n):  # a real JPEG followed by filler up to n bytes (decoders stop at EOI)
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (n % 256, 20, 30)).save(buf, "JPEG")
        return buf.getvalue() + bytes(n - buf.tell())

    originals = [sized(n) for n in lengths]
    padded = same_length(*originals)
    assert len(padded[0]) == len(padded[1]) == max(lengths) + 4
    for before, after in zip(originals, padded):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(after))), np.asarray(Image.open(io.BytesIO(before))))


def test_running_it_again_adds_nothing_and_does_not_load_the_model(photos, tiny_model, db, monkeypatch):
    run(photos, "--count", 3)
    assert Pair.objects.count() == 3

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded although every photo is there")

    monkeypatch.setattr("mlcore.colorizer.Colorizer.load", no_model)
    output = run(photos, "--count", 3)
    assert "0 pair(s) added" in output and "3 already there" in output
    assert Pair.objects.count() == 3


def test_another_model_gets_pairs_of_its_own(photos, tiny_model, db, tmp_path):
    from mlcore.testing import make_tiny_model

    run(photos / "0.jpg")
    other = make_tiny_model(tmp_path / "other.pt", seed=1)
    run(photos / "0.jpg", "--model", other)
    assert Pair.objects.count() == 2
    assert len(set(Pair.objects.values_list("model_version", flat=True))) == 2


def test_split_takes_only_that_split_of_a_prepared_pool(tmp_path, tiny_model, db):
    pool = tmp_path / "pool"
    rows = []
    for i, split in enumerate(["train", "val", "test", "test", "train", "test"]):
        (pool / split).mkdir(parents=True, exist_ok=True)
        color_photo(pool / split / f"{i}.jpg", seed=i)
        rows.append({"path": f"{split}/{i}.jpg", "source": "s", "class": "c", "split": split})
    with open(pool / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["path", "source", "class", "split"])
        writer.writeheader()
        writer.writerows(rows)
    run(pool, "--split", "test", "--count", 2)
    sources = sorted(Path(s).name for s in Pair.objects.values_list("source", flat=True))
    assert len(sources) == 2 and set(sources) <= {"2.jpg", "3.jpg", "5.jpg"}
    run(pool, "--split", "test", "--count", 40)
    assert Pair.objects.count() == 3


@pytest.mark.parametrize("args, message", [
    (["/no/such/folder"], "no such file or folder"),
    (["PHOTOS", "--count", "0"], "--count"),
    (["PHOTOS", "--count", "many"], "--count"),
    (["PHOTOS", "--split", "test"], "manifest.csv"),
    (["PHOTOS", "--model", "PHOTOS/0.jpg"], "not a colorsite model"),
    (["PHOTOS/gray.png"], "gray, toned or unreadable"),
    (["PHOTOS/notes.txt"], "gray, toned or unreadable"),
])
def test_bad_input_gets_a_clear_error(photos, tiny_model, db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*[a.replace("PHOTOS", str(photos)) for a in args])
    assert Pair.objects.count() == 0


def test_the_model_file_is_read_without_torch_and_agrees_with_the_colorizer(tiny_model):
    from mlcore.checkpoint import read_checkpoint
    from mlcore.colorizer import Colorizer

    summary = read_summary(tiny_model)
    assert summary["version"] == Colorizer.load(tiny_model, device="cpu").version
    assert summary["meta"] == read_checkpoint(tiny_model)["meta"]
    code = ("import sys, django; django.setup(); import study.views, study.card; "
            "from mlcore.modelfile import read_summary; read_summary(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code, tiny_model], cwd=REPO, env=env, check=True, timeout=120)


def test_a_file_that_is_not_a_model_is_refused_without_running_it(tmp_path):
    import pickle
    import zipfile

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"arch": "x", "loss": Evil()}))
    with pytest.raises(ValueError, match="not a colorsite model"):
        read_summary(path)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a colorsite model"):
        read_summary(tmp_path / "junk.pt")


def test_pairs_stored_before_padding_are_padded_by_the_migration(db):
    from django.apps import apps as global_apps

    from study.pairs import encode

    migration = __import__("study.migrations.0002_pad_pair_files", fromlist=["pad_existing_pairs"])
    small, large = encode(Image.new("RGB", (64, 64), "gray")), encode(Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    pair = Pair.store(real_jpeg=large, fake_jpeg=small, size=(64, 64), model_version="old",
                      source="x.jpg", source_sha256="0" * 64)
    migration.pad_existing_pairs(global_apps, None)
    pair.refresh_from_db()
    assert len(pair.image(True)) == len(pair.image(False)) == len(large) + 4
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(pair.image(False)))),
                          np.asarray(Image.open(io.BytesIO(small))))


def test_a_sepia_toned_print_is_never_the_real_half_of_a_pair(photos, tiny_model, db):
    from mlcore.color import lab_to_rgb, rgb_to_lab

    # A colour photo toned as a darkroom would: one brown at each lightness.
    rgb = np.asarray(Image.open(photos / "sub" / "big.png").convert("RGB"))
    lightness = rgb_to_lab(rgb)[..., :1]
    sepia = np.concatenate([lightness, np.full_like(lightness, 8.0), np.full_like(lightness, 22.0)], axis=-1)
    Image.fromarray(lab_to_rgb(sepia)).save(photos / "sepia.jpg", quality=92)
    out = run(photos / "sepia.jpg", photos / "0.jpg")
    assert "skipped 1 tinted" in out
    assert [Path(s).name for s in Pair.objects.values_list("source", flat=True)] == ["0.jpg"]


def test_held_out_takes_exactly_the_test_split_prepare_dataset_would_make(tmp_path, tiny_model, db):
    from mlcore.training.dataset import prepare_dataset, read_manifest
    from study.management.commands.study_add import SHIPPED_POOL

    sources = tmp_path / "sources"
    for name, n in (("alpha", 23), ("beta", 17)):
        for i in range(n):
            (sources / name / "cls").mkdir(parents=True, exist_ok=True)
            color_photo(sources / name / "cls" / f"{i:02d}.jpg", seed=i + 100 * len(name))
    # A gray photo among them: prepare_dataset drops it, which changes every later position.
    Image.new("RGB", (40, 40), (90, 90, 90)).save(sources / "alpha" / "cls" / "05.jpg")
    prepare_dataset([sources / "alpha", sources / "beta"], tmp_path / "pool", workers=1, **SHIPPED_POOL)
    pool_test = {(Path(r["path"]).parts[1], Path(r["path"]).stem) for r in read_manifest(tmp_path / "pool", "test")}

    run("--held-out", sources / "alpha", sources / "beta")
    ours = {(Path(s).parent.parent.name, Path(s).stem) for s in Pair.objects.values_list("source", flat=True)}
    assert ours == pool_test and len(ours) == 5 + 3  # 20% of the 22 and 17 usable photos
    assert not (sources / "manifest.csv").exists() and not (sources / "test").exists()  # nothing written


def test_held_out_wants_source_folders(photos, tiny_model, db):
    with pytest.raises(CommandError, match="source folders"):
        run("--held-out", photos / "0.jpg")
    with pytest.raises(CommandError, match="do not go together"):
        run("--held-out", "--split", "test", photos)


def test_make_run_seeds_the_study_without_a_pool_and_takes_a_port():
    out = subprocess.run(["make", "-n", "run", "PORT=8001", "VENV=/nonexistent-venv"], cwd=REPO,
                         capture_output=True, text=True, timeout=60).stdout
    assert "study_add --held-out ../shared/datasets/voc2007_subset --count 40" in out
    assert "runsite --bind 127.0.0.1:8001" in out
