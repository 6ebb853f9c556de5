"""
Back up the whole site into a new folder: the database as portable JSON
(people, galleries, photos, API keys, quotas), every file of the media
folder, and MANIFEST.json with the checksum of each. `manage.py restore DIR`
puts it back, on SQLite or PostgreSQL. Safe while the site runs: the
database is read as one snapshot. See gallery/backups.py.
"""

from django.core.management.base import BaseCommand, CommandError

from gallery.backups import BackupError, write_backup


class Command(BaseCommand):
    help = "Back up the database and the media folder into DIR (new or empty), with a checksum manifest."

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="DIR")

    def handle(self, folder, verbosity=1, **options):
        try:
            manifest = write_backup(folder, log=self.stdout.write if verbosity >= 2 else lambda m: None)
        except BackupError as e:
            raise CommandError(str(e)) from None
        if verbosity >= 1:
            counts = manifest["counts"]
            self.stdout.write(f"Backed up {counts['people']} people, {counts['photos']} photos and "
                              f"{len(manifest['files']) - 1} files into {folder}.")
            if manifest["missing_media"]:
                self.stderr.write(f"{len(manifest['missing_media'])} files the database refers to were missing "
                                  "(photos deleted while backing up, or lost before).")
