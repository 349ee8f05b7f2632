"""Test settings: the embedded default, or the real services when
DATABASE_URL / REDIS_URL are set (CI runs both)."""

import tempfile

from .base import *  # noqa: F403
from .base import DEMO_AUTO_APPROVED_CPFS, env

DEBUG = False
SECRET_KEY = "test-secret-key-used-only-by-the-test-suite-0123456789"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# As the embedded default's: links in e-mails never follow the request's host.
PUBLIC_BASE_URL = "http://127.0.0.1:8000"

# Fast hashing: password strength is tested through the validators, not the hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CPF_ENCRYPTION_KEYS = ["bmQD2eQ8bvmITRj7Vly_arLCubDqhWp7xEkEFXiIed8="]
CPF_BLIND_INDEX_KEY = "test-blind-index-key"

# As the embedded default: the demo CPF is auto-approved.
CASHBACK_AUTO_APPROVED_CPFS = DEMO_AUTO_APPROVED_CPFS

# No floor under password reset requests but in the tests of it, for speed.
PASSWORD_RESET_MIN_SECONDS = 0

# E-mail into django.core.mail.outbox: queued mail is sent by the on-commit
# callbacks, which tests run with django_capture_on_commit_callbacks(execute=True).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Never reach a real cashback API from the suite; tests point it at a
# loopback server when they need one.
CASHBACK_API_URL = ""
CASHBACK_API_TOKEN = ""

# Query budgets count the authentication's own lookup on every request (the
# worst case); accounts/tests/test_user_cache.py turns the cache on.
AUTH_USER_CACHE_SECONDS = 0

# Keep the suite's keys apart from anything else in a shared Redis.
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default="cashback-test")  # noqa: F405
CACHES["strict"]["KEY_PREFIX"] = CACHES["default"]["KEY_PREFIX"]  # noqa: F405

# Tasks run in-process, even with CELERY_BROKER_URL set (CI's worker step
# sets it), and their errors fail the test that sent them. The real-worker
# tests (marked "worker", conftest.py) send to the broker named here and
# start their own worker (config/settings/worker_tests.py).
TEST_CELERY_BROKER_URL = CELERY_BROKER_URL  # noqa: F405
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# Job files (exports) outside the checkout.
STORAGES["jobs"]["OPTIONS"]["location"] = tempfile.mkdtemp(prefix="cashback-test-jobs-")  # noqa: F405
