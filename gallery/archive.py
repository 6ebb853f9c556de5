"""ZIP downloads: a whole gallery's results, a chosen few, or everything of a
person (originals, results, and a JSON of their galleries and photos).

Streamed: zipfile writes into a buffer that the response's generator empties
after every chunk, so a gallery of thousands of full-size PNGs never sits in
memory or on disk. zipfile handles an output it cannot seek by writing data
descriptors after each member, which every unzip tool reads. PNGs and JPEGs
are stored, not deflated: they are compressed already.

A ZIP is never cut short silently. Its length is not known in advance, so it goes out in
HTTP/1.1 chunks; a failure half-way (a file unreadable, the disk gone) raises out of the
generator, and the server (gunicorn's gthread worker, as runsite runs it) closes the
connection without the last chunk: the client sees a broken transfer, not a short ZIP that
looks whole. (A file deleted before its turn is left out, on purpose.) Behind nginx this holds
with `proxy_http_version 1.1` (README). Each ZIP holds one of its owner's download slots while
it streams (gallery/streams.py).

The results carry what the owner's own downloads carry (gallery/provenance.py: by default
the shareable part of the original's metadata, everything when they asked for it); the
account export's originals are the owner's files, byte for byte.

Names in the archive never collide (two "scan.png" become "scan-color.png"
and "scan (2)-color.png") and never leave the archive's folder.
"""

import json
import zipfile

from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from gallery import provenance, streams

CHUNK_BYTES = 1024 * 1024


class _Pipe:
    """A write-only file for zipfile: bytes wait here until the generator takes them."""

    def __init__(self):
        self.chunks = []

    def write(self, data):
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        data, self.chunks = b"".join(self.chunks), []
        return data


def safe_name(name):
    """A file or folder name that stays one path component in any unzip tool."""
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name).strip(" .")
    return cleaned[:150] or "photo"


class UniqueNames:
    """"name.ext", then "name (2).ext", ... within one archive."""

    def __init__(self):
        self.used = set()

    def __call__(self, folder, stem, ext, suffix=""):
        stem = safe_name(stem)
        prefix = "".join(f"{safe_name(part)}/" for part in folder.split("/") if part) if folder else ""
        candidate, n = f"{prefix}{stem}{suffix}{ext}", 1
        while candidate.lower() in self.used:
            n += 1
            candidate = f"{prefix}{stem} ({n}){suffix}{ext}"
        self.used.add(candidate.lower())
        return candidate


def stream(entries):
    """Yield a ZIP's bytes for (name in the archive, source) entries; a source is a storage
    name, bytes, or an iterator of bytes (a result whose metadata is rewritten as it streams).
    A stored file that has gone (deleted meanwhile) is left out."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for arcname, source in entries:
            if isinstance(source, bytes):
                zf.writestr(arcname, source, compress_type=zipfile.ZIP_DEFLATED)
                yield pipe.take()
                continue
            try:
                chunks = _file_chunks(default_storage.open(source, "rb")) if isinstance(source, str) else source
            except FileNotFoundError:
                continue
            with zf.open(zipfile.ZipInfo(arcname, timezone.localtime().timetuple()[:6]), "w",
                         force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
                    yield pipe.take()
        yield pipe.take()
    yield pipe.take()  # the central directory, written on close


def _file_chunks(f):
    with f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def _result(photo, everything):
    """The photo's result PNG as the owner's downloads carry it (a source for stream()); None
    when it has gone meanwhile."""
    try:
        return provenance.result_png(photo, everything)
    except FileNotFoundError:
        return None


def result_entries(photos, everything, names=None, folder=""):
    """The colorized results of the finished photos among `photos` (all carrying `everything`
    of their originals' metadata, or not)."""
    names = names or UniqueNames()
    for photo in photos:
        if photo.status == photo.DONE and photo.result and (source := _result(photo, everything)):
            yield names(folder, photo.title, ".png", "-color"), source


def account_entries(user):
    """Everything of a person: originals and results by gallery, and account.json."""
    names = UniqueNames()
    everything = provenance.keeps_everything(user)
    record = {"username": user.username, "email": user.email, "exported_at": timezone.now().isoformat(), "galleries": []}
    for gallery in user.galleries.all():
        photos = list(gallery.photos.all())
        folder = safe_name(gallery.name)  # one folder, whatever slashes the name holds
        entry = {"name": gallery.name, "created": gallery.created.isoformat(), "photos": []}
        for photo in photos:
            ext = "." + photo.original.name.rsplit(".", 1)[-1]
            original = names(f"{folder}/originals", photo.title, ext)
            yield original, photo.original.name
            facts = {"id": photo.pk, "original_filename": photo.original_filename, "original": original,
                     "uploaded": photo.created.isoformat(), "width": photo.width, "height": photo.height,
                     "status": photo.status, "shared": bool(photo.share_token), "provenance": photo.provenance}
            if photo.status == photo.DONE and photo.result and (source := _result(photo, everything)):
                facts["result"] = names(f"{folder}/colorized", photo.title, ".png", "-color")
                yield facts["result"], source
            entry["photos"].append(facts)
        record["galleries"].append(entry)
    yield "account.json", json.dumps(record, indent=2, ensure_ascii=False).encode()


def zip_response(entries, filename, person):
    """A streaming response of the ZIP, holding one of `person`'s download slots while it runs
    (gallery/streams.py). Raises TooManyDownloads when they are all taken."""
    response = StreamingHttpResponse(streams.capped(person, stream(entries)), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def gallery_zip(gallery, photos=None):
    """A ZIP of the gallery's finished results (or of `photos`, some of them)."""
    photos = gallery.photos.all() if photos is None else photos
    everything = provenance.keeps_everything(gallery.owner)
    return zip_response(result_entries(photos.iterator(), everything), f"{safe_name(gallery.name)}-colorized.zip",
                        gallery.owner)


def account_zip(user):
    return zip_response(account_entries(user), f"{safe_name(user.username)}-colorsite-export.zip", user)
