"""
Restore a backup made by `manage.py backup DIR` into this site: run it
against a fresh database (`migrate` first) and an empty media folder. Every
file is checked against the manifest before anything is written, and the
rows and files go in together or not at all. Afterwards people sign in again
(sessions are not backed up); photos that were waiting or running are sent to
the workers again by the sweeper.
"""

from django.core.management.base import BaseCommand, CommandError

from gallery.backups import BackupError, restore_backup, verify_backup


class Command(BaseCommand):
    help = "Restore a backup folder into a fresh migrated database and an empty media folder."

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="DIR")
        parser.add_argument("--check", action="store_true", help="only check the backup against its manifest")

    def handle(self, folder, check=False, verbosity=1, **options):
        try:
            if check:
                manifest = verify_backup(folder)
                self.stdout.write(f"{folder}: {len(manifest['files'])} files match the manifest.")
                return
            manifest = restore_backup(folder, log=self.stdout.write if verbosity >= 2 else lambda m: None)
        except BackupError as e:
            raise CommandError(str(e)) from None
        if verbosity >= 1:
            counts = manifest["counts"]
            self.stdout.write(f"Restored {counts['people']} people and {counts['photos']} photos from {folder}.")
