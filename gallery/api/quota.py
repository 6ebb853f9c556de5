"""
The daily colorization quota: how many photos a person may send to be
colorized through the API per day (UTC).

consume() takes one unit atomically (a conditional UPDATE checked by its
count, like the job claim in inference/jobs.py), so two uploads racing for
the last unit cannot both win. Call it inside the transaction that creates
the photo: if the photo is not stored, the unit is given back.
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from gallery.api.models import Plan, QuotaUsage


@dataclass
class Quota:
    limit: int
    used: int
    resets_at: datetime

    @property
    def remaining(self):
        return max(0, self.limit - self.used)

    @property
    def retry_after(self):
        """Whole seconds until the quota resets (for Retry-After)."""
        return max(1, math.ceil((self.resets_at - timezone.now()).total_seconds()))

    def headers(self):
        return {"X-Quota-Limit": str(self.limit), "X-Quota-Remaining": str(self.remaining)}


class QuotaExceeded(Exception):
    def __init__(self, quota):
        self.quota = quota


def today():
    return timezone.now().astimezone(dt_timezone.utc).date()


def daily_limit(user):
    plan = Plan.objects.filter(user=user).first()
    return plan.daily_quota if plan else settings.COLORIZE_DAILY_QUOTA


def _quota(user, day, used):
    resets_at = datetime.combine(day + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)
    return Quota(limit=daily_limit(user), used=used, resets_at=resets_at)


def status(user):
    day = today()
    usage = QuotaUsage.objects.filter(user=user, day=day).first()
    return _quota(user, day, usage.count if usage else 0)


def consume(user):
    """Take one colorization from today's quota; raise QuotaExceeded when
    none is left. Returns the Quota after taking it."""
    day = today()
    quota = _quota(user, day, 0)
    usage, _ = QuotaUsage.objects.get_or_create(user=user, day=day)
    taken = QuotaUsage.objects.filter(pk=usage.pk, count__lt=quota.limit).update(count=F("count") + 1)
    usage.refresh_from_db()
    quota.used = usage.count
    if not taken:
        raise QuotaExceeded(quota)
    return quota
