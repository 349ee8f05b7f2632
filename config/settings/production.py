"""Production: no defaults for secrets; starts only when fully configured.

Selected with DJANGO_SETTINGS_MODULE=config.settings.production.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

# env() without a default raises ImproperlyConfigured when the variable is missing.
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CPF_ENCRYPTION_KEYS = env.list("CPF_ENCRYPTION_KEYS")
CPF_BLIND_INDEX_KEY = env("CPF_BLIND_INDEX_KEY")
for _name, _value in (
    ("SECRET_KEY", SECRET_KEY),
    ("ALLOWED_HOSTS", ALLOWED_HOSTS),
    ("CPF_ENCRYPTION_KEYS", CPF_ENCRYPTION_KEYS),
    ("CPF_BLIND_INDEX_KEY", CPF_BLIND_INDEX_KEY),
):
    if not _value:
        raise ImproperlyConfigured(f"Set the {_name} environment variable.")

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
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Logging: one JSON object per line ---------------------------------------
LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="json")  # noqa: F405
