"""
The daily colorization quota: how many photos a person may send to be
colorized per day (UTC), through the site and the API together: one budget,
one refusal (429 with Retry-After at both doors), one message.

consume() takes units atomically (a conditional UPDATE checked by its
count, like the job claim), so two uploads racing for the last unit cannot
both win. gallery.photos.create_photos calls it inside the transaction that
creates the photos: if they are not stored, the units are given back.

Its tables (Plan, QuotaUsage) live here too; gallery/models.py imports this
module so that Django registers them. They began in the API app and keep its
table names (api_plan, api_quotausage): moving them here changed no table,
and restore reads backups that still call them api.plan and api.quotausage.
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models import F
from django.utils import timezone


class Plan(models.Model):
    """A person's own daily quota, when it differs from COLORIZE_DAILY_QUOTA
    (set in the admin, or by whatever sells plans one day)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="plan")
    name = models.CharField(max_length=50, default="Custom")
    daily_quota = models.PositiveIntegerField()

    class Meta:
        db_table = "api_plan"

    def __str__(self):
        return f"{self.name}: {self.daily_quota}/day"


class QuotaUsage(models.Model):
    """Colorizations started by one person on one day (UTC), on the site and
    through the API. A counter rather than a count of photos, so that deleting
    photos does not give the quota back."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "api_quotausage"
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="one_quota_row_per_day")]


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
    def __init__(self, quota, wanted=1):
        self.quota, self.wanted = quota, wanted
        super().__init__(self.message)

    @property
    def message(self):
        q = self.quota
        if q.remaining and self.wanted > q.remaining:
            return (f"That is {self.wanted} photos, and you have {q.remaining} of today's {q.limit} colorizations "
                    "left; send fewer, or wait until the quota starts again at 00:00 UTC. Nothing was kept.")
        return f"You have used today's {q.limit} colorizations; the quota starts again at 00:00 UTC."


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


def check(user, count=1):
    """Raise QuotaExceeded when fewer than `count` colorizations are left today. A read, so
    that a refused upload costs nothing; consume() is what decides, atomically."""
    quota = status(user)
    if quota.remaining < count:
        _count_refusal()
        raise QuotaExceeded(quota, count)
    return quota


def consume(user, count=1):
    """Take `count` colorizations from today's quota, all or none; raise
    QuotaExceeded when fewer are left. Returns the Quota after taking them."""
    day = today()
    quota = _quota(user, day, 0)
    usage, _ = QuotaUsage.objects.get_or_create(user=user, day=day)
    taken = QuotaUsage.objects.filter(pk=usage.pk, count__lte=quota.limit - count).update(count=F("count") + count)
    usage.refresh_from_db()
    quota.used = usage.count
    if not taken:
        _count_refusal()
        raise QuotaExceeded(quota, count)
    return quota


# Refusals for /metrics, in the cache: Redis under runsite and in production, so shared by
# every web process (per process without REDIS_URL). A cache that is down loses counts,
# never an upload.
REFUSALS_KEY = "quota-refusals"


def _count_refusal():
    try:
        cache.add(REFUSALS_KEY, 0, timeout=None)
        cache.incr(REFUSALS_KEY)
    except Exception as e:
        logging.getLogger("gallery").warning("Quota refusal not counted: %s", e)


def refusals():
    try:
        return cache.get(REFUSALS_KEY, 0)
    except Exception:
        return 0
