"""
API keys.

ApiToken: DRF's authtoken allows one key per person; people want one per
script or machine, named, with the time it was last used, and revocable one
by one. We store only a SHA-256 of each key: a leaked database backup then
holds no usable key. A plain hash (no salt, no slow KDF) is enough because a
key is 256 random bits, not a password someone chose, and it lets us find
the key's row with one indexed lookup. The key itself is shown once, when it
is made.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

# Recognisable by secret scanners, and by people reading a config file.
KEY_PREFIX = "csk_"
# Characters of the key shown on the keys page so people can tell keys apart.
VISIBLE_CHARS = 8
# last_used_at is refreshed at most this often: a busy client would
# otherwise write to the database on every request.
LAST_USED_RESOLUTION_SECONDS = 60
# The one key of a person made by POST /api/v1/auth/token/ (a script that
# logs in on each run): each login replaces its secret instead of piling up
# keys. Scripts that run side by side want named keys from the keys page.
LOGIN_KEY_NAME = "API login"

def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


def new_key():
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_start(key):
    return key[: len(KEY_PREFIX) + VISIBLE_CHARS]


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_start = models.CharField(max_length=20, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    from_login = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.name} ({self.key_start}…)"

    @classmethod
    def create(cls, user, name):
        """Make a key; returns (token, key). The key is not stored."""
        key = new_key()
        token = cls.objects.create(user=user, name=name, key_hash=hash_key(key), key_start=key_start(key))
        return token, key

    @classmethod
    def login_key(cls, user):
        """A fresh secret for the person's one "API login" key; returns (token,
        key). The previous login secret stops working: we keep only hashes,
        so the same key cannot be handed out twice."""
        key = new_key()
        with transaction.atomic():
            logins = list(cls.objects.select_for_update().filter(user=user, from_login=True).order_by("-created"))
            token = logins[0] if logins else cls(user=user, from_login=True)
            # Keys that earlier versions made at every login go.
            cls.objects.filter(pk__in=[t.pk for t in logins[1:]]).delete()
            token.name, token.key_hash, token.key_start = LOGIN_KEY_NAME, hash_key(key), key_start(key)
            token.last_used_at = None
            token.save()
        return token, key

    @classmethod
    def revoke_all(cls, user):
        """Every key of the person stops working (their password changed)."""
        return cls.objects.filter(user=user).delete()[0]

    @classmethod
    def find(cls, key):
        """The key's row with its person, in one indexed query (no ORDER BY: key_hash is
        unique). Comparing digests in the database leaks nothing worth timing: the digest
        of a guess says nothing about the digest of a real key."""
        try:
            return cls.objects.select_related("user").get(key_hash=hash_key(key))
        except cls.DoesNotExist:
            return None

    def touch(self, now=None):
        now = now or timezone.now()
        if self.last_used_at and (now - self.last_used_at).total_seconds() < LAST_USED_RESOLUTION_SECONDS:
            return
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
