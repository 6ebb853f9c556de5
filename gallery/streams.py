"""
How many long downloads (a gallery's ZIP, the account export) one person may have running at
once: DOWNLOAD_STREAMS_PER_PERSON. Each one holds a thread of a web process for as long as
its reader takes; without a cap, a few slow readers of one account held every thread.

A running download holds a slot: a member of a sorted set per person in Redis (shared by every
web process), scored with the time it expires. The download refreshes its slot as it sends,
and gives it back when it ends; the slot of a process that died (kill -9) expires
SLOT_SECONDS after its last refresh. While Redis is unreachable downloads are let through (and
a warning logged), as the throttles do: a cap must not take the downloads down with it. It is
a little inexact, for simplicity: two requests racing for the last slot may both be refused.
"""

import logging
import time
import uuid

from django.conf import settings
from redis.exceptions import RedisError

logger = logging.getLogger("gallery")

# A slot not refreshed for this long is free again. A download refreshes it with every chunk
# it sends (1 MB, gallery/archive.py), so only a reader slower than 1 MB a minute loses it.
SLOT_SECONDS = 60
REFRESH_SECONDS = 10
# What a refused request is told to wait: long enough for a typical download to end.
RETRY_AFTER_SECONDS = 30
KEY = "colorsite-streams:{}"


class TooManyDownloads(Exception):
    """All of a person's download slots are taken; nothing was sent."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, limit):
        self.limit = limit
        super().__init__(f"You have {limit} downloads running already. Wait for one to finish, then try again.")


def _redis():
    from gallery.job import get_queue

    return get_queue().connection


def capped(user, chunks):
    """`chunks` as an iterator that holds one of `user`'s download slots until it ends or is
    closed. Raises TooManyDownloads, before anything is sent, when all are taken."""
    return _Held(_take(user), chunks)


def _take(user):
    limit = settings.DOWNLOAD_STREAMS_PER_PERSON
    key, member, now = KEY.format(user.pk), uuid.uuid4().hex, time.time()
    try:
        conn = _redis()
        pipe = conn.pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {member: now + SLOT_SECONDS})
        pipe.zcard(key)
        pipe.expire(key, SLOT_SECONDS)
        running = pipe.execute()[2]
        if running > limit:
            conn.zrem(key, member)
            raise TooManyDownloads(limit)
    except (RedisError, OSError) as e:
        logger.warning("Download cap not applied: Redis is unreachable (%s)", e)
        return None
    return key, member


class _Held:
    """An iterator over a download's chunks that keeps its slot fresh, and frees it once."""

    def __init__(self, slot, chunks):
        self.slot, self.chunks, self.refreshed = slot, iter(chunks), time.monotonic()

    def __iter__(self):
        return self

    def __next__(self):
        try:
            chunk = next(self.chunks)
        except BaseException:
            self.close()  # the end, or a failure: either way the slot is free
            raise
        if self.slot and time.monotonic() - self.refreshed > REFRESH_SECONDS:
            self.refreshed = time.monotonic()
            self._call(lambda conn, key, member: conn.zadd(key, {member: time.time() + SLOT_SECONDS}))
        return chunk

    def close(self):
        # Django's response calls this when the request ends, sent whole or not.
        if self.slot:
            self._call(lambda conn, key, member: conn.zrem(key, member))
            self.slot = None
        close = getattr(self.chunks, "close", None)
        if close:
            close()

    def _call(self, command):
        try:
            command(_redis(), *self.slot)
        except (RedisError, OSError) as e:
            logger.warning("Download slot not updated: %s", e)
