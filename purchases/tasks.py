"""Celery tasks of the purchases app: exports (purchases.exports), beat's
refresh of active resellers' credits, and its nightly check of the
analytics figures."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone, translation

from core import routing
from core.jobs import job_run
from core.models import Job
from purchases.analytics.services import analytics_figures_differences, analytics_figures_rebuild
from purchases.exports import purchase_export_list, purchase_export_write
from purchases.months import current_month, format_month, shift_month
from purchases.selectors import resellers_credit_due
from resellers.credit import request_refresh

logger = logging.getLogger(__name__)


@shared_task
def cashback_credits_refresh_active() -> int:
    """Queue a refresh of the brand's credit for up to
    CASHBACK_CREDIT_REFRESH_BATCH resellers who bought in the last
    CASHBACK_CREDIT_ACTIVE_DAYS days and whose credit is older than
    CASHBACK_API_CACHE_SECONDS, the oldest first; returns how many were queued.
    The batch bounds the calls beat adds to the brand's API per run."""
    if not settings.CASHBACK_API_URL:
        return 0
    now = timezone.now()
    due = resellers_credit_due(
        active_since=timezone.localdate(now) - timedelta(days=settings.CASHBACK_CREDIT_ACTIVE_DAYS),
        checked_before=now - timedelta(seconds=settings.CASHBACK_API_CACHE_SECONDS),
        limit=settings.CASHBACK_CREDIT_REFRESH_BATCH,
    )
    return sum(request_refresh(reseller_id) for reseller_id in due)


@shared_task
def analytics_figures_verify() -> list[str]:
    """Beat's check of the analytics figures the writes maintain: the current
    and the previous month are compared with a recomputation from the rows
    (reads only), and a month that differs is logged and rebuilt. Returns
    the months rebuilt ("YYYY-MM"). A difference means a write path that
    bypassed the services (a raw update, a restore): the figures heal by the
    next night, and the log says which month to look at."""
    rebuilt = []
    this_month = current_month()
    for month in (shift_month(this_month, -1), this_month):
        differences = analytics_figures_differences(month=month)
        if differences:
            logger.error(
                "Analytics figures of %s differed from the rows (%s); rebuilding.", month, differences
            )
            analytics_figures_rebuild(month=month)
            rebuilt.append(format_month(month))
    return rebuilt


@shared_task
def purchases_export_job(job_id: str) -> None:
    job_run(job_id, _export)


def _export(job: Job, deadline: float) -> bool:
    # The whole file in one run (purchases.exports says why it does not
    # stop at the deadline), in the language of whoever started it.
    params = job.params
    # Read from a replica when one has replayed past the starter's last
    # write (the job's own row included), as their list would be.
    with translation.override(params.get("language")), routing.replica_reads(user_id=job.created_by_id):
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
