import os

from django.apps import AppConfig
from django.core import checks


class InferenceConfig(AppConfig):
    name = "inference"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        checks.register(check_model)
        # `check --deploy` only: on a laptop (`make run`, every management command) one embedded
        # Redis is the intended set-up, and a warning on every command teaches people to ignore
        # warnings.
        checks.register(check_redis_server, deploy=True)


def check_redis_server(app_configs=None, **kwargs):
    """Production with no Redis server: separately started processes would not share jobs."""
    from django.conf import settings

    if settings.DEBUG or settings.REDIS_URL:
        return []
    return [checks.Warning(
        "REDIS_URL is not set: each process starts its own embedded Redis, so separately "
        "started web servers and workers will not see each other's jobs.",
        hint="Set REDIS_URL to a Redis server in production, or start the site with `manage.py runsite`.",
        id="inference.W001",
    )]


def check_model(app_configs=None, **kwargs):
    """A model path that would otherwise surface as a stack trace at the first job."""
    from django.conf import settings

    messages = []
    path = settings.COLORIZER_MODEL_PATH
    if path and not os.path.isfile(path):
        messages.append(checks.Error(
            f"COLORIZER_MODEL points at {path}, which is not a file.",
            hint="Set COLORIZER_MODEL to a checkpoint written by train_colorizer, or unset it for the shipped model.",
            id="inference.E001",
        ))
    if not path:
        try:
            from mlcore.paths import DEFAULT_MODEL_PATH  # no torch: this check runs in web processes
        except ImportError as e:
            messages.append(checks.Error(f"mlcore cannot be imported: {e}", id="inference.E002"))
        else:
            if not os.path.isfile(DEFAULT_MODEL_PATH):
                # A warning, not an error: the rest of the site works, and
                # jobs fail with a readable reason until a model is there.
                messages.append(checks.Warning(
                    f"The shipped model {DEFAULT_MODEL_PATH} is missing; colorization jobs will fail.",
                    hint="Set COLORIZER_MODEL to a checkpoint written by train_colorizer.",
                    id="inference.W002",
                ))
    return messages
