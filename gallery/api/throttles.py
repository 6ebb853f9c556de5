"""
Request rates for token logins and for requests without credentials.

Rates come from settings at each request (not at import, as DRF's own
throttles do), so they can be changed per environment and in tests. Counts
live in Django's cache: per process with the default local-memory cache, so
with N web processes a client gets up to N times the rate. It is OK to be a
little inexact here; a shared cache (CACHES) makes it exact.
"""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle


class LoginThrottle(SimpleRateThrottle):
    """Token logins, per client address: slows down password guessing."""

    scope = "login"

    def get_rate(self):
        return settings.API_LOGIN_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AnonThrottle(SimpleRateThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"

    def get_rate(self):
        return settings.API_ANON_RATE

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # only anonymous requests are throttled here
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottleAnonymousFirst:
    """A view mixin: DRF checks throttles after authentication and
    permissions, so a request with no key or a wrong one would get its 401
    however fast it comes, and AnonThrottle would never see it. Here
    anonymous requests, including those with a key that is not valid, are
    counted before their 401."""

    def perform_authentication(self, request):
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # the request is anonymous now
            raise

    def check_permissions(self, request):
        if not request.user.is_authenticated:
            self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request):
        # Once per request: initial() calls it again after the permissions.
        if getattr(request, "_colorsite_throttled", False):
            return
        request._colorsite_throttled = True
        super().check_throttles(request)
