"""
`manage.py rqworker colorize` with test-only faults, for tests/test_faults.py
(not a test module). Settings come from the environment, as for a real
worker. Faults, each set by an environment variable:

FAULT_SLOW_JOB=<path>   each job, once it has claimed its photo, creates
                        <path> and then hangs, for the test to kill it there.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from inference import jobs  # noqa: E402

if os.environ.get("FAULT_SLOW_JOB"):
    marker = Path(os.environ["FAULT_SLOW_JOB"])
    real_get_colorizer = jobs.get_colorizer
    loaded = []

    def hanging_get_colorizer():
        # The worker loads the model once at start (not a job): let that by.
        if not loaded:
            loaded.append(True)
            return real_get_colorizer()
        marker.touch()
        time.sleep(3600)

    jobs.get_colorizer = hanging_get_colorizer

call_command("rqworker", "colorize", skip_checks=False)
