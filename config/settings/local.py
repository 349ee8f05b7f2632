"""Embedded default: no environment needed (SQLite, local-memory cache)."""

from .base import *  # noqa: F403
from .base import DEMO_AUTO_APPROVED_CPFS, env, public_base_url

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-only-secret-key-never-use-in-production-7f3b9c1e5a")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
# Where links in e-mails point: `make run` serves here.
PUBLIC_BASE_URL = public_base_url(env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000"))

# Development keys: fine for the demo database, useless for real data.
CPF_ENCRYPTION_KEYS = env.list(
    "CPF_ENCRYPTION_KEYS", default=["n6W9DHmpA22CthYB9gw7jms5NvlmZxpGty1kXzG5IQ8="]
)
CPF_BLIND_INDEX_KEY = env("CPF_BLIND_INDEX_KEY", default="dev-only-blind-index-key")

# METRICS_ENABLED=true serves /metrics to this machine only, unless told otherwise.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# The demo reseller's purchases are approved on creation (never in production).
CASHBACK_AUTO_APPROVED_CPFS = env.list("CASHBACK_AUTO_APPROVED_CPFS", default=DEMO_AUTO_APPROVED_CPFS)
