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

from django.conf import settings
from rq.worker import SimpleWorker

logger = logging.getLogger("inference")


class ColorizeWorker(SimpleWorker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", settings.SWEEP_INTERVAL)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self):
        # Wake up from the blocking wait for jobs often enough to sweep.
        return max(1, min(super().dequeue_timeout, settings.SWEEP_INTERVAL))

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        from inference.jobs import sweep

        try:
            counts = sweep()
        except Exception:
            logger.exception("Sweeping jobs failed")
            return
        if any(counts.values()):
            logger.info("Swept jobs: %s", counts)
