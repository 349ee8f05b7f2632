"""Celery tasks of the purchases app: exports (purchases.exports), bulk
reviews of any size, beat's refresh of active resellers' credits, and its
nightly check of the analytics figures."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import ngettext

from accounts.models import User
from core import routing
from core.jobs import job_chunk_results, job_run, job_run_chunks
from core.models import Job
from purchases import notifications
from purchases.analytics.services import (
    analytics_figures_differences,
    analytics_figures_rebuild,
    code_counts_differences,
    code_counts_recount,
)
from purchases.exports import purchase_export_list, purchase_export_write
from purchases.models import REVIEW_PERMISSION
from purchases.months import current_month, format_month, shift_month
from purchases.selectors import resellers_credit_due
from purchases.services import APPROVE, purchases_review_bulk
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
def analytics_figures_verify() -> dict:
    """Beat's check of the analytics figures the writes maintain: the current
    and the previous month, and the code counts (which span months), are
    compared with a recomputation from the rows (reads only); a month that
    differs is logged and rebuilt, codes that differ are logged and
    recounted. Returns what was put right: ``{"months": ["YYYY-MM", ...],
    "codes": <how many>}``. A difference means a write path that bypassed
    the services (a raw update, a restore): the figures heal by the next
    night, and the log says where to look."""
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
    codes = code_counts_differences()
    if codes:
        logger.error(
            "The code counts of %d code(s) differed from the rows (%s%s); recounting them.",
            len(codes),
            ", ".join(codes[:10]),
            ", ..." if len(codes) > 10 else "",
        )
        code_counts_recount(codes=codes)
    return {"months": rebuilt, "codes": len(codes)}


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


# --- Bulk review ---------------------------------------------------------------


@shared_task
def purchases_review_job(job_id: str) -> None:
    """A bulk review started in the admin (``Job.Kind.PURCHASE_REVIEW``):
    its chunks of purchase ids reviewed with the rules and locks of a single
    review, each in its own transaction; each reseller told once, at the
    end, about their purchases in it."""
    job_run(job_id, _work, on_success=_finished)


def _work(job: Job, deadline: float) -> bool | None:
    try:
        return job_run_chunks(job, deadline, _review_chunk)
    except Exception:
        # Stopped short (and marked failed by job_run): what it did review
        # is told all the same; the rest is for a new job to review.
        _notify(job)
        raise


def _review_chunk(job: Job, ids: list[int]) -> dict:
    reviewer = User.objects.filter(pk=job.params["reviewer_id"], is_active=True, is_staff=True).first()
    # Checked chunk by chunk, as each single review checks it: a reviewer
    # who lost the right meanwhile stops the job.
    if reviewer is None or not reviewer.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("The reviewer may no longer review purchases.")
    outcome = purchases_review_bulk(
        purchase_ids=ids,
        reviewer=reviewer,
        action=job.params["action"],
        reason=job.params.get("reason", ""),
    )
    return {
        "done": len(ids),
        "failures": outcome.skipped,
        "reviewed": [list(pair) for pair in outcome.reviewed],
    }


def _finished(job: Job) -> None:
    """In the transaction that marks the job done: its result for the
    admin, and the resellers' e-mails."""
    reviewed = job.done - job.failures
    with translation.override(settings.LANGUAGE_CODE):
        if job.params["action"] == APPROVE:
            summary = ngettext("%(count)s purchase approved.", "%(count)s purchases approved.", reviewed)
        else:
            summary = ngettext("%(count)s purchase rejected.", "%(count)s purchases rejected.", reviewed)
        summary %= {"count": number_format(reviewed, force_grouping=True)}
        if job.failures:
            skipped = ngettext(
                "%(count)s skipped: no longer in validation.",
                "%(count)s skipped: no longer in validation.",
                job.failures,
            ) % {"count": number_format(job.failures, force_grouping=True)}
            summary = f"{summary} {skipped}"
    result = {"summary": summary, "reviewed": reviewed, "skipped": job.failures}
    Job.objects.filter(pk=job.pk).update(result=result)
    _notify(job)


def _notify(job: Job) -> int:
    reviewed = (tuple(pair) for result in job_chunk_results(job) for pair in result.get("reviewed", ()))
    return notifications.purchases_reviewed_notify(
        reviewed=reviewed,
        approved=job.params["action"] == APPROVE,
        reason=job.params.get("reason", ""),
        key=f"job:{job.pk}",
    )
