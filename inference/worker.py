"""
The RQ worker class for `manage.py rqworker colorize` (RQ["WORKER_CLASS"]).

It does not fork a work horse per job, as RQ's default Worker does: the
colorizer is loaded once per process and must stay loaded between jobs, and
a CUDA context does not survive fork(). A worker that dies takes its job
with it; the sweeper notices and queues the photo again.

It also runs the sweeper every SWEEP_INTERVAL seconds, from RQ's own
maintenance hook: no extra scheduler process to deploy, and since every
step of the sweep is an atomic, count-checked update, several workers
sweeping at once do no harm.
"""

import logging
import os
import resource
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from rq.worker import SimpleWorker

logger = logging.getLogger("inference")


def refresh_db_connections():
    """What Django does around every request, for a long-lived worker: drop
    connections that broke (the database restarted) or grew too old, so the
    next query reconnects instead of failing for ever. Not inside a
    transaction (tests run the worker in-process, inside theirs)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def lower_cpu_priority(niceness):
    """Raise the niceness of this process's threads to `niceness` (never lower it: only root
    may). On Linux niceness belongs to each thread; threads started later inherit it."""
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # not Linux: the process as a whole
        threads = [0]
    for tid in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
        except OSError:  # the thread ended meanwhile
            pass
    logger.info("Worker CPU priority lowered to niceness %d", niceness)


def data_size():
    """Bytes of this process's data (heap and private writable mappings): what RLIMIT_DATA counts."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmData in /proc/self/status")


@contextmanager
def memory_ceiling(megabytes):
    """While the block runs, this process may grow by `megabytes` at most (RLIMIT_DATA, on top
    of what it holds now: the model, torch). Past it an allocation fails, the job gets a
    MemoryError and fails with a reason, and the worker lives on; the limit is lifted after.
    RQ's forking work-horse would take the limit with it, but this worker does not fork (see
    above), so the limit is set and restored around each job instead."""
    if not megabytes:
        yield
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        ceiling = data_size() + megabytes * 2**20
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))
    except (OSError, ValueError, AttributeError) as e:  # not Linux
        logger.warning("No memory ceiling for this job: %s", e)
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


class RoutineMaintenanceFilter(logging.Filter):
    """Keeps RQ's "cleaning registries" line out of the log unless DEBUG is asked for: RQ
    logs it at INFO at every maintenance run (each SWEEP_INTERVAL, 15 s), burying jobs and
    errors under it. Our own sweep logs when it finds something."""

    def filter(self, record):
        return "cleaning registries" not in str(record.msg) or logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


ROUTINE_MAINTENANCE = RoutineMaintenanceFilter()


class ColorizeWorker(SimpleWorker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", settings.SWEEP_INTERVAL)
        super().__init__(*args, **kwargs)
        self.log.addFilter(ROUTINE_MAINTENANCE)  # once: the same filter is not added twice

    def work(self, *args, **kwargs):
        # Before the model loads: threads started later (torch's) inherit the priority.
        lower_cpu_priority(settings.COLORIZE_WORKER_NICE)
        self.load_model()
        return super().work(*args, **kwargs)

    def load_model(self):
        """Load the model before the first job, and say clearly in the log
        when it cannot be: the worker still runs, and every job fails with
        the same reason, until the model is fixed (photos are kept and can
        be retried)."""
        from inference.jobs import get_colorizer

        try:
            get_colorizer()
        except Exception:
            # get_colorizer() logged which file and why.
            logger.error("No colorization model: every job will fail with a reason until it is fixed.")

    def execute_job(self, job, queue):
        refresh_db_connections()
        with memory_ceiling(settings.COLORIZE_JOB_MEMORY_MB):
            return super().execute_job(job, queue)

    @property
    def dequeue_timeout(self):
        # Wake up from the blocking wait for jobs often enough to sweep.
        return max(1, min(super().dequeue_timeout, settings.SWEEP_INTERVAL))

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        from gallery.models import Photo

        try:
            refresh_db_connections()
            counts = Photo.sweep()
        except Exception:
            logger.exception("Sweeping jobs failed")
            return
        if any(counts.values()):
            logger.info("Swept jobs: %s", counts)
