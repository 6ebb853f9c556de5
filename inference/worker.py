"""
The RQ worker class for `manage.py rqworker colorize` (set as
RQ["WORKER_CLASS"] in settings).
"""

from rq import Worker


class ColorizeWorker(Worker):
    pass
