"""Reads: permission-scoped purchase querysets, month summaries, the ledger."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import get_reseller
from purchases import cashback
from purchases.models import CashbackPolicy, MonthlyCashback, Purchase, PurchaseItem
from purchases.months import month_start
from resellers.models import Reseller
from resellers.selectors import reseller_get_by_cpf, reseller_has_cpf

FOREIGN_CPF_MESSAGE = _("Resellers can only record their own purchases.")
UNKNOWN_CPF_MESSAGE = _("No reseller has this CPF.")
CPF_REQUIRED_MESSAGE = _("Send the CPF of the reseller who made the purchase.")


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


def purchase_owner_get(*, user: User, cpf: str | None) -> Reseller:
    """Whose purchase ``user`` is recording, given the CPF sent (or None).

    A reseller records only their own purchases: without a CPF, or with
    their own. Any other CPF is refused whether or not it exists, so the
    route cannot be used to probe for registered CPFs. Staff record for any
    registered CPF and must send one."""
    own = get_reseller(user)
    if cpf is None:
        if own is None:
            raise ValidationError({"cpf": [CPF_REQUIRED_MESSAGE]}, code="required")
        return own
    if own is not None and reseller_has_cpf(reseller=own, cpf=cpf):
        return own
    if not user.is_staff:
        raise PermissionDenied(FOREIGN_CPF_MESSAGE)
    reseller = reseller_get_by_cpf(cpf=cpf)
    if reseller is None:
        raise ValidationError({"cpf": [UNKNOWN_CPF_MESSAGE]}, code="unknown_cpf")
    return reseller


def cashback_policy_get(*, month: date) -> CashbackPolicy:
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


def month_summary_get(*, reseller: Reseller, month: date) -> MonthSummary:
    """The reseller's month: non-rejected total and count, the tier reached,
    the cashback earned, and what is missing to reach the next tier."""
    month = month_start(month)
    row = MonthlyCashback.objects.filter(reseller=reseller, month=month).select_related("policy").first()
    tiers = (row.policy if row else cashback_policy_get(month=month)).as_tiers()
    total = row.total_value if row else cashback.ZERO
    return MonthSummary(
        month=month,
        total_value=total,
        purchase_count=row.purchase_count if row else 0,
        cashback_percent=row.cashback_percent if row else cashback.percent_for_total(total, tiers),
        cashback_value=row.cashback_value if row else cashback.ZERO,
        next_tier=cashback.next_tier(total, tiers),
    )


def local_ledger_get(*, reseller: Reseller) -> Decimal:
    """Accumulated cashback known locally: the cashback of approved purchases."""
    total = Purchase.objects.filter(reseller=reseller, status=Purchase.Status.APPROVED).aggregate(
        total=Sum("cashback_value")
    )["total"]
    return (total or cashback.ZERO).quantize(cashback.CENT)
