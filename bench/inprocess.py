"""Django set up in this process against a seeded PostgreSQL database, for
the scripts that time the application in-process (explain.py,
analytics_cold.py, admin_pages.py): the load test's keys, production-like
debug and log levels, and a cache prefix of the script's own."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(*, cache_prefix: str) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from loadtest import CPF_BLIND_INDEX_KEY, CPF_ENCRYPTION_KEY

    os.environ.setdefault("CPF_ENCRYPTION_KEYS", CPF_ENCRYPTION_KEY)
    os.environ.setdefault("CPF_BLIND_INDEX_KEY", CPF_BLIND_INDEX_KEY)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("CACHE_KEY_PREFIX", cache_prefix)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a seeded PostgreSQL database (see the script's docstring).")
    import django

    django.setup()
