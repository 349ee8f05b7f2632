"""Settings of the Celery worker that the worker tests start (conftest.py's
``celery_worker``): the test settings, on the test database, with the
broker, queue, mail directory, jobs' directory and stand-in brand API the
tests name in its environment."""

from .test import *  # noqa: F403
from .test import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
# A queue of the test run's own: a run never takes another's messages.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TEST_QUEUE")

# E-mail into files the tests read (the in-memory outbox is this process's).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH")

STORAGES["jobs"]["OPTIONS"]["location"] = env("JOB_FILES_DIR")  # noqa: F405

CASHBACK_API_URL = env("CASHBACK_API_URL", default="")
CASHBACK_API_TOKEN = env("CASHBACK_API_TOKEN", default="")
CASHBACK_API_TIMEOUT = 0.5
