"""Where the photos beyond `../shared/datasets` come from, and how to get them.

Each source is a folder of plain git blobs at a fixed commit of a public GitHub repository.
`extract()` copies its photos out of a bare mirror of that repository (the session's `fetch`
verb makes one under /work/.mirror; elsewhere `git clone --bare` does) into DATA/extra/NAME,
keeping the paths inside the repository. Blobs the mirror lacks are counted, not fatal.
This table is the model card's record of the data: repository, commit, path, cap and terms.
"""
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

IMAGE_PATTERN = re.compile(r"\.(jpe?g|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class PhotoSource:
    name: str
    repository: str          # owner/name on GitHub
    commit: str
    paths: tuple             # folders inside the repository
    terms: str               # licence or terms of use, as far as known
    what: str
    cap: int = 0             # most photos drawn into the pool (0: all)
    skip: str = ""           # regular expression of paths to leave out

    @property
    def mirror_name(self):
        return self.repository.replace("/", "+")


SOURCES = (
    PhotoSource("coco40k", "syf0122/COMP5329_Assignment02", "7c1fe6ff6a8b1498e1cb85e2fa4c3870ffdfefbb",
                ("data/data",), "research terms (MS-COCO; Flickr licences of each photo)",
                "everyday scenes: people, rooms, food, streets, vehicles, animals"),
    PhotoSource("rooms", "SilviuBR24/room-classification", "0eca0b20ccf85e0278dcf88f887e320ff4cfa426",
                ("dataset",), "research terms (Places365)",
                "indoor scenes: bathroom, bedroom, dining room, entrance hall, kitchen, living room",
                cap=12000),
    # The repository's ILSVRC2012_val_* files may be photos of the pool's imagenet_val: left out.
    PhotoSource("imagenette", "thunderInfy/imagenette", "b850f030ff0701c36a4adc8b928ea9483a46915b",
                ("train", "val"), "research terms (ImageNet)", "10 ImageNet classes",
                skip=r"ILSVRC2012_val_"),
    PhotoSource("sports_rest", "alexchagan/sports-images-classifier", "2ee468e31346b32cd6762d2d2c323f7804661e02",
                ("sports-classifier-data",), "none stated (Kaggle 100 Sports)",
                "athletes, fields, arenas (the rest of sports100's source; duplicates dropped by dHash)"),
    PhotoSource("catsdogs", "chanakya2734/Image-classification-using-CNN", "bf746c6e53f1edacd97b383de350f7a495cef0e1",
                ("dataset",), "none stated", "pets, often with people and homes around them"),
    PhotoSource("clothing", "alexeygrigorev/clothing-dataset", "7ed86a9cc56763b6acb35e41cb35184e43a5d218",
                ("images",), "CC0", "garments on plain backgrounds"),
    PhotoSource("faces", "mattans/AgeProgression", "2d937c615a3d10408db0ea795842e569bc9eedb0",
                ("data/UTKFace/unlabeled",), "research terms (UTKFace, non-commercial)",
                "face crops of all ages and skin tones", cap=9000),
)


def by_name(name):
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(f"unknown photo source {name!r}; known: {', '.join(s.name for s in SOURCES)}")


def mirror_of(source, mirrors_root):
    """The bare git directory of a source's repository under mirrors_root (the fetch verb's
    `owner+name/repo` layout, or `owner+name.git`), cloned from GitHub when neither exists."""
    root = Path(mirrors_root)
    for candidate in (root / source.mirror_name / "repo", root / f"{source.mirror_name}.git"):
        if candidate.is_dir():
            return candidate
    target = root / f"{source.mirror_name}.git"
    subprocess.run(["git", "clone", "--bare", "--quiet", f"https://github.com/{source.repository}.git",
                    str(target)], check=True)
    return target


def photo_blobs(source, git_dir):
    """(blob id, path) of each photo of the source at its commit. Asking cat-file for blobs by id,
    not by `commit:path`, keeps extraction linear: a path lookup re-reads its whole folder's tree,
    and these folders hold up to 40,000 files."""
    listing = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", source.commit, "--", *source.paths],
        check=True, capture_output=True).stdout.decode()
    skip = re.compile(source.skip) if source.skip else None
    blobs = []
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        kind, oid = meta.split()[1:3]
        if kind == "blob" and IMAGE_PATTERN.search(path) and not (skip and skip.search(path)):
            blobs.append((oid, path))
    return blobs


def extract(source, git_dir, out_dir):
    """Write the source's photos under out_dir/NAME; returns (written, missing blobs)."""
    target = Path(out_dir) / source.name
    blobs = photo_blobs(source, git_dir)
    batch = subprocess.Popen(["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    written = missing = 0
    try:
        for oid, path in blobs:
            batch.stdin.write(f"{oid}\n".encode())
            batch.stdin.flush()
            header = batch.stdout.readline().split()
            if len(header) < 3 or header[1] != b"blob":
                missing += 1
                continue
            data = batch.stdout.read(int(header[2]))
            batch.stdout.read(1)  # the newline after each object
            dest = target / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            written += 1
    finally:
        batch.stdin.close()
        batch.wait()
    return written, missing
