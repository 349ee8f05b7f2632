"""Celery tasks of the resellers app: refreshing the brand's cashback credit."""

from celery import shared_task

from resellers import credit
from resellers.cashback_client import CreditUnavailable

# A failed call is tried again after about 5, 10 and 20 s (at random up to
# each, so that workers do not all call back at once), then the refresh gives
# up until the next request or beat asks for it: about half a minute in all,
# well within the lock that keeps it the only one queued (credit.REFRESH_LOCK_SECONDS).
CREDIT_RETRIES = 3
CREDIT_BACKOFF_SECONDS = 5
CREDIT_BACKOFF_MAX_SECONDS = 60


@shared_task(
    bind=True,
    autoretry_for=(CreditUnavailable,),
    max_retries=CREDIT_RETRIES,
    retry_backoff=CREDIT_BACKOFF_SECONDS,
    retry_backoff_max=CREDIT_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
)
def cashback_credit_refresh(self, reseller_id: int) -> bool:
    """Refresh one reseller's stored credit (the id, never the CPF, travels
    through the broker)."""
    try:
        refreshed = credit.credit_refresh(reseller_id)
    except CreditUnavailable:
        # Run in-process (no broker) it is never retried: a request is waiting.
        last = self.request.is_eager or self.request.retries >= self.max_retries
        if last:
            credit.refresh_finished(reseller_id, failed=True)
        if self.request.is_eager:
            return False
        raise  # retried with back-off; the last one counts as the task's failure
    credit.refresh_finished(reseller_id, failed=False)
    return refreshed
