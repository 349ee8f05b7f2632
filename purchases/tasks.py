"""Celery tasks of purchases: exports (purchases.exports)."""

from celery import shared_task
from django.utils import translation

from core.jobs import job_run
from core.models import Job
from purchases.exports import purchase_export_list, purchase_export_write


@shared_task
def purchases_export_job(job_id: str) -> None:
    job_run(job_id, _export)


def _export(job: Job, deadline: float) -> bool:
    # The whole file in one run (purchases.exports says why it does not
    # stop at the deadline), in the language of whoever started it.
    params = job.params
    with translation.override(params.get("language")):
        if params.get("source") == "admin":
            # Imported here: this module is imported when the app is ready,
            # before the admin's modules are.
            from purchases.admin import purchase_admin_export_list

            purchases = purchase_admin_export_list(job)
        else:
            purchases = purchase_export_list(
                filters=params.get("filters", {}), ordering=params.get("ordering", "")
            )
        purchase_export_write(job, purchases)
    return True
