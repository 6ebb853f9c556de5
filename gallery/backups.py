"""
Backups of a whole site: its database (people, galleries, photos, keys,
quotas) and its media folder (originals, results, predictions), with a
manifest of SHA-256 checksums, restorable into a fresh migrated database and
an empty media folder on SQLite or PostgreSQL (either way: the database is
written as Django's portable JSON, with primary keys kept, since photo
folders are named after their owner's id).

A backup folder holds:
    database.json   every row but sessions (a restored site signs everyone
                    out), content types and permissions (migrate makes those)
    media/...       every file under MEDIA_ROOT, at the same paths
    MANIFEST.json   format, time, migrations applied, and the checksum and
                    size of every file above

The database is read as one snapshot (see _snapshot), so its rows agree with
each other while people keep using the site, and no upload waits; the files
are copied after it, so every photo of the snapshot has its files unless it
was deleted meanwhile (those are counted as missing). Restore checks every
checksum before it writes anything, loads the rows and copies the files
inside one transaction, and refuses a database or media folder that holds
anything of people already.
"""

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = 1
MANIFEST, DATABASE, MEDIA = "MANIFEST.json", "database.json", "media"
# Made by migrate in the target database, of no use in a restored one, or (django_rq's admin
# model) not a table at all.
NOT_BACKED_UP = ["contenttypes", "auth.permission", "sessions", "django_rq"]
CHUNK = 1 << 20
# Models that changed app since backups began, by old label: a backup names them (and, in
# natural keys, their content types and permissions) the way the site that wrote it did.
MOVED_MODELS = {"api.plan": "gallery.plan", "api.quotausage": "gallery.quotausage"}
# Fields that name a content type, or permissions, by natural key in a backup, by model
# label (a test keeps these in step with the installed models). Those keys hold app labels.
CONTENT_TYPE_FIELDS = {"admin.logentry": "content_type"}
PERMISSIONS_FIELDS = {"auth.group": "permissions", "auth.user": "user_permissions"}


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why and what to do."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _media_files(root):
    """Relative paths of every file under root, sorted."""
    root = Path(root)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _applied_migrations():
    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def _referenced_files():
    """Storage names of every file the database points at."""
    from gallery.models import Photo

    fields = ["original", "before", "thumbnail", "prediction", "result", "after"]
    names = set()
    for row in Photo.objects.values_list(*fields):
        names.update(name for name in row if name)
    return names


@contextmanager
def _snapshot():
    """Every query inside sees the database as of one instant, while the site keeps writing.
    PostgreSQL: a REPEATABLE READ transaction. SQLite: a plain (deferred) read transaction,
    which in WAL mode is a snapshot that blocks no writer; Django's atomic() would begin an
    IMMEDIATE one (see settings), holding the write lock, and uploads would wait on the
    backup. Inside a transaction already (tests), that one is the snapshot."""
    if connection.in_atomic_block:
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")  # nothing was written: ending the read is all
    else:
        with transaction.atomic():
            yield


def write_backup(folder, log=lambda message: None):
    """Back the site up into `folder` (new, or empty). Returns the manifest."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty; back up into a new folder.")
    folder.mkdir(parents=True, exist_ok=True)

    with _snapshot():
        call_command("dumpdata", exclude=NOT_BACKED_UP, natural_foreign=True, indent=None,
                     output=str(folder / DATABASE), verbosity=0)
        migrations = _applied_migrations()
        referenced = _referenced_files()
        from gallery.models import Photo

        counts = {"people": get_user_model().objects.count(), "photos": Photo.objects.count()}
    log(f"Database: {counts['people']} people and {counts['photos']} photos written to {DATABASE}.")

    media_root = Path(settings.MEDIA_ROOT)
    copied = _media_files(media_root)
    for name in copied:
        target = folder / MEDIA / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(media_root / name, target)
    missing = sorted(referenced - set(copied))
    log(f"Media: {len(copied)} files copied" + (f"; {len(missing)} referenced files were missing" if missing else "."))

    files = {DATABASE: _entry(folder / DATABASE)}
    files.update({f"{MEDIA}/{name}": _entry(folder / MEDIA / name) for name in copied})
    manifest = {
        "format": FORMAT,
        "created": timezone.now().isoformat(),
        "database_vendor": connection.vendor,
        "migrations": migrations,
        "counts": counts,
        "missing_media": missing,
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def _entry(path):
    return {"sha256": sha256_of(path), "size": path.stat().st_size}


def verify_backup(folder):
    """The manifest, once every file in it is present with its size and checksum, and no
    file is there that it does not list. Raises BackupError naming the first problem."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise BackupError(f"{folder} holds no readable {MANIFEST}: {e}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is a backup of format {manifest.get('format')!r}; this site reads {FORMAT}.")
    listed = manifest["files"]
    present = {DATABASE} & {p.name for p in folder.iterdir()} | {f"{MEDIA}/{n}" for n in _media_files(folder / MEDIA)}
    for name in sorted(set(listed) | present):
        if name not in listed:
            raise BackupError(f"{name} is in the backup folder but not in its manifest.")
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{name} is missing from the backup.")
        if path.stat().st_size != listed[name]["size"] or sha256_of(path) != listed[name]["sha256"]:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged.")
    return manifest


def _relabel_natural_key(key):
    """A content type's natural key ([app, model]) or a permission's ([codename, app,
    model]) under today's label of its model."""
    label = MOVED_MODELS.get(".".join(key[-2:]))
    return key[:-2] + label.split(".") if label else key


def _relabelled(rows):
    """The rows of database.json with every moved model under its label of today."""
    for row in rows:
        row["model"] = MOVED_MODELS.get(row["model"], row["model"])
        fields = row["fields"]
        if name := CONTENT_TYPE_FIELDS.get(row["model"]):
            fields[name] = _relabel_natural_key(fields[name])
        if name := PERMISSIONS_FIELDS.get(row["model"]):
            fields[name] = [_relabel_natural_key(key) for key in fields[name]]
    return rows


def restore_backup(folder, log=lambda message: None):
    """Restore a backup made by write_backup into this site's (migrated, empty) database
    and (empty) media folder. Checks everything first; writes nothing on any error."""
    folder = Path(folder)
    manifest = verify_backup(folder)
    log(f"Checked {len(manifest['files'])} files against the manifest.")

    unknown = sorted(set(manifest["migrations"]) - set(_applied_migrations()))
    if unknown:
        raise BackupError(f"The backup was made by a newer version of the site (migrations {', '.join(unknown[:3])} "
                          "are not applied here). Update the code and run migrate first.")
    from gallery.models import Photo

    if get_user_model().objects.exists() or Photo.objects.exists():
        raise BackupError("This database already holds people or photos; restore into a fresh migrated database.")
    media_root = Path(settings.MEDIA_ROOT)
    if _media_files(media_root):
        raise BackupError(f"The media folder {media_root} is not empty; restore into an empty one.")

    media = sorted(name for name in manifest["files"] if name.startswith(MEDIA + "/"))
    copied = []
    try:
        with transaction.atomic(), tempfile.TemporaryDirectory() as scratch:
            rows = Path(scratch) / DATABASE
            written = json.loads((folder / DATABASE).read_text(encoding="utf-8"))
            rows.write_text(json.dumps(_relabelled(written)), encoding="utf-8")
            call_command("loaddata", str(rows), verbosity=0)
            for name in media:
                target = media_root / name[len(MEDIA) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(folder / name, target)
                copied.append(target)
                if sha256_of(target) != manifest["files"][name]["sha256"]:
                    raise BackupError(f"{target} was not written correctly (checksum); nothing was restored.")
    except BaseException:
        for target in copied:  # the rows rolled back; their files go too
            try:
                os.remove(target)
            except OSError:
                pass
        raise
    log(f"Restored {manifest['counts']['people']} people and {len(media)} files.")
    return manifest
