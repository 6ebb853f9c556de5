"""
A photo's colorization job, top to bottom: its states, how it is sent, claimed, kept alive,
finished or failed, and how the sweeper finds the ones that got lost.

    upload ─▶ queued ──claim──▶ running ──colorize──▶ done ──request_render──▶ done (re-rendered,
                                                                             or re-coloured with hints)
                ▲                  │ └──fail──▶ failed ──retry──┐
                │                  │                            │
                └──requeue_if_lost─┘ (worker died; failed after COLORIZE_MAX_ATTEMPTS)
                └───────────────────────────────────────────────┘

The database row is the truth; Redis is transport. A job carries only the photo's primary
key, and is sent after the transaction that made or reset the row commits. Every transition
is one count-checked UPDATE (_transition), so two workers, a sweeper and a person clicking
"retry" can never both win, even when a job is delivered twice.

Imports run one way (mlcore <- gallery <- inference): the worker (inference/jobs.py) imports
the Photo model and calls these methods; this module names the worker's functions by their
dotted paths (COLORIZE_JOB, RENDER_JOB), as RQ accepts them, and imports nothing of it.
"""

import errno
import logging
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import redis
from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

logger = logging.getLogger("gallery")

# The queues and the functions the worker runs, by name. Workers serve "render" before
# "colorize" (`rqworker render colorize`): a re-render from a stored prediction is numpy only,
# well under a second, and moving the vividness slider must not wait behind a gallery's uploads.
QUEUE_NAME = "colorize"
RENDER_QUEUE_NAME = "render"
COLORIZE_JOB = "inference.jobs.colorize_photo"
RENDER_JOB = "inference.jobs.render_photo"
# How long RQ keeps a finished job's return value (seconds): for a person looking in the RQ admin.
COLORIZE_RESULT_TTL = 3600
RENDER_RESULT_TTL = 600

# The settings, read at each use (tests and operators change them):
#   COLORIZE_JOB_TIMEOUT: RQ kills a job that runs longer;
#   COLORIZE_HEARTBEAT_SECONDS: a running job refreshes its row this often (heartbeat());
#   COLORIZE_MAX_ATTEMPTS: runs of a photo whose worker died, before it is failed;
#   SWEEP_INTERVAL: how often every worker runs sweep() (inference/worker.py).
# A job past its timeout is killed by RQ; give the worker this long to
# record that before the sweeper calls the job lost.
STALE_GRACE_SECONDS = 60
# A running job whose heartbeat is this many beats old is lost (its worker died): with the
# default 10 s beat and 15 s sweeps, a photo is queued again 30 to 45 s after its worker died.
LOST_AFTER_BEATS = 3
# A queued photo whose job Redis accepted this long ago but that no worker
# has claimed is checked against Redis: a Redis restart loses queued jobs.
# Re-renders asked for this long ago and not done are sent again.
QUEUED_RECHECK_SECONDS = 120
# Photos larger than this are colorized alone, never in a batch (claim_waiting): a batch shares
# one job's memory ceiling, and for a large photo the network is a small share of the time.
BATCH_MAX_PIXELS = 4_000_000
# Longest error text kept on a photo; enough for a readable reason.
MAX_ERROR_LENGTH = 500
# Redis unreachable, hung (a read timeout), or answering with an error (loading, read-only,
# out of memory): the photo is kept, and the sweeper sends its job later. Any of them escaping
# an after-commit enqueue would answer a 500 for a photo that is stored, and its retry would
# store a duplicate.
REDIS_DOWN = (redis.exceptions.RedisError, OSError)


def get_queue(name=QUEUE_NAME):
    import django_rq

    return django_rq.get_queue(name)


class JobQuerySet(models.QuerySet):
    def lost(self, now):
        """Running, but its worker is gone: no heartbeat for LOST_AFTER_BEATS beats (a worker
        killed, or its machine gone, is noticed in seconds), or running for longer than any
        job may run (a job whose worker still beats but never ends)."""
        silent = timedelta(seconds=settings.COLORIZE_HEARTBEAT_SECONDS * LOST_AFTER_BEATS)
        limit = timedelta(seconds=settings.COLORIZE_JOB_TIMEOUT + STALE_GRACE_SECONDS)
        return self.filter(status=ColorizationJob.RUNNING).filter(
            Q(heartbeat_at__lt=now - silent) | Q(started_at__lt=now - limit)
        )

    def to_send(self, now):
        """Queued but never accepted by Redis, or accepted long enough ago
        that a Redis restart may have lost the job."""
        recheck_before = now - timedelta(seconds=QUEUED_RECHECK_SECONDS)
        return self.filter(status=ColorizationJob.QUEUED).filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=recheck_before)
        )

    def renders_to_send(self, now):
        """Re-renders asked for long enough ago that their job may be lost (Redis was
        down, or restarted). Sending one twice is harmless: the second finds nothing asked."""
        return self.filter(
            status=ColorizationJob.DONE, render_requested_at__lt=now - timedelta(seconds=QUEUED_RECHECK_SECONDS)
        )


class ColorizationJob(models.Model):
    """The job half of a Photo (gallery.models.Photo): its state, and the re-render asked of
    it. The work itself (predict, render, store the files) is the Photo's (colorize(),
    render_requested())."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Colorizing"), (DONE, "Done"), (FAILED, "Failed")]

    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    # Set when Redis accepted the job; null means it still has to be sent
    # (Redis was unreachable), which the sweeper does.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    rq_job_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed by the running job every COLORIZE_HEARTBEAT_SECONDS (see heartbeat()).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A re-render asked for and not done yet (a job on the render queue): when, and at what.
    render_requested_at = models.DateTimeField(null=True, blank=True)
    requested_vividness = models.PositiveSmallIntegerField(null=True, blank=True)
    requested_temperature = models.FloatField(null=True, blank=True)
    render_error = models.CharField(max_length=500, blank=True)
    # The photo's colour hints changed: the next render runs the network (a hint render).
    hints_pending = models.BooleanField(default=False)
    # A render job is on its queue and has not started: a newer request joins it instead of
    # sending another, so however often people ask, one job per photo waits (send_render()).
    render_job_waiting = models.BooleanField(default=False)

    class Meta:
        abstract = True

    @property
    def status_label(self):
        if self.status == self.QUEUED and self.enqueued_at is None:
            return "Queued, will start when the queue is back"
        return dict(self.STATUS_CHOICES)[self.status]

    @property
    def is_rendering(self):
        return self.render_requested_at is not None

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    # -- sending: by the job's dotted path, after the commit -------------------

    @classmethod
    def enqueue(cls, pk):
        """Send the photo's job to Redis. Returns True when Redis accepted it.

        Redis being unreachable is not an error for the caller: the photo stays
        queued with enqueued_at empty, its page says it will start when the
        queue is back, and the sweeper sends it then.
        """
        job_id = f"photo-{pk}-{uuid.uuid4().hex[:12]}"
        try:
            get_queue().enqueue(COLORIZE_JOB, pk, job_id=job_id, job_timeout=settings.COLORIZE_JOB_TIMEOUT,
                                result_ttl=COLORIZE_RESULT_TTL)
        except REDIS_DOWN as e:
            logger.warning("Could not enqueue photo %s, the sweeper will retry: %s", pk, e)
            return False
        cls.objects.filter(pk=pk, status=cls.QUEUED).update(enqueued_at=timezone.now(), rq_job_id=job_id)
        return True

    def enqueue_on_commit(self):
        transaction.on_commit(lambda: self.enqueue(self.pk))

    @classmethod
    def enqueue_render(cls, pk, network=False):
        """Send a render job: on the render queue when it decodes the stored prediction, on the
        colorize queue when it runs the network (a hint render), behind the uploads already
        waiting there. With Redis down the sweeper sends it later."""
        try:
            get_queue(QUEUE_NAME if network else RENDER_QUEUE_NAME).enqueue(
                RENDER_JOB, pk, job_id=f"render-{pk}-{uuid.uuid4().hex[:12]}",
                job_timeout=settings.COLORIZE_JOB_TIMEOUT, result_ttl=RENDER_RESULT_TTL,
            )
        except REDIS_DOWN as e:
            logger.warning("Could not enqueue a re-render of photo %s, the sweeper will retry: %s", pk, e)
            return False
        return True

    def send_render(self):
        """After the commit, send a render job unless one already waits for this photo: that
        one reads the newest request when it starts (take_render()), so a newer request
        replaces a pending one and a flood of requests on one photo queues one job. A job
        waiting on the render queue when hints change runs the network there; that is at
        most one network run per photo ahead of the colorize queue."""
        if type(self).objects.filter(pk=self.pk, render_job_waiting=False).update(render_job_waiting=True):
            network = self.hints_pending
            transaction.on_commit(lambda: self.enqueue_render(self.pk, network))

    @classmethod
    def take_render(cls, pk):
        """A render job starts: from now on a new request sends a job of its own. Returns the
        photo as it is now (its newest request), or None when it is gone."""
        cls.objects.filter(pk=pk).update(render_job_waiting=False)
        return cls.objects.filter(pk=pk).first()

    # -- transitions: each one count-checked UPDATE ------------------------------

    def _transition(self, **changes):
        """Update this row only if it is still in the state this object saw
        (status and attempts); True when it was."""
        return bool(
            type(self).objects.filter(pk=self.pk, status=self.status, attempts=self.attempts).update(**changes)
        )

    @classmethod
    def claim(cls, pk):
        """queued -> running. Returns the photo, or None when it was not ours
        to run (already claimed, deleted, or no longer queued)."""
        claimed = cls.objects.filter(pk=pk, status=cls.QUEUED).update(
            status=cls.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), finished_at=None, error="",
            attempts=F("attempts") + 1,
        )
        return cls.objects.get(pk=pk) if claimed == 1 else None

    @classmethod
    def claim_waiting(cls, limit, exclude=()):
        """Claim up to `limit` more queued photos of at most BATCH_MAX_PIXELS, oldest first,
        for a worker to colorize in one pass of the network. Each is claimed as claim() does, so no other worker runs it:
        its own job, when a worker takes it, finds it claimed and does nothing. A worker
        that dies holding them stops their heartbeat, and the sweeper queues them again."""
        claimed = []
        if limit < 1:
            return claimed
        # A few more candidates than needed: other workers claim some of them meanwhile.
        candidates = (cls.objects.filter(status=cls.QUEUED).exclude(pk__in=exclude)
                      .alias(pixels=F("width") * F("height")).filter(pixels__lte=BATCH_MAX_PIXELS)
                      .order_by("queued_at", "pk").values_list("pk", flat=True)[:limit * 2])
        for pk in candidates:
            photo = cls.claim(pk)
            if photo is not None:
                claimed.append(photo)
                if len(claimed) == limit:
                    break
        return claimed

    def beat(self):
        """The running job is alive: refresh its heartbeat. False when the row is not this
        job's any more (swept and requeued, deleted): the job's output will be discarded."""
        return self._transition(heartbeat_at=timezone.now())

    def fail(self, reason):
        """running -> failed, with a reason people can read (readable_error())."""
        return self._transition(status=self.FAILED, finished_at=timezone.now(), error=reason[:MAX_ERROR_LENGTH])

    def retry(self):
        """failed -> queued, with a fresh set of attempts; sent after the commit."""
        updated = type(self).objects.filter(pk=self.pk, status=self.FAILED).update(
            status=self.QUEUED, error="", attempts=0, queued_at=timezone.now(), enqueued_at=None, rq_job_id=""
        )
        if updated:
            self.enqueue_on_commit()
        self.refresh_from_db()
        return bool(updated)

    def requeue_if_lost(self, now, dry_run=False):
        """For a photo whose worker died (see JobQuerySet.lost): running ->
        queued, or -> failed after COLORIZE_MAX_ATTEMPTS. Returns "requeued"
        or "failed" (what was, or with dry_run would be, done), or None when
        the row had moved on meanwhile. The caller sends a requeued photo."""
        if self.attempts >= settings.COLORIZE_MAX_ATTEMPTS:
            reason = (f"The worker stopped while colorizing this photo, {self.attempts} times. "
                      "Retry it, or try a smaller photo.")
            changed = dry_run or self._transition(status=self.FAILED, finished_at=now, error=reason)
            return "failed" if changed else None
        changed = dry_run or self._transition(status=self.QUEUED, queued_at=now, enqueued_at=None, rq_job_id="")
        return "requeued" if changed else None

    # -- the sweeper -------------------------------------------------------------

    @classmethod
    def sweep(cls, now=None, dry_run=False):
        """Find jobs that need help; return counts of what was (or would be) done. Every
        worker runs it each SWEEP_INTERVAL, and `manage.py sweep_jobs` on demand; every step
        is count-checked, so several sweeping at once do no harm.

        - running, but its heartbeat stopped or it ran past the job timeout plus a grace
          period: the worker died. Queue it again, or fail it after COLORIZE_MAX_ATTEMPTS.
        - queued but never accepted by Redis (it was down): send it now.
        - queued, accepted a while ago, but the job is gone from Redis (Redis
          restarted without its data): send it again.
        - a re-render asked for a while ago and still not done: send it again.
        """
        now = now or timezone.now()
        counts = {"requeued": 0, "failed": 0, "enqueued": 0, "renders": 0}
        for job in cls.objects.lost(now):
            outcome = job.requeue_if_lost(now, dry_run=dry_run)
            if outcome:
                counts[outcome] += 1
            if outcome == "requeued" and not dry_run:
                cls.enqueue(job.pk)

        for job in cls.objects.to_send(now):
            if job.enqueued_at is not None:
                try:
                    if _job_is_waiting(job.rq_job_id):
                        continue
                except redis.exceptions.RedisError:
                    continue  # cannot tell; try again next sweep
            counts["enqueued"] += 1
            if not dry_run:
                cls.enqueue(job.pk)

        for job in cls.objects.renders_to_send(now):
            counts["renders"] += 1
            if not dry_run:
                cls.enqueue_render(job.pk, job.hints_pending)
        return counts


def _job_is_waiting(job_id):
    """Is this RQ job still on its way to a worker (queued or scheduled)?"""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=get_queue().connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


# -- while it runs -----------------------------------------------------------------


@contextmanager
def heartbeat(*jobs):
    """While the block runs, a thread refreshes the jobs' heartbeats every
    COLORIZE_HEARTBEAT_SECONDS (job.beat()), so that the sweeper can tell a
    long job from one whose worker died (SIGKILL, out of memory, a machine
    gone) within seconds instead of after the job's whole time limit. The
    thread uses a database connection of its own and closes it. A worker
    colorizing a batch beats for each of its photos."""
    from django.db import connection

    stop = threading.Event()

    def beat():
        alive = list(jobs)
        try:
            while alive and not stop.wait(settings.COLORIZE_HEARTBEAT_SECONDS):
                for job in list(alive):
                    try:
                        if not job.beat():
                            alive.remove(job)  # not ours any more; its result will be discarded
                    except Exception as e:  # the database restarting: try again next beat
                        logger.warning("Photo %s: heartbeat failed: %s", job.pk, e)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-photo-{jobs[0].pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class ReadableError(Exception):
    """A failure whose message is written for the people whose photo failed (the worker's
    ModelUnavailable is one): it is shown as it is."""


def readable_reason(e):
    """Why a file operation failed, in words, without the server's paths (an OSError's own
    text names the file)."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the server is out of space for results right now. Try again later."
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)


def readable_error(e):
    """What a failed photo says about why, from the exception its job raised."""
    from PIL import UnidentifiedImageError
    from rq.timeouts import JobTimeoutException

    if isinstance(e, ReadableError):
        return str(e)
    if isinstance(e, JobTimeoutException):
        return f"Colorizing took longer than the limit of {settings.COLORIZE_JOB_TIMEOUT} seconds."
    # torch says "DefaultCPUAllocator: can't allocate memory" in a RuntimeError; under the job's
    # memory ceiling a writer thread's stack may not fit either ("can't start new thread").
    if isinstance(e, MemoryError) or "can't allocate memory" in str(e) or "can't start new thread" in str(e):
        return "The photo is too large to colorize on this server."
    if isinstance(e, (UnidentifiedImageError, SyntaxError)) or (isinstance(e, OSError) and "image" in str(e)):
        return f"The photo could not be read: {e}"
    if isinstance(e, FileNotFoundError):
        return "The original photo file is missing."
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"Colorizing failed: {readable_reason(e)}"
    return f"Colorizing failed: {type(e).__name__}: {e}"
