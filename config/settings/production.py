"""Production: no defaults for secrets; starts only when fully configured.

Selected with DJANGO_SETTINGS_MODULE=config.settings.production.
"""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env, public_base_url

DEBUG = False

# env() without a default raises ImproperlyConfigured when the variable is missing.
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CPF_ENCRYPTION_KEYS = env.list("CPF_ENCRYPTION_KEYS")
CPF_BLIND_INDEX_KEY = env("CPF_BLIND_INDEX_KEY")
# The address clients reach the service at (the proxy's): links in e-mails.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL")
for _name, _value in (
    ("SECRET_KEY", SECRET_KEY),
    ("ALLOWED_HOSTS", ALLOWED_HOSTS),
    ("CPF_ENCRYPTION_KEYS", CPF_ENCRYPTION_KEYS),
    ("CPF_BLIND_INDEX_KEY", CPF_BLIND_INDEX_KEY),
    ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
):
    if not _value:
        raise ImproperlyConfigured(f"Set the {_name} environment variable.")
PUBLIC_BASE_URL = public_base_url(PUBLIC_BASE_URL)

# --- Shared cache -------------------------------------------------------------
# Without Redis the cache, the throttles and the cashback client's circuit
# breaker are per process: with several gunicorn workers a price change is
# invisible to the others' cached catalogue and every limit is multiplied.
# ALLOW_LOCAL_CACHE=true accepts that knowingly, for one single-process
# instance (GUNICORN_WORKERS=1) only.
ALLOW_LOCAL_CACHE = env.bool("ALLOW_LOCAL_CACHE", default=False)
if not (REDIS_URL or REDIS_SENTINELS) and not ALLOW_LOCAL_CACHE:  # noqa: F405
    raise ImproperlyConfigured(
        "Set the REDIS_URL environment variable (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER "
        "for Redis with Sentinel, or ALLOW_LOCAL_CACHE=true for a single-process instance)."
    )

# --- Background work -----------------------------------------------------------
# Without a broker every task runs inside the process that sends it: a bulk
# review or an export inside the request, the brand's credit refreshed while
# the reseller waits, nothing left for beat. ALLOW_IN_PROCESS_JOBS=true
# accepts that knowingly (a demo, a single small instance).
ALLOW_IN_PROCESS_JOBS = env.bool("ALLOW_IN_PROCESS_JOBS", default=False)
if not CELERY_BROKER_URL and not ALLOW_IN_PROCESS_JOBS:  # noqa: F405
    raise ImproperlyConfigured(
        "Set the CELERY_BROKER_URL environment variable (or ALLOW_IN_PROCESS_JOBS=true to run "
        "background work inside the web processes)."
    )

# --- E-mail ---------------------------------------------------------------------
# Without EMAIL_URL messages are discarded, each with a warning in the logs:
# the console backend would print password reset links, which let anyone who
# reads the logs into the account, to standard output.
if not env("EMAIL_URL", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

# --- Metrics --------------------------------------------------------------------
# /metrics shows every route's traffic and timings: never to anyone who asks.
if METRICS_ENABLED and not (METRICS_TOKEN or METRICS_ALLOWED_IPS):  # noqa: F405
    raise ImproperlyConfigured(
        "Set the METRICS_TOKEN or METRICS_ALLOWED_IPS environment variable (METRICS_ENABLED=true)."
    )
for _entry in METRICS_ALLOWED_IPS:  # noqa: F405
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_entry!r} is not an address or a network."
        ) from None

# --- Cashback -------------------------------------------------------------------
# No auto-approved CPFs unless the operator lists them: the demo CPF is public.
CASHBACK_AUTO_APPROVED_CPFS = env.list("CASHBACK_AUTO_APPROVED_CPFS", default=[])

# --- Security (TLS is terminated in front of the app) ------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers and the container healthcheck probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Static files -------------------------------------------------------------
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Logging: one JSON object per line ---------------------------------------
LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="json")  # noqa: F405
# Standard output, with gunicorn's own lines: what container engines collect.
LOGGING["handlers"]["console"]["stream"] = "ext://sys.stdout"  # noqa: F405
