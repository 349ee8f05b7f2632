"""Reads: permission-scoped purchase querysets, month summaries, the ledger."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import get_reseller
from core.cache import USER_NAMES_NAMESPACE, VersionedAnswer
from products.selectors import CATALOGUE_CACHE_NAMESPACE
from purchases import cashback
from purchases.models import CashbackPolicy, MonthlyCashback, Purchase, PurchaseItem
from purchases.months import current_month, month_start
from resellers.models import Reseller
from resellers.selectors import reseller_get_by_cpf, reseller_has_cpf

FOREIGN_CPF_MESSAGE = _("Resellers can only record their own purchases.")
UNKNOWN_CPF_MESSAGE = _("No reseller has this CPF.")
CPF_REQUIRED_MESSAGE = _("Send the CPF of the reseller who made the purchase.")


def purchase_list(*, user: User) -> QuerySet[Purchase]:
    """The purchases this user may see: staff all, a reseller their own,
    anyone else none. The base of list and detail alike, so another
    reseller's purchase is simply not found. No joins: each read adds what it
    shows (``purchase_list_detailed`` for one purchase, the list builds rows
    from ``PURCHASE_ROW_FIELDS`` and ``purchase_page_related``)."""
    if user.is_staff:
        return Purchase.objects.all()
    reseller = get_reseller(user)
    if reseller is None:
        return Purchase.objects.none()
    return Purchase.objects.filter(reseller_id=reseller.pk)


def purchase_list_detailed(*, user: User) -> QuerySet[Purchase]:
    """``purchase_list`` with everything the detail shows, for one purchase."""
    return (
        purchase_list(user=user)
        .select_related("reseller__user", "reviewed_by")
        .prefetch_related(Prefetch("items", queryset=PurchaseItem.objects.select_related("product")))
    )


def purchase_list_cache_namespace(reseller_id: int) -> str:
    """The cache namespace of one reseller's list answers; the services bump
    it after every committed write to that reseller's purchases."""
    return f"purchases-of-{reseller_id}"


# Every purchase write bumps it: the namespace of the staff's list answers.
ALL_PURCHASES_CACHE_NAMESPACE = "purchases-all"


def purchase_list_answer(*, reseller_id: int | None, url: str, language: str) -> VersionedAnswer:
    """The cached answer of one purchase list page (a reseller's, or the
    staff's with ``reseller_id=None``). The items show product SKUs and
    names, so the catalogue's version is part of it; the staff's rows show
    people's names, so is theirs; the status label is translated, so is the
    language."""
    if reseller_id is None:
        namespaces = (ALL_PURCHASES_CACHE_NAMESPACE, CATALOGUE_CACHE_NAMESPACE, USER_NAMES_NAMESPACE)
    else:
        namespaces = (purchase_list_cache_namespace(reseller_id), CATALOGUE_CACHE_NAMESPACE)
    return VersionedAnswer(namespaces, language, url)


# The columns of a purchase list row (the staff's adds who and the review).
PURCHASE_ROW_FIELDS = (
    "id",
    "code",
    "value",
    "date",
    "status",
    "cashback_percent",
    "cashback_value",
    "created_at",
    "updated_at",
)
# The staff's rows add who and the review; the two names come joined in the
# same query (by primary key, for the page's rows only).
PURCHASE_STAFF_ROW_FIELDS = (
    *PURCHASE_ROW_FIELDS,
    "reseller_id",
    "reseller__user__full_name",
    "reviewed_by__email",
    "reviewed_at",
    "rejection_reason",
)


# The items of purchase rows, with the two product columns shown: built once
# (the columns, the join and the order), each page adds its ids.
_ITEM_ROWS = PurchaseItem.objects.order_by("purchase_id", "id").values(
    "purchase_id", "product_id", "product__sku", "product__name", "quantity", "unit_price"
)


def purchase_page_items(rows: list[dict]) -> dict[int, list[dict]]:
    """The items of a page of purchase rows, by purchase id, in order: one
    query whatever the page size."""
    items: dict[int, list[dict]] = {row["id"]: [] for row in rows}
    if rows:
        for item in _ITEM_ROWS.filter(purchase_id__in=list(items)):
            items[item["purchase_id"]].append(item)
    return items


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


POLICY_CACHE_SECONDS = 3600


def cashback_tiers_get(*, month: date) -> tuple[int, tuple[cashback.Tier, ...]]:
    """(id, tiers) of the policy in force in ``month``, cached for months that
    have begun: the policy of such a month never changes (the admin only adds
    or edits policies of future months, and keeps those in force read-only)."""
    start = month_start(month)
    cacheable = start <= current_month()
    key = f"cashback-policy:{start:%Y-%m}"
    if cacheable and (cached := cache.get(key)) is not None:
        return cached
    policy = cashback_policy_get(month=start)
    answer = (policy.pk, policy.as_tiers())
    if cacheable:
        cache.set(key, answer, timeout=POLICY_CACHE_SECONDS)
    return answer


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
    row = (
        MonthlyCashback.objects.filter(reseller=reseller, month=month)
        .only("total_value", "purchase_count", "cashback_percent", "cashback_value")
        .first()
    )
    # The row was computed with the policy in force in the month, which is
    # the one cashback_tiers_get answers (from the cache for begun months).
    _policy_id, tiers = cashback_tiers_get(month=month)
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
