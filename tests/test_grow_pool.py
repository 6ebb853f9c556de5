"""Growing the pool: acceptance photos never trained on, near-duplicates never leak, the old test
split kept photo for photo; and fetch_photos copies sources out of a git repository."""
import csv
import subprocess

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from mlcore.training import photo_sources
from mlcore.training.dhash import dhash, min_distances


def _photo(rng, size=(48, 40)):
    return Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)


def _manifest(folder):
    with open(folder / "manifest.csv") as fh:
        return list(csv.DictReader(fh))


def test_dhash_is_64_bits_and_near_copies_are_near(tmp_path):
    rng = np.random.default_rng(0)
    photo = _photo(rng, (120, 90))
    photo.save(tmp_path / "a.png")
    photo.resize((60, 45)).save(tmp_path / "b.jpg", quality=70)
    _photo(rng, (120, 90)).save(tmp_path / "c.png")
    a, b, c = (dhash(tmp_path / n) for n in ("a.png", "b.jpg", "c.png"))
    assert 0 <= a < 2 ** 64
    assert min_distances(np.array([a], dtype=np.uint64), np.array([b], dtype=np.uint64))[0] <= 4
    assert min_distances(np.array([a], dtype=np.uint64), np.array([c], dtype=np.uint64))[0] > 8


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("grow")
    rng = np.random.default_rng(1)
    base = root / "base" / "things"
    added = root / "added" / "more"
    base.mkdir(parents=True)
    added.mkdir(parents=True)
    for i in range(20):
        _photo(rng).save(base / f"{i}.jpg")
    for i in range(30):
        _photo(rng).save(added / f"{i}.jpg")
    # A copy of a pool photo, a gray photo, a sepia print and an acceptance photo in the added source.
    Image.open(base / "0.jpg").save(added / "copy_of_base.jpg")
    Image.new("RGB", (40, 40), (120, 120, 120)).save(added / "gray.jpg")
    gray = np.asarray(_photo(rng).convert("L"), dtype=np.float32)
    sepia = np.stack([gray * 1.0, gray * 0.85, gray * 0.65], -1).astype(np.uint8)
    Image.fromarray(sepia).save(added / "sepia.jpg")
    secret = _photo(rng)
    secret.save(added / "acceptance.jpg")
    exclude = root / "exclude.txt"
    exclude.write_text(f"# acceptance\n{dhash(added / 'acceptance.jpg'):016x}\n{dhash(base / '5.jpg'):016x}\n")
    return root, exclude


def test_grown_pool_drops_duplicates_gray_toned_and_acceptance_photos_and_keeps_the_old_test_split(folders, tmp_path):
    root, exclude = folders
    plain, grown = tmp_path / "plain", tmp_path / "grown"
    call_command("prepare_dataset", str(root / "base"), "--out", str(plain), "--fraction", "1", "--size", "32",
                 "--workers", "1", verbosity=0)
    call_command("prepare_dataset", str(root / "base"), "--out", str(grown), "--fraction", "1", "--size", "32",
                 "--workers", "1", "--add", str(root / "added"), "--exclude-dhash", str(exclude), verbosity=0)
    before, after = _manifest(plain), _manifest(grown)
    test_before = {r["path"] for r in before if r["split"] == "test"}
    assert test_before == {r["path"] for r in after if r["split"] == "test" and r["source"] == "base"}
    base_five = [r for r in before if r["path"].endswith("/5.jpg")][0]
    assert (base_five in after) == (base_five["split"] == "test")  # near an acceptance photo: not trained on
    added = {r["path"].rsplit("/", 1)[1] for r in after if r["source"] == "added"}
    assert added and not added & {"copy_of_base.jpg", "gray.jpg", "sepia.jpg", "acceptance.jpg"}
    assert len(added) >= 28  # random photos: a rare chance match within 5 bits may go too
    for row in after:
        assert (grown / row["path"]).is_file()


def test_a_cap_limits_what_a_source_brings(folders, tmp_path, monkeypatch):
    root, exclude = folders
    from mlcore.management.commands import prepare_dataset
    monkeypatch.setattr(prepare_dataset, "SOURCES", [photo_sources.PhotoSource("added", "o/r", "0" * 40, (), "", "",
                                                                                cap=10)])
    call_command("prepare_dataset", str(root / "base"), "--out", str(tmp_path / "p"), "--fraction", "1",
                 "--size", "32", "--workers", "1", "--add", str(root / "added"), "--exclude-dhash", str(exclude),
                 verbosity=0)
    assert sum(r["source"] == "added" for r in _manifest(tmp_path / "p")) == 10


def test_adding_sources_needs_the_acceptance_list(folders, tmp_path):
    root, _ = folders
    with pytest.raises(CommandError, match="exclude-dhash"):
        call_command("prepare_dataset", str(root / "base"), "--out", str(tmp_path / "p"), "--add",
                     str(root / "added"), verbosity=0)


def test_fetch_photos_copies_a_sources_images_at_its_commit(tmp_path, monkeypatch):
    repo = tmp_path / "src"
    (repo / "pics" / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(repo / "pics" / "cats" / "a.jpg")
    (repo / "pics" / "notes.csv").write_text("not a photo")
    (repo / "pics" / "skip_me.jpg").write_bytes(b"x")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "photos"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(mirrors / "owner+name" / "repo")], check=True)
    source = photo_sources.PhotoSource("cats", "owner/name", commit, ("pics",), "CC0", "cats", skip=r"skip_me")
    monkeypatch.setattr(photo_sources, "SOURCES", (source,))
    from mlcore.management.commands import fetch_photos
    monkeypatch.setattr(fetch_photos, "SOURCES", (source,))
    monkeypatch.setattr(fetch_photos, "by_name", lambda name: source)
    call_command("fetch_photos", "--mirrors", str(mirrors), "--out", str(tmp_path / "extra"), verbosity=0)
    files = sorted(p.relative_to(tmp_path / "extra").as_posix() for p in (tmp_path / "extra").rglob("*") if p.is_file())
    assert files == ["cats/pics/cats/a.jpg"]
