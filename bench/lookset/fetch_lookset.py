#!/usr/bin/env python3
"""Re-create the colour look set (old black-and-white photos) from sources.csv.

Each row of sources.csv names a GitHub repository, a commit and a path; the file is
read with git from a bare mirror of that repository, converted to RGB JPEG (quality 92,
longer side at most 1600 px, never upscaled) and written to <out>/<file>.

Usage:
    python fetch_lookset.py [MIRRORS] [--csv sources.csv] [--out data/lookset]
                            [--clone-missing] [--exclude exclude_dhash.txt]

MIRRORS is a folder holding one bare git dir per repository, as
MIRRORS/<owner>+<name>/repo (default /work/.mirror). With --clone-missing, a
repository absent there is cloned from https://github.com/<owner>/<name> into
MIRRORS/<owner>+<name>/repo (bare, blobs fetched on demand); a commit that the
default clone lacks is fetched by its id, falling back to GitHub's pull-request refs
(the DeOldify test images only exist as real files in an unmerged ImgBot PR; on
master they are Git LFS pointers).

The images are for looking at the model's colours only: never train or tune on them.
With --exclude, every output is checked against the acceptance-photo dHash list and
the script fails if one is within 8 bits (it should never happen: the list was checked
when sources.csv was made).
"""
import argparse
import csv
import io
import os
import subprocess
import sys

from PIL import Image

MAX_SIDE = 1600
QUALITY = 92


def git(gitdir, *args, binary=False):
    out = subprocess.run(["git", "--git-dir", gitdir, *args], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return out.stdout if binary else out.stdout.decode().strip()


def has_commit(gitdir, commit):
    r = subprocess.run(["git", "--git-dir", gitdir, "cat-file", "-e", commit + "^{commit}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def ensure_repo(mirrors, repo, commit, clone_missing):
    gitdir = os.path.join(mirrors, repo.replace("/", "+"), "repo")
    if not os.path.isdir(gitdir):
        if not clone_missing:
            sys.exit(f"no mirror for {repo} at {gitdir} (use --clone-missing to clone it)")
        os.makedirs(os.path.dirname(gitdir), exist_ok=True)
        subprocess.run(["git", "clone", "--bare", "--filter=blob:none",
                        f"https://github.com/{repo}.git", gitdir], check=True)
    if not has_commit(gitdir, commit):
        if not clone_missing:
            sys.exit(f"{repo}: commit {commit} not in {gitdir} (use --clone-missing to fetch it)")
        r = subprocess.run(["git", "--git-dir", gitdir, "fetch", "origin", commit])
        if r.returncode != 0 or not has_commit(gitdir, commit):
            subprocess.run(["git", "--git-dir", gitdir, "fetch", "origin",
                            "+refs/pull/*/head:refs/remotes/origin/pr/*"], check=True)
        if not has_commit(gitdir, commit):
            sys.exit(f"{repo}: could not get commit {commit}")
    return gitdir


def dhash64(im):
    """64-bit dHash of a freshly opened (not yet loaded) Pillow image."""
    im.draft("RGB", (64, 64))
    px = list(im.convert("L").resize((9, 8), Image.LANCZOS).getdata())
    v = 0
    for r in range(8):
        for c in range(8):
            v = (v << 1) | (1 if px[r * 9 + c + 1] > px[r * 9 + c] else 0)
    return v


def load_exclude(path):
    hs = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            hs.append(int(line.split()[0], 16))
    return hs


def convert(data):
    im = Image.open(io.BytesIO(data))
    im.load()
    im = im.convert("RGB")
    w, h = im.size
    if max(w, h) > MAX_SIDE:
        s = MAX_SIDE / max(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=QUALITY)
    return buf.getvalue()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mirrors", nargs="?", default="/work/.mirror")
    ap.add_argument("--csv", default=os.path.join(here, "sources.csv"))
    ap.add_argument("--out", default="data/lookset")  # ignored by git: never in the repo
    ap.add_argument("--clone-missing", action="store_true")
    ap.add_argument("--exclude", help="exclude_dhash.txt: fail if an image is within 8 bits")
    a = ap.parse_args()

    rows = list(csv.DictReader(open(a.csv, newline="")))
    os.makedirs(a.out, exist_ok=True)
    excl = load_exclude(a.exclude) if a.exclude else []
    bad = []
    for row in rows:
        gitdir = ensure_repo(a.mirrors, row["repository"], row["commit"], a.clone_missing)
        data = git(gitdir, "cat-file", "blob", f'{row["commit"]}:{row["path"]}', binary=True)
        if data.startswith(b"version https://git-lfs"):
            sys.exit(f'{row["file"]}: {row["path"]} is a Git LFS pointer at that commit')
        jpg = convert(data)
        with open(os.path.join(a.out, row["file"]), "wb") as f:
            f.write(jpg)
        if excl:
            h = dhash64(Image.open(io.BytesIO(jpg)))
            d = min(bin(h ^ e).count("1") for e in excl)
            if d <= 8:
                bad.append((row["file"], d))
        print(row["file"])
    if bad:
        sys.exit(f"within 8 bits of an acceptance photo: {bad}")
    print(f"{len(rows)} images written to {a.out}")


if __name__ == "__main__":
    main()
