"""A reseller's accumulated cashback: served from what is stored, refreshed
in the background.

The cashback routes never call the brand's API. ``cashback_balance`` answers
from the stored credit (``CashbackCredit``) and, when that is missing or
older than ``CASHBACK_API_CACHE_SECONDS``, asks a worker to refresh it
(``request_refresh``): the task ``resellers.tasks.cashback_credit_refresh``
calls the API (``cashback_client.credit_fetch``), with retries and back-off,
and stores the answer. Beat refreshes the active resellers' credits too
(``purchases.tasks.cashback_credits_refresh_active``).

What the routes answer:

* the API is not configured: the local ledger, ``source="local"``;
* a credit fetched within ``CASHBACK_API_CACHE_SECONDS``: it,
  ``source="external"``, ``stale=False``;
* an older one (up to a day): it, with ``stale=True``, and a refresh is
  asked for;
* none (or older than a day): the local ledger, and a refresh is asked for.

``fetched_at`` says when the brand gave the credit (when the answer was
computed, for the local ledger). At most one refresh per reseller is queued
at a time: a lock in the cache, taken when it is sent and dropped when it
ends, kept for a minute after a refresh that failed for good so that a
reseller reloading the page does not queue one per visit.

The task gets the reseller's id, never the CPF: the worker reads it from the
database, and only the API is ever sent it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from resellers.cashback_client import CreditUnavailable, credit_fetch
from resellers.models import CashbackCredit, Reseller

logger = logging.getLogger(__name__)

SOURCE_EXTERNAL = "external"
SOURCE_LOCAL = "local"

CENTS = Decimal("0.01")
# How long a credit the API gave stays worth showing (as stale) when it could
# not be refreshed; after that the local ledger is the better answer.
LAST_GOOD_SECONDS = 24 * 60 * 60
# How long a queued refresh keeps others from being queued: longer than the
# task's retries take (resellers.tasks), so a lost message costs this at most.
REFRESH_LOCK_SECONDS = 10 * 60
# After a refresh that failed for good, before the routes queue another.
FAILED_REFRESH_PAUSE_SECONDS = 60

_LOCK_PREFIX = "cashback-credit:v1:refresh"


@dataclass(frozen=True)
class CashbackBalance:
    credit: Decimal
    source: str
    stale: bool
    fetched_at: datetime


def cashback_balance(*, reseller_id: int, local_ledger: Callable[[], Decimal | None]) -> CashbackBalance:
    """The reseller's accumulated cashback from what is stored; asks for a
    refresh when it is missing or old. Never calls the API. ``local_ledger``
    is called only when it is the answer."""
    if not settings.CASHBACK_API_URL:
        return _local(local_ledger)
    stored = (
        CashbackCredit.objects.filter(pk=reseller_id, fetched_at__isnull=False)
        .values_list("credit", "fetched_at")
        .first()
    )
    now = timezone.now()
    if stored is not None:
        credit, fetched_at = stored
        age = (now - fetched_at).total_seconds()
        if age < settings.CASHBACK_API_CACHE_SECONDS:
            return CashbackBalance(credit, SOURCE_EXTERNAL, stale=False, fetched_at=fetched_at)
        request_refresh(reseller_id)
        if age < LAST_GOOD_SECONDS:
            return CashbackBalance(credit, SOURCE_EXTERNAL, stale=True, fetched_at=fetched_at)
        return _local(local_ledger)
    request_refresh(reseller_id)
    return _local(local_ledger)


def _local(local_ledger: Callable[[], Decimal | None]) -> CashbackBalance:
    # `or 0`: an aggregate Sum over no approved purchases is None.
    credit = Decimal(local_ledger() or 0).quantize(CENTS, rounding=ROUND_HALF_UP)
    return CashbackBalance(credit, SOURCE_LOCAL, stale=False, fetched_at=timezone.now())


# --- Refresh: queued once, done by a worker ---------------------------------------


def _lock_key(reseller_id: int) -> str:
    return f"{_LOCK_PREFIX}:{reseller_id}"


def request_refresh(reseller_id: int) -> bool:
    """Queue a refresh of the reseller's credit unless one is queued; True
    when this call queued it. Never raises for the cache or the broker."""
    try:
        if not caches["strict"].add(_lock_key(reseller_id), 1, REFRESH_LOCK_SECONDS):
            return False
    except Exception as exc:
        # Without the cache there is no lock: queue it anyway; the task skips
        # a credit another refresh has just fetched.
        logger.warning("Cache unavailable (%s): a credit refresh is queued unlocked.", type(exc).__name__)
    from resellers.tasks import cashback_credit_refresh

    try:
        cashback_credit_refresh.delay(reseller_id)
    except Exception as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        # The broker is down: the lock stays for a while, so this reseller's
        # next requests do not wait on it again; beat tries later.
        _pause(reseller_id)
        logger.error("Credit refresh of reseller %s not queued (%s).", reseller_id, type(exc).__name__)
        return False
    return True


def refresh_finished(reseller_id: int, *, failed: bool) -> None:
    """The refresh is over (retries included): another may be queued, at
    once after a success, after a pause after a failure."""
    if failed:
        _pause(reseller_id)
        return
    try:
        caches["strict"].delete(_lock_key(reseller_id))
    except Exception as exc:
        logger.warning("Cache unavailable (%s): a refresh lock stays until it expires.", type(exc).__name__)


def _pause(reseller_id: int) -> None:
    try:
        caches["strict"].set(_lock_key(reseller_id), 1, FAILED_REFRESH_PAUSE_SECONDS)
    except Exception as exc:
        logger.warning("Cache unavailable (%s): no pause before the next credit refresh.", type(exc).__name__)


def credit_refresh(reseller_id: int) -> bool:
    """Ask the API for the reseller's credit and store it; False when there
    was nothing to do (no such reseller, no API, a credit fetched meanwhile).
    Raises ``CreditUnavailable`` after recording the failure's reason."""
    if not settings.CASHBACK_API_URL:
        return False
    fresh_since = timezone.now() - timedelta(seconds=settings.CASHBACK_API_CACHE_SECONDS)
    if CashbackCredit.objects.filter(pk=reseller_id, fetched_at__gte=fresh_since).exists():
        return False  # another refresh did it (a duplicate message, beat and a request)
    reseller = Reseller.objects.only("cpf_encrypted").filter(pk=reseller_id).first()
    if reseller is None:
        return False
    try:
        credit = credit_fetch(reseller.cpf)
    except CreditUnavailable as failure:
        logger.warning("Credit of reseller %s not refreshed (%s).", reseller_id, failure.reason)
        _store(reseller_id, error=failure.reason[:100])
        raise
    _store(reseller_id, credit=credit)
    return True


def _store(reseller_id: int, *, credit: Decimal | None = None, error: str = "") -> None:
    """One statement whether or not the row exists (two workers may race):
    a success writes the credit, a failure only when and why it failed."""
    now = timezone.now()
    row = CashbackCredit(
        reseller_id=reseller_id,
        credit=credit,
        fetched_at=now if credit is not None else None,
        checked_at=now,
        error=error,
    )
    fields = ["checked_at", "error"] if credit is None else ["credit", "fetched_at", "checked_at", "error"]
    CashbackCredit.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["reseller"], update_fields=fields
    )
