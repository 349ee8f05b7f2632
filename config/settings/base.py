"""Settings shared by every runtime mode.

Everything that differs between machines comes from the environment through
the single ``env`` object below; ``local``, ``test`` and ``production`` only
change defaults and hardening.
"""

import copy
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
import orjson
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file is a convenience for development; real deployments set the
# environment directly and never ship the file.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "core.apps.AdminConfig",
    # Ahead of django.contrib.auth: its createsuperuser replaces Django's.
    "accounts",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Third party
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "corsheaders",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rangefilter",  # the admin's date-range filter (purchases)
    # Project
    "core",
    "config",
    "resellers",
    "products",
    "purchases",
    "purchases.analytics",
]

MIDDLEWARE = [
    "core.middleware.RequestIDMiddleware",
    # Health probes answer whatever the Host header: before anything validates it.
    "core.middleware.HealthCheckMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.JSONErrorMiddleware",
    # 405 for a method an API route lacks, before its permissions answer.
    "core.middleware.MethodNotAllowedMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# E-mail logins (and the admin) through ModelBackend; CPF logins through the
# reseller app's backend, so accounts never reads CPFs itself.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "resellers.backends.CPFBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "core" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# No DATABASE_URL: an SQLite file beside manage.py (the embedded default).
# postgres://user:pass@host:5432/name selects PostgreSQL through psycopg 3.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The engine, named: core.postgresql is Django's backend with timestamps
    # parsed by psycopg's C code (core/postgresql/base.py, written for
    # Django 5.2: it refuses to load on another version).
    # DATABASE_ENGINE=django.db.backends.postgresql selects Django's own.
    DATABASES["default"]["ENGINE"] = env("DATABASE_ENGINE", default="core.postgresql")
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Off by default: a health check is a "SELECT 1" before the first query
    # of every request. Without it, each worker's first request after a
    # database restart answers 503 and the worker reconnects for the next.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_HEALTH_CHECKS", default=False)

# Pooled connections (PostgreSQL): DATABASE_POOL=true keeps each process's
# connections in psycopg's pool (Django's native one), as many as a worker
# has threads (GUNICORN_THREADS, config/gunicorn.py) unless
# DATABASE_POOL_MAX_SIZE says otherwise: fewer and a busy thread waits up to
# DATABASE_POOL_TIMEOUT seconds, then answers 503. Django refuses a pool
# with persistent connections: CONN_MAX_AGE is 0 with it (a request hands its
# connection back to the pool when it ends, instead of closing it).
DATABASE_POOL = env.bool("DATABASE_POOL", default=False)
# Behind PgBouncer (or another pooler) in transaction mode: no prepared
# statements (the pooler hands each transaction to any server connection),
# and server-side cursors only inside transactions (core.postgresql): a
# QuerySet.iterator() outside one reads its rows at once instead.
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)
_postgresql = DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
if _postgresql and DATABASE_POOL:
    if env.int("DATABASE_CONN_MAX_AGE", default=0):
        raise ImproperlyConfigured(
            "DATABASE_POOL: unset DATABASE_CONN_MAX_AGE (a pool's connections are handed back after "
            "each request: CONN_MAX_AGE is 0 with it)."
        )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=env.int("GUNICORN_THREADS", default=4)),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
    }
if _postgresql and DATABASE_PGBOUNCER:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
    if DATABASES["default"]["ENGINE"] == "core.postgresql":
        DATABASES["default"]["TRANSACTION_POOLING"] = True
    else:
        # Django's own engine knows no better than none at all.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# Read replicas (PostgreSQL hot standbys), none by default:
# DATABASE_REPLICA_URLS=postgres://...@replica1/db,postgres://...@replica2/db
# adds them as "replica1", "replica2"..., with the primary's engine and
# options. Only the read-heavy paths read from them (core.routing says
# which, and when they go to the primary instead).
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
# Seconds a replica may lag before reads leave it (measured on the replica
# every DATABASE_REPLICA_CHECK_SECONDS, per process).
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=5.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=2.0)
# After a write, how long the user's reads wait for a replica that has
# replayed it (else the primary answers); past it the lag bound keeps them
# fresh, so keep it above DATABASE_REPLICA_MAX_LAG_SECONDS plus a check.
DATABASE_REPLICA_PIN_SECONDS = env.float("DATABASE_REPLICA_PIN_SECONDS", default=10.0)
# How long a replica that failed is left alone.
DATABASE_REPLICA_DOWN_SECONDS = env.float("DATABASE_REPLICA_DOWN_SECONDS", default=10.0)
# Seconds to wait for a replica's connection (libpq's connect_timeout; and
# the pool's wait, with DATABASE_POOL).
DATABASE_REPLICA_CONNECT_TIMEOUT = env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2)
DATABASE_REPLICAS: list[str] = []
if DATABASE_REPLICA_URLS and not _postgresql:
    raise ImproperlyConfigured("DATABASE_REPLICA_URLS: read replicas need PostgreSQL (DATABASE_URL).")
for _index, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    _replica = env.db_url_config(_url)
    _options = {**copy.deepcopy(DATABASES["default"].get("OPTIONS", {})), **_replica.get("OPTIONS", {})}
    _options["connect_timeout"] = DATABASE_REPLICA_CONNECT_TIMEOUT
    if "pool" in _options:
        _options["pool"]["timeout"] = min(_options["pool"]["timeout"], DATABASE_REPLICA_CONNECT_TIMEOUT)
    _alias = f"replica{_index}"
    DATABASES[_alias] = {
        **{key: value for key, value in DATABASES["default"].items() if key not in ("NAME", "OPTIONS")},
        **{key: _replica[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT") if key in _replica},
        "OPTIONS": _options,
        # The test database is the primary's (a standby replicates it).
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_REPLICAS.append(_alias)
if DATABASE_REPLICAS:
    DATABASE_ROUTERS = ["core.routing.ReplicaRouter"]
    # Pins the signed-in user to the primary after a write (core.routing).
    _authentication = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    MIDDLEWARE.insert(_authentication + 1, "core.routing.ReadYourWritesMiddleware")

# --- Cache ------------------------------------------------------------------
# No REDIS_URL: per-process local memory. With REDIS_URL every process shares
# one cache (throttling, catalogue answers, the cashback client's state).
# A Redis outage degrades to "no cache" instead of failing requests: the
# errors are logged and ignored by django-redis.
REDIS_URL = env("REDIS_URL", default="")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="cashback")
# The options of both Redis aliases (also used by the tests that start a
# redis-server of their own). Every command goes through a circuit breaker
# (core.cache.BreakerConnectionPool): after CACHE_BREAKER_FAILURES
# consecutive timeouts or connection errors, Redis is not asked for
# CACHE_BREAKER_SECONDS (then one trial), so a paused or unreachable Redis
# costs a few socket timeouts, not one per cache call.
CACHE_BREAKER_FAILURES = env.int("CACHE_BREAKER_FAILURES", default=3)
CACHE_BREAKER_SECONDS = env.float("CACHE_BREAKER_SECONDS", default=5.0)
REDIS_CACHE_OPTIONS = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "CONNECTION_POOL_CLASS": "core.cache.BreakerConnectionPool",
    "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
    "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
    "IGNORE_EXCEPTIONS": True,
}
# The Redis servers' password, when REDIS_URL does not carry one (and with
# Sentinel, where there is no URL).
if env("REDIS_PASSWORD", default=""):
    REDIS_CACHE_OPTIONS["PASSWORD"] = env("REDIS_PASSWORD")


def sentinel_addresses(entries: list[str]) -> list[tuple[str, int]]:
    """REDIS_SENTINELS (``host:port,host:port``, ``[::1]:26379``) as
    (host, port) pairs; anything else refuses to start."""
    addresses = []
    for entry in entries:
        host, colon, port = entry.strip().rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"REDIS_SENTINELS: {entry!r} is not host:port.")
        addresses.append((host, int(port)))
    return addresses


# Redis with Sentinel instead of one server: a primary, its replicas and the
# sentinels that watch them (docs/operations.md, "Redis with Sentinel").
# REDIS_SENTINELS lists the sentinels, REDIS_SENTINEL_MASTER is the name they
# monitor the primary under. Every command, reads too, goes to the primary the
# sentinels name, found again after a failover; the breaker is kept, one per
# server (core.cache.BreakerSentinelConnectionPool).
REDIS_SENTINELS = sentinel_addresses(env.list("REDIS_SENTINELS", default=[]))
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", default="")
# How stale a process's idea of the primary may get: a pool that has not asked
# the sentinels for this long asks them before its next command (so a process
# that sent nothing during a failover does not write to the old primary).
REDIS_SENTINEL_RECHECK_SECONDS = env.float("REDIS_SENTINEL_RECHECK_SECONDS", default=1.0)
if REDIS_SENTINELS:
    if REDIS_URL:
        raise ImproperlyConfigured("Set REDIS_URL or REDIS_SENTINELS, not both.")
    if not REDIS_SENTINEL_MASTER:
        raise ImproperlyConfigured(
            "Set the REDIS_SENTINEL_MASTER environment variable "
            "(the name the sentinels monitor the primary under)."
        )
    # django-redis takes the name from a URL's host, which is read in lower case.
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", REDIS_SENTINEL_MASTER):
        raise ImproperlyConfigured(
            f"REDIS_SENTINEL_MASTER: {REDIS_SENTINEL_MASTER!r} is not a name of "
            "lower-case letters, digits, '.', '_' and '-'."
        )
    _sentinel_kwargs = {
        "socket_connect_timeout": REDIS_CACHE_OPTIONS["SOCKET_CONNECT_TIMEOUT"],
        "socket_timeout": REDIS_CACHE_OPTIONS["SOCKET_TIMEOUT"],
    }
    if env("REDIS_SENTINEL_PASSWORD", default=""):
        # The sentinels' own password (their requirepass), if they have one.
        _sentinel_kwargs["password"] = env("REDIS_SENTINEL_PASSWORD")
    REDIS_LOCATION = f"redis://{REDIS_SENTINEL_MASTER}/{env.int('REDIS_SENTINEL_DB', default=0)}?is_master=1"
    REDIS_OPTIONS = {
        **REDIS_CACHE_OPTIONS,
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "CONNECTION_POOL_CLASS": "core.cache.BreakerSentinelConnectionPool",
        "SENTINELS": REDIS_SENTINELS,
        "SENTINEL_KWARGS": _sentinel_kwargs,
    }
else:
    REDIS_LOCATION, REDIS_OPTIONS = REDIS_URL, REDIS_CACHE_OPTIONS
if REDIS_LOCATION:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_LOCATION,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": REDIS_OPTIONS,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cashback",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
# The same store through an alias that raises when it is down
# (IGNORE_EXCEPTIONS off), for the few writers that must know: the login and
# registration throttles fail closed (accounts.throttles) and a cache-version
# bump is retried (core.cache); everything else fails open.
CACHES["strict"] = {
    **CACHES["default"],
    "OPTIONS": {**CACHES["default"].get("OPTIONS", {}), "IGNORE_EXCEPTIONS": False},
}
if not REDIS_LOCATION:
    del CACHES["strict"]["OPTIONS"]
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "core.cache"

# --- Passwords --------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password reset links (API and admin) work once, for one hour at most.
PASSWORD_RESET_TIMEOUT = 3600
# Seconds a reset request (API and admin) takes at least, whether or not an
# account uses the address: the message written to the outbox and its task
# handed to the broker would otherwise tell that one does. Above
# the work of a busy server; raise it if the logs show requests exceeding it.
PASSWORD_RESET_MIN_SECONDS = env.float("PASSWORD_RESET_MIN_SECONDS", default=0.2)


def public_base_url(value: str) -> str:
    """PUBLIC_BASE_URL as an origin, ``https://api.example.com`` (a trailing
    "/" dropped); anything else refuses to start. Links in e-mails are built
    on it, never on the Host header of the request that caused them (a client
    names any host ALLOWED_HOSTS accepts, with any port)."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ImproperlyConfigured(
            f"PUBLIC_BASE_URL: {value!r} is not an address like https://api.example.com "
            "(http or https, a host and maybe a port, no path)."
        )
    return f"{parts.scheme}://{parts.netloc}"


# The link e-mailed by POST /api/v1/auth/password/reset/, with {uid} and
# {token}. The default is this project's own page (accounts.pages), which
# asks for the new password; a resellers' app that has its own sets its URL
# here, and sends them to POST /api/v1/auth/password/reset/confirm/. A value
# starting with "/" is taken relative to PUBLIC_BASE_URL.
PASSWORD_RESET_URL = env("PASSWORD_RESET_URL", default="/conta/redefinir-senha/?uid={uid}&token={token}")

# --- E-mail -----------------------------------------------------------------
# One URL selects and configures the backend (django-environ): consolemail://
# (printed on standard output, the default), smtp+tls://user:password@host:587,
# smtp+ssl://user:password@host:465, dummymail:// (discarded).
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
# Seconds a mail server may take to answer: messages are sent by a worker's
# task (core.mail), which must not wait forever.
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Cashback <no-reply@example.com>")

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Brazilian Portuguese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise) -----------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Files written by background jobs (exports), served only through the
    # job's expiring link (core.views): never under a public URL.
    "jobs": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env("JOB_FILES_DIR", default=str(BASE_DIR / "var" / "job-files"))},
    },
}

# --- Request bodies ---------------------------------------------------------
# Bodies above this size are answered with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- Django REST framework --------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # orjson: the same JSON as DRF's renderer (decimals are strings already),
    # several times faster to write.
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    # Validation errors of list items are keyed by index, as DRF's renderer writes them.
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_NON_STR_KEYS,),
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("ANON_THROTTLE_RATE", default="120/min"),
        "user": env("USER_THROTTLE_RATE", default="1200/min"),
        # Every login attempt per client address (API and admin).
        "login": env("LOGIN_THROTTLE_RATE", default="10/min"),
        # Failed logins per account and client address (accounts.throttles).
        "login_failures": env("LOGIN_FAILURE_THROTTLE_RATE", default="5/min"),
        # Registrations per client address.
        "registration": env("REGISTRATION_THROTTLE_RATE", default="10/hour"),
        # Password changes per account (each checks the current password).
        "password": env("PASSWORD_THROTTLE_RATE", default="10/hour"),
        # Password reset requests per client address, and per e-mail address
        # asked for (API and admin): each may send an e-mail.
        "password_reset": env("PASSWORD_RESET_THROTTLE_RATE", default="5/hour"),
    },
    # Reverse proxies in front of the app, for the client address that
    # throttling keys on: 0 = the socket's peer (no proxy, as in the bundled
    # compose stack), 1 = the last X-Forwarded-For entry (one load balancer
    # or nginx), and so on. Too low and every client shares the proxy's
    # address; too high and clients can spoof theirs.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# --- SimpleJWT --------------------------------------------------------------
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_TOKEN_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
if env("JWT_SIGNING_KEY", default=""):
    # Otherwise SimpleJWT signs with SECRET_KEY.
    SIMPLE_JWT["SIGNING_KEY"] = env("JWT_SIGNING_KEY")
# How long a request's user and reseller profile are reused from the cache
# (accounts.authentication) instead of read; every committed change to either
# drops them at once. 0 reads them on every request.
AUTH_USER_CACHE_SECONDS = env.int("AUTH_USER_CACHE_SECONDS", default=30)

# --- CORS -------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Readable by browser code: the request id (for support) and how long to wait
# after a 429.
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After"]

# --- OpenAPI (drf-spectacular, assets from the sidecar: works offline) ------
_SYSTEM_FONTS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
SPECTACULAR_SETTINGS = {
    # The schema's texts are gettext: Brazilian Portuguese, English with
    # Accept-Language: en or ?lang=en (docs/api.md).
    "TITLE": _("Reseller Cashback API"),
    "DESCRIPTION": _(
        "Resellers register the purchases they make from the brand and earn "
        "cashback (10 / 15 / 20 % by monthly volume). Authenticate with "
        "`POST /api/v1/auth/token/` and send `Authorization: Bearer <access>`. "
        "The texts of this schema follow the request's language: Brazilian Portuguese "
        "by default, English with `Accept-Language: en` (or `?lang=en`)."
    ),
    # Tag names are identifiers (generated clients name modules after them);
    # x-displayName is what ReDoc, and Swagger UI through
    # core/templates/drf_spectacular/swagger_ui.html, show.
    "TAGS": [
        {
            "name": "auth",
            "x-displayName": _("Authentication"),
            "description": _("Log in, tokens, log out and passwords."),
        },
        {
            "name": "resellers",
            "x-displayName": _("Resellers"),
            "description": _("Registration, the reseller's own profile and, for staff, every reseller."),
        },
        {
            "name": "cashback",
            "x-displayName": _("Cashback"),
            "description": _("Accumulated cashback, and the month's figures with the next tier."),
        },
        {
            "name": "purchases",
            "x-displayName": _("Purchases"),
            "description": _("The purchases resellers record, and their review by staff."),
        },
        {
            "name": "products",
            "x-displayName": _("Products"),
            "description": _("The product catalogue, which staff keep."),
        },
        {
            "name": "categories",
            "x-displayName": _("Categories"),
            "description": _("The catalogue's categories, which staff keep."),
        },
        {
            "name": "favorites",
            "x-displayName": _("Favourites"),
            "description": _("A reseller's favourite products."),
        },
        {
            "name": "analytics",
            "x-displayName": _("Analytics"),
            "description": _("Figures for staff: the month, month by month, rankings."),
        },
        {
            "name": "jobs",
            "x-displayName": _("Jobs"),
            "description": _("Background work staff started (exports, bulk reviews): progress and files."),
        },
    ],
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Nothing from the internet (core/templates/drf_spectacular/redoc.html):
    # Swagger UI's badge would send the schema's address to swagger.io's
    # online validator whenever the host is not localhost; ReDoc gets the
    # system's fonts instead of Google Fonts.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": _SYSTEM_FONTS,
                "headings": {"fontFamily": _SYSTEM_FONTS},
            }
        }
    },
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "purchases.models.Purchase.Status",
        "JobStatusEnum": "core.models.Job.Status",
        "JobKindEnum": "core.models.Job.Kind",
    },
    # Links from each create to the operations on the created object.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_links",
        "core.schema.close_one_of_members",
    ],
}

# --- Personal data: CPF encryption (LGPD) -----------------------------------
# CPF_ENCRYPTION_KEYS: comma-separated Fernet keys, newest first. Data is
# encrypted with the first and decrypted with any (MultiFernet), so a key is
# rotated by prepending a new one and running `manage.py rotate_cpf_keys`.
# CPF_BLIND_INDEX_KEY: secret for the HMAC-SHA256 lookup column.
CPF_ENCRYPTION_KEYS = env.list("CPF_ENCRYPTION_KEYS", default=[])
CPF_BLIND_INDEX_KEY = env("CPF_BLIND_INDEX_KEY", default="")

# --- Cashback ---------------------------------------------------------------
# CPFs whose purchases are approved on creation, unreviewed. Empty unless set:
# the embedded default (local.py) and the tests list the demo reseller's CPF,
# which is public (README, schema examples), so it must never reach production.
CASHBACK_AUTO_APPROVED_CPFS = env.list("CASHBACK_AUTO_APPROVED_CPFS", default=[])
# The demo reseller's CPF, auto-approved in the embedded default and the tests.
DEMO_AUTO_APPROVED_CPFS = ["15350946056"]
CASHBACK_API_URL = env("CASHBACK_API_URL", default="")
CASHBACK_API_TOKEN = env("CASHBACK_API_TOKEN", default="")
# The API is called by the Celery workers only (resellers.tasks), never in a
# request: the routes answer from the credit stored (resellers.credit).
CASHBACK_API_TIMEOUT = env.float("CASHBACK_API_TIMEOUT", default=2.0)
# A stored credit is fresh for this long; an older one is served as stale
# (up to a day) while a refresh is queued.
CASHBACK_API_CACHE_SECONDS = env.int("CASHBACK_API_CACHE_SECONDS", default=300)
CASHBACK_API_BREAKER_FAILURES = env.int("CASHBACK_API_BREAKER_FAILURES", default=5)
CASHBACK_API_BREAKER_SECONDS = env.int("CASHBACK_API_BREAKER_SECONDS", default=30)
# Threads of one worker process that may wait on the API at once (0: no
# limit), for a worker run with a thread pool; the others retry later.
CASHBACK_API_MAX_CALLS_PER_PROCESS = env.int("CASHBACK_API_MAX_CALLS_PER_PROCESS", default=2)
# Beat refreshes the credit of the resellers with a purchase dated in the
# last CASHBACK_CREDIT_ACTIVE_DAYS days, CASHBACK_CREDIT_REFRESH_BATCH a
# minute at most (the oldest first): the calls it adds to the brand's API.
CASHBACK_CREDIT_ACTIVE_DAYS = env.int("CASHBACK_CREDIT_ACTIVE_DAYS", default=30)
CASHBACK_CREDIT_REFRESH_BATCH = env.int("CASHBACK_CREDIT_REFRESH_BATCH", default=100)

# --- Background work (Celery, RabbitMQ) ---------------------------------------
# CELERY_BROKER_URL (amqp://user:password@host:5672/vhost) sends tasks to
# workers (`celery -A config worker`) and periodic work to beat (`celery -A
# config beat`). Without it every task runs in-process when it is sent (the
# embedded default: the demo needs nothing installed).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Task state lives in the database (core.models.Job), not in a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# One durable queue. A message is acknowledged when its task ends, not when it
# starts, and a worker takes one at a time: a worker that dies mid-task leaves
# the message to the next one, and tasks are written to be run again safely.
CELERY_TASK_DEFAULT_QUEUE = "cashback"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that sends a task waits at most about a second for a broker that
# is down; the job stays queued in the database and beat sends it again.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.5,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Seconds /health/ready waits for the broker.
HEALTH_BROKER_TIMEOUT = env.float("HEALTH_BROKER_TIMEOUT", default=1.0)
# Beat writes its schedule file after every task it sends (each minute at
# least): the container's healthcheck reads the file's age.
CELERY_BEAT_SYNC_EVERY = 1
# Periodic work (beat); each app adds its entries below.
CELERY_BEAT_SCHEDULE = {
    "email-resend": {"task": "core.tasks.email_resend", "schedule": 5 * 60.0},
    "jobs-resend-queued": {"task": "core.tasks.jobs_resend_queued", "schedule": 60.0},
    "jobs-remove-expired-files": {"task": "core.tasks.jobs_remove_expired_files", "schedule": 15 * 60.0},
    "cashback-credits-refresh-active": {
        "task": "purchases.tasks.cashback_credits_refresh_active",
        "schedule": 60.0,
    },
    # The analytics figures every write maintains, checked against the rows
    # at night (reads only; a month that differs is rebuilt).
    "analytics-figures-verify": {
        "task": "purchases.tasks.analytics_figures_verify",
        "schedule": crontab(hour=3, minute=30),
    },
}
# Seconds a job's task works before handing the rest to a new message: no
# message stays unacknowledged for long (RabbitMQ's consumer timeout), and a
# worker that stops loses at most this much work.
JOB_SLICE_SECONDS = env.float("JOB_SLICE_SECONDS", default=20.0)
# A queued job no worker has started after this many seconds is sent again.
JOB_RESEND_AFTER_SECONDS = env.int("JOB_RESEND_AFTER_SECONDS", default=120)
# How long a job's file (an export) is kept and its link works. The files
# are written to the "jobs" storage (STORAGES above: JOB_FILES_DIR).
JOB_FILE_SECONDS = env.int("JOB_FILE_SECONDS", default=24 * 60 * 60)
# Exports of purchases one person may have queued or running at once; one
# more is refused (409) until one of them finishes.
PURCHASE_EXPORTS_PER_USER = env.int("PURCHASE_EXPORTS_PER_USER", default=3)
# A bulk review (the purchase list's approve and reject actions) of at most
# this many purchases in validation is done in the request; a larger one asks
# for confirmation, then runs as a background job.
BULK_REVIEW_IMMEDIATE_MAX = env.int("BULK_REVIEW_IMMEDIATE_MAX", default=200)
# How many worker processes may share such a job's chunks (its task is sent
# this many times): two review about twice as fast as one, while they run
# other tasks (e-mail) wait for the end of a slice (JOB_SLICE_SECONDS).
BULK_REVIEW_WORKERS = env.int("BULK_REVIEW_WORKERS", default=2)

# --- Cached answers -----------------------------------------------------------
# Catalogue answers are invalidated on every catalogue change (core.cache),
# so this only bounds how long an unchanged answer is reused.
PRODUCTS_CACHE_SECONDS = env.int("PRODUCTS_CACHE_SECONDS", default=300)
# Staff analytics: invalidated by every purchase change, kept briefly.
ANALYTICS_CACHE_SECONDS = env.int("ANALYTICS_CACHE_SECONDS", default=60)
# How stale the total `count` of the staff's purchase list may be: counting a
# million rows on every request costs more than the page itself. A reseller's
# count is kept as long, exact (under their list's version).
LIST_COUNT_CACHE_SECONDS = env.int("LIST_COUNT_CACHE_SECONDS", default=5)

# --- Logging ----------------------------------------------------------------
# LOG_FORMAT=json gives one JSON object per line (the production default);
# every record carries the request id of the request that produced it.
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIDFilter"},
        "routine_warning": {"()": "core.logging.RoutineWarningFilter"},
    },
    "formatters": {
        # Times in ISO 8601 with the offset, in TIME_ZONE; gunicorn writes its
        # own lines with the same formatters (config/gunicorn.py).
        "console": {"()": "core.logging.formatter", "kind": "console", "time_zone": TIME_ZONE},
        "json": {"()": "core.logging.formatter", "kind": "json", "time_zone": TIME_ZONE},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # A bad Host header (the answer is the JSON 400): one WARNING line,
        # no traceback.
        "django.security.DisallowedHost": {"filters": ["routine_warning"]},
        # Its DEBUG lines carry full URLs, and the cashback API's URL holds a CPF.
        "urllib3": {"level": "WARNING"},
    },
}

# --- Metrics (Prometheus, GET /metrics) -------------------------------------
# Off unless METRICS_ENABLED: then requests (by view name, method and status),
# database queries and cache calls are timed (core/metrics.py), and
# /metrics answers the scrapers that send `Authorization: Bearer
# <METRICS_TOKEN>` and/or connect from METRICS_ALLOWED_IPS (addresses or
# networks, the client address as throttling sees it: NUM_PROXIES above);
# when both are set, both must pass. Everyone else gets the JSON 404 of an
# unknown URL. Disabled, none of it is in the request path.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
if METRICS_ENABLED:
    # Right after the probes (left unmeasured): ahead of host validation,
    # which scrapes by address skip, and around everything else.
    _probes = MIDDLEWARE.index("core.middleware.HealthCheckMiddleware") + 1
    MIDDLEWARE = [*MIDDLEWARE[:_probes], "core.metrics.MetricsMiddleware", *MIDDLEWARE[_probes:]]
    _timed_backends = {
        "django_redis.cache.RedisCache": "core.metrics.TimedRedisCache",
        "django.core.cache.backends.locmem.LocMemCache": "core.metrics.TimedLocMemCache",
    }
    for _cache in CACHES.values():
        _cache["BACKEND"] = _timed_backends[_cache["BACKEND"]]
