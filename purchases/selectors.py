"""Reads: permission-scoped purchase querysets, month summaries, the ledger."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch, QuerySet, Sum

from accounts.models import User
from purchases import cashback
from purchases.models import CashbackPolicy, MonthlyCashback, Purchase, PurchaseItem
from purchases.months import month_start
from resellers.models import Reseller


def purchase_list(*, user: User) -> QuerySet[Purchase]:
    """The purchases this user may see: staff all, a reseller their own,
    anyone else none. Used for list and detail alike, so another reseller's
    purchase is simply not found."""
    queryset = Purchase.objects.select_related("reseller__user").prefetch_related(
        Prefetch("items", queryset=PurchaseItem.objects.select_related("product"))
    )
    if user.is_staff:
        return queryset
    reseller = getattr(user, "reseller", None)
    if reseller is None:
        return queryset.none()
    return queryset.filter(reseller=reseller)


def policy_for_month(month: date) -> CashbackPolicy:
    """The policy in force on the month's first day."""
    policy = (
        CashbackPolicy.objects.filter(effective_from__lte=month_start(month))
        .prefetch_related("tiers")
        .order_by("-effective_from")
        .first()
    )
    if policy is None:
        raise ImproperlyConfigured(f"No cashback policy covers {month:%Y-%m}.")
    return policy


@dataclass(frozen=True)
class MonthSummary:
    month: date
    total_value: Decimal
    purchase_count: int
    cashback_percent: Decimal
    cashback_value: Decimal
    next_tier: cashback.NextTier | None


def reseller_month_summary(*, reseller: Reseller, month: date) -> MonthSummary:
    """The reseller's month: non-rejected total and count, the tier reached,
    the cashback earned, and what is missing to reach the next tier."""
    month = month_start(month)
    row = MonthlyCashback.objects.filter(reseller=reseller, month=month).select_related("policy").first()
    tiers = (row.policy if row else policy_for_month(month)).as_tiers()
    total = row.total_value if row else cashback.ZERO
    return MonthSummary(
        month=month,
        total_value=total,
        purchase_count=row.purchase_count if row else 0,
        cashback_percent=row.cashback_percent if row else cashback.percent_for_total(total, tiers),
        cashback_value=row.cashback_value if row else cashback.ZERO,
        next_tier=cashback.next_tier(total, tiers),
    )


def reseller_local_ledger(*, reseller: Reseller) -> Decimal:
    """Accumulated cashback known locally: the cashback of approved purchases."""
    total = Purchase.objects.filter(reseller=reseller, status=Purchase.Status.APPROVED).aggregate(
        total=Sum("cashback_value")
    )["total"]
    return (total or cashback.ZERO).quantize(cashback.CENT)
