"""manage.py backup DIR / restore DIR: back up, wipe, restore, and every
person's photos come back byte for byte (on SQLite, and on PostgreSQL in CI's
second pass); a damaged backup or a database in use is refused untouched."""

import hashlib
import json
import shutil
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.core.files.storage import default_storage

from gallery.api.models import ApiToken
from gallery.quota import Plan, QuotaUsage
from gallery.models import Photo
from tests.conftest import run_worker
from tests.test_jobs import new_photo

FILES = ["original", "before", "thumbnail", "prediction", "result", "after"]


@pytest.fixture
def site(transactional_db, owner, stranger, redis_conn, tiny_model, settings):
    """Two people with colorized photos, an API key, a plan; one photo still queued."""
    for person, names in ((owner, ["a.png", "b.png"]), (stranger, ["c.png"])):
        for name in names:
            new_photo(person, name, size=(70, 50))
            # Autocommit here: each was sent to Redis at once.
    run_worker()
    new_photo(owner, "waiting.png")
    Plan.objects.create(user=owner, name="big", daily_quota=500)
    _, key = ApiToken.create(owner, "laptop")
    return key


def snapshot():
    """Everything a person would miss: rows and the bytes of every file."""
    photos = {}
    for photo in Photo.objects.select_related("owner", "gallery"):
        files = {f: hashlib.sha256(default_storage.open(getattr(photo, f).name).read()).hexdigest()
                 for f in FILES if getattr(photo, f)}
        photos[photo.pk] = (photo.owner.username, photo.gallery.name, photo.status, photo.original_filename,
                            photo.share_token, photo.folder, files)
    people = sorted(get_user_model().objects.values_list("pk", "username", "email", "password"))
    return people, photos


def backup(folder):
    out = StringIO()
    call_command("backup", str(folder), stdout=out)
    return out.getvalue()


def wipe(settings):
    call_command("flush", interactive=False, verbosity=0)  # a fresh migrated database
    shutil.rmtree(settings.MEDIA_ROOT)


def test_back_up_wipe_restore_gives_every_persons_photos_back_byte_for_byte(site, settings, tmp_path, client):
    before = snapshot()
    assert len(before[1]) == 4 and sum(len(p[-1]) for p in before[1].values()) == 3 * 6 + 3
    out = backup(tmp_path / "b")
    assert "Backed up 2 people, 4 photos and 21 files" in out

    wipe(settings)
    assert not Photo.objects.exists()
    out = StringIO()
    call_command("restore", str(tmp_path / "b"), stdout=out)
    assert "Restored 2 people and 4 photos" in out.getvalue()

    assert snapshot() == before
    assert Plan.objects.get().daily_quota == 500
    # The key and the password work as before.
    assert client.get("/api/v1/photos/", HTTP_AUTHORIZATION=f"Token {site}").status_code == 200
    assert client.login(username="alice", password="correct horse battery")
    # New rows do not collide with restored ones (PostgreSQL's sequences follow the ids).
    assert new_photo(get_user_model().objects.get(username="alice"), "after.png").pk > max(before[1])


def test_a_damaged_backup_is_refused_before_anything_is_written(site, settings, tmp_path):
    backup(tmp_path / "b")
    result = next(p for p in (tmp_path / "b" / "media").rglob("result-*.png"))
    data = bytearray(result.read_bytes())
    data[100] ^= 0xFF
    result.write_bytes(bytes(data))
    wipe(settings)
    with pytest.raises(CommandError, match=r"result-1\.png does not match its checksum: the backup is damaged"):
        call_command("restore", str(tmp_path / "b"))
    assert not get_user_model().objects.exists() and not Path(settings.MEDIA_ROOT).exists()
    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore", str(tmp_path / "b"), "--check")


def test_restore_refuses_a_database_or_media_folder_in_use(site, settings, tmp_path):
    backup(tmp_path / "b")
    before = snapshot()
    with pytest.raises(CommandError, match="already holds people or photos"):
        call_command("restore", str(tmp_path / "b"))
    assert snapshot() == before
    media = sorted(p.read_bytes() for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    call_command("flush", interactive=False, verbosity=0)
    with pytest.raises(CommandError, match="media folder .* is not empty"):
        call_command("restore", str(tmp_path / "b"))
    assert not get_user_model().objects.exists()
    assert sorted(p.read_bytes() for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()) == media


def test_a_backup_never_overwrites_a_folder_and_lists_every_file_it_holds(site, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("mine")
    with pytest.raises(CommandError, match="is not empty"):
        backup(tmp_path / "used")
    backup(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "MANIFEST.json").read_text())
    on_disk = {str(p.relative_to(tmp_path / "b")) for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"MANIFEST.json"}
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    (tmp_path / "b" / "media" / "stray.txt").write_text("not from the site")
    with pytest.raises(CommandError, match="stray.txt is in the backup folder but not in its manifest"):
        call_command("restore", str(tmp_path / "b"), "--check")


def test_people_can_upload_while_a_backup_reads_the_database(site, owner, tmp_path, monkeypatch):
    # The backup reads one snapshot; a write from another connection meanwhile must not wait
    # for it (on SQLite an IMMEDIATE transaction would hold the write lock the whole time).
    import threading
    import time

    import gallery.backups
    from django.db import connection

    real_call_command = gallery.backups.call_command
    took = []

    def dump_then_write(*args, **kwargs):
        real_call_command(*args, **kwargs)

        def write():
            started = time.monotonic()
            try:
                new_photo(owner, "during-backup.png")
            finally:
                connection.close()
            took.append(time.monotonic() - started)

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=60)

    monkeypatch.setattr(gallery.backups, "call_command", dump_then_write)
    backup(tmp_path / "b")
    assert took and took[0] < 5
    manifest = json.loads((tmp_path / "b" / "MANIFEST.json").read_text())
    assert manifest["counts"]["photos"] == 4  # the snapshot: the photo made meanwhile is not in it
    assert Photo.objects.count() == 5


# Written by `manage.py backup` before the quota's tables moved from the API app to the
# gallery: a person with a plan, two days of usage, a permission on plans and an admin edit
# of the plan, all under the labels api.plan and api.quotausage.
OLD_BACKUP = Path(__file__).parent / "old_backups" / "quota-in-the-api-app"


def test_a_backup_written_while_the_quota_lived_in_the_api_app_restores_under_the_gallery(db):
    written = (OLD_BACKUP / "database.json").read_text()
    assert '"model": "api.plan"' in written and '"model": "api.quotausage"' in written
    assert '["api", "plan"]' in written and '["change_plan", "api", "plan"]' in written

    call_command("restore", str(OLD_BACKUP), stdout=StringIO())

    alice = get_user_model().objects.get(username="alice")
    assert Plan.objects.get(user=alice).daily_quota == 7
    assert sorted(QuotaUsage.objects.filter(user=alice).values_list("day", "count")) == [
        (date(2026, 12, 1), 3), (date(2026, 12, 2), 5)]
    # Her permission and the admin's history follow the plan to its new label.
    assert alice.has_perm("gallery.change_plan")
    assert LogEntry.objects.get().get_edited_object() == Plan.objects.get()


def test_restore_knows_every_field_that_names_a_content_type_or_permissions():
    from django.apps import apps
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from gallery.backups import CONTENT_TYPE_FIELDS, NOT_BACKED_UP, PERMISSIONS_FIELDS

    def fields(related, many):
        return {model._meta.label_lower: field.name for model in apps.get_models()
                if not {model._meta.app_label, model._meta.label_lower} & set(NOT_BACKED_UP)
                for field in model._meta.get_fields(include_hidden=False)
                if field.concrete and field.related_model is related and field.many_to_many == many}

    assert fields(ContentType, False) == CONTENT_TYPE_FIELDS
    assert fields(Permission, True) == PERMISSIONS_FIELDS
