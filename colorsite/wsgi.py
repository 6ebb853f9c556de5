"""WSGI entry point: `gunicorn colorsite.wsgi`."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorsite.settings")

application = get_wsgi_application()
