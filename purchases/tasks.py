"""Celery tasks of the purchases app: beat's refresh of active resellers' credits."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from purchases.selectors import resellers_credit_due
from resellers.credit import request_refresh


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
