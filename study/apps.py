from django.apps import AppConfig
from django.core import checks


class StudyConfig(AppConfig):
    """The public model page (/model/) and the real-or-fake study (/study/)."""

    name = "study"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        checks.register(check_sessions_are_server_side)


def check_sessions_are_server_side(app_configs=None, **kwargs):
    """The study keeps which image of a pair is real in the session. A session
    stored in the visitor's cookie is signed, not encrypted: it would hand
    every participant the answers."""
    from django.conf import settings

    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies":
        return [checks.Error(
            "SESSION_ENGINE stores sessions in the visitor's cookie, where the study's answers can be read.",
            hint="Use a server-side session engine (the default database one, or cache/cached_db).",
            id="study.E001",
        )]
    return []
