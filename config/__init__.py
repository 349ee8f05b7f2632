# The Celery application is loaded with Django, so that ``shared_task`` and
# ``delay_on_commit`` find it in every process (api, worker, beat, commands).
from config.celery import app as celery_app

__all__ = ("celery_app",)
