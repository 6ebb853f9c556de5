"""
Find colorization jobs that need help, and help them.

The database row is the truth about each photo's job; Redis only carries it
to a worker. So a job can be lost two ways: its worker died mid-job (the row
says "running" long after any job may run), or Redis never got it (it was
down at upload, or restarted and lost its data). This command queues such
photos again, up to COLORIZE_MAX_ATTEMPTS runs, then marks them failed with
a reason. Every worker runs the same sweep every SWEEP_INTERVAL seconds;
this command is for cron, or to look with --dry-run. The sweep itself is
gallery/job.py's ColorizationJob.sweep().
"""

from django.core.management.base import BaseCommand

from gallery.models import Photo


class Command(BaseCommand):
    help = "Requeue or fail colorization jobs lost by dead workers or a Redis outage."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")

    def handle(self, *args, dry_run=False, verbosity=1, **options):
        counts = Photo.sweep(dry_run=dry_run)
        if verbosity >= 1:
            prefix = "Would have " if dry_run else ""
            self.stdout.write(
                f"{prefix}requeued {counts['requeued']} lost job(s), failed {counts['failed']}, "
                f"sent {counts['enqueued']} queued job(s) to Redis."
            )
