"""The Celery application: background work with RabbitMQ as the broker.

Workers and beat start with ``celery -A config worker`` / ``celery -A config
beat``. Settings are the ``CELERY_*`` names of Django's settings
(config/settings/base.py, "Background work"); each app's tasks live in its
``tasks.py`` and are found by ``autodiscover_tasks``. Without
CELERY_BROKER_URL tasks run in-process, at the moment they are sent.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("cashback")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
