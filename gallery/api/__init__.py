"""The REST API under /api/v1/: the site's models, validation, jobs and
file serving, behind tokens, quotas and throttles. See views.py."""
