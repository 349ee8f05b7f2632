from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PurchasesConfig(AppConfig):
    name = "purchases"
    verbose_name = _("Purchases")

    def ready(self) -> None:
        # Jobs send their task by name (core.jobs.job_send): every process
        # that starts one (the api too, not only workers, whose Celery
        # autodiscovers tasks) must know the task.
        from purchases import tasks  # noqa: F401
