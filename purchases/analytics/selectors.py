"""Staff analytics reads. Every figure is one aggregate query. SQLite keeps
decimals as floats, so sums are quantized to cents here, after aggregation,
on every database alike. Callers cache what they build from them with
``analytics_cached``."""

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Aggregate, Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from core.cache import ANALYTICS, VersionedAnswer
from purchases import cashback
from purchases.models import MonthlyCashback, Purchase, PurchaseItem
from purchases.months import month_span, month_start, shift_month
from purchases.selectors import cashback_policy_get

_ANALYTICS_MONEY = DecimalField(max_digits=14, decimal_places=2)
_COUNTED_STATUSES = (Purchase.Status.VALIDATING, Purchase.Status.APPROVED)


def _money(value: Decimal | float | int | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(cashback.CENT, rounding=ROUND_HALF_UP)


def _sum_money(expression, **kwargs) -> Coalesce:
    return Coalesce(Sum(expression, **kwargs), Value(cashback.ZERO), output_field=_ANALYTICS_MONEY)


def analytics_cached(endpoint: str, params: dict[str, object], compute: Callable[[], Any]) -> Any:
    """``compute()``, cached briefly under the "analytics" namespace, whose
    version every purchase write bumps on commit (core.cache lists its writers).
    The answer carries the version read before computing: one computed while
    a purchase write commits is stored with the old version, which the
    write's bump makes unreachable."""
    cached = VersionedAnswer((ANALYTICS,), endpoint, *sorted(params.items()))
    return cached.get_or_set(compute, timeout=settings.ANALYTICS_CACHE_SECONDS)


def _month_last_day(month: date) -> date:
    # Not next_month(): 9999-12 is a valid month with no month after it.
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


@dataclass(frozen=True)
class StatusFigures:
    purchase_count: int
    total_value: Decimal
    cashback_value: Decimal


@dataclass(frozen=True)
class TierResellers:
    percent: Decimal
    resellers: int


@dataclass(frozen=True)
class AnalyticsSummary:
    month: date
    by_status: dict[str, StatusFigures]  # every status, zeros included
    active_resellers: int
    resellers_per_tier: list[TierResellers]


@dataclass(frozen=True)
class MonthFigures:
    month: date
    purchase_count: int
    total_value: Decimal
    cashback_value: Decimal


@dataclass(frozen=True)
class ResellerRef:
    id: int
    full_name: str


@dataclass(frozen=True)
class ResellerRanking:
    reseller: ResellerRef
    total_value: Decimal
    purchase_count: int
    cashback_percent: Decimal
    cashback_value: Decimal


@dataclass(frozen=True)
class ProductRef:
    id: int
    sku: str
    name: str


@dataclass(frozen=True)
class ProductSales:
    product: ProductRef
    quantity: int
    total_value: Decimal


def analytics_summary_get(*, month: date) -> AnalyticsSummary:
    """One month at a glance: count, value and cashback of its purchases per
    status (rejected ones carry no cashback), how many resellers recorded at
    least one purchase (any status), and how many resellers reached each tier
    of the month's policy (from MonthlyCashback, so only resellers with
    non-rejected purchases; tiers nobody reached show zero)."""
    start = month_start(month)
    aggregates: dict[str, Aggregate | Coalesce] = {"active_resellers": Count("reseller", distinct=True)}
    for status in Purchase.Status.values:  # builds 3 x 3 expressions; one query runs
        only = Q(status=status)
        aggregates[f"{status}__count"] = Count("id", filter=only)
        aggregates[f"{status}__value"] = _sum_money("value", filter=only)
        aggregates[f"{status}__cashback"] = _sum_money("cashback_value", filter=only)
    totals = Purchase.objects.filter(date__range=(start, _month_last_day(start))).aggregate(**aggregates)

    return AnalyticsSummary(
        month=start,
        by_status={
            status: StatusFigures(
                purchase_count=totals[f"{status}__count"],
                total_value=_money(totals[f"{status}__value"]),
                cashback_value=_money(totals[f"{status}__cashback"]),
            )
            for status in Purchase.Status.values
        },
        active_resellers=totals["active_resellers"],
        resellers_per_tier=analytics_tier_mix_list(month=start),
    )


def analytics_tier_mix_list(*, month: date) -> list[TierResellers]:
    """How many resellers reached each tier of the month's policy, from
    MonthlyCashback (only resellers with non-rejected purchases; tiers
    nobody reached show zero), lowest percent first."""
    start = month_start(month)
    per_percent = {
        _money(row["cashback_percent"]): row["resellers"]
        for row in MonthlyCashback.objects.filter(month=start)
        .values("cashback_percent")
        .annotate(resellers=Count("id"))
        .order_by("cashback_percent")
    }
    try:
        policy_percents = [_money(tier.percent) for tier in cashback_policy_get(month=start).as_tiers()]
    except ImproperlyConfigured:
        policy_percents = []
    for percent in policy_percents:
        per_percent.setdefault(percent, 0)
    return [TierResellers(percent=percent, resellers=count) for percent, count in sorted(per_percent.items())]


def analytics_pending_count() -> int:
    """How many purchases wait for a review (in validation): an index-only
    count over the partial index of those purchases."""
    return Purchase.objects.filter(status=Purchase.Status.VALIDATING).count()


def analytics_monthly_list(*, from_month: date, to_month: date) -> list[MonthFigures]:
    """One row per calendar month from ``from_month`` to ``to_month``, months
    without purchases included (zeros): count, value and cashback of the
    month's non-rejected purchases, i.e. the sums of MonthlyCashback."""
    first, last = month_start(from_month), month_start(to_month)
    rows = {
        row["month"]: row
        for row in MonthlyCashback.objects.filter(month__range=(first, last))
        .values("month")
        .annotate(
            purchase_count=Coalesce(Sum("purchase_count"), Value(0)),
            total_value=_sum_money("total_value"),
            cashback_value=_sum_money("cashback_value"),
        )
        .order_by("month")
    }
    figures = []
    for offset in range(month_span(first, last)):  # fills the gaps between aggregate rows
        month = shift_month(first, offset)
        row = rows.get(month, {})
        figures.append(
            MonthFigures(
                month=month,
                purchase_count=row.get("purchase_count", 0),
                total_value=_money(row.get("total_value")),
                cashback_value=_money(row.get("cashback_value")),
            )
        )
    return figures


def analytics_top_resellers_list(*, month: date, limit: int) -> list[ResellerRanking]:
    """The month's resellers ranked by their total of non-rejected purchases
    (ties by reseller id), with the tier reached and the cashback earned."""
    rows = (
        MonthlyCashback.objects.filter(month=month_start(month))
        .order_by("-total_value", "reseller_id")
        .values(
            "reseller_id",
            "reseller__user__full_name",
            "total_value",
            "purchase_count",
            "cashback_percent",
            "cashback_value",
        )[:limit]
    )
    return [
        ResellerRanking(
            reseller=ResellerRef(id=row["reseller_id"], full_name=row["reseller__user__full_name"]),
            total_value=_money(row["total_value"]),
            purchase_count=row["purchase_count"],
            cashback_percent=_money(row["cashback_percent"]),
            cashback_value=_money(row["cashback_value"]),
        )
        for row in rows
    ]


def analytics_top_products_list(*, month: date, limit: int) -> list[ProductSales]:
    """The month's best-selling products: units in non-rejected purchases
    (ties by value, then product id), with their value at the recorded unit
    prices."""
    start = month_start(month)
    rows = (
        PurchaseItem.objects.filter(
            purchase__date__range=(start, _month_last_day(start)),
            purchase__status__in=_COUNTED_STATUSES,
        )
        .values("product_id", "product__sku", "product__name")
        # Not named "quantity": F("quantity") must mean the column, not the sum.
        .annotate(units=Sum("quantity"), value=_sum_money(F("unit_price") * F("quantity")))
        .order_by("-units", "-value", "product_id")[:limit]
    )
    return [
        ProductSales(
            product=ProductRef(id=row["product_id"], sku=row["product__sku"], name=row["product__name"]),
            quantity=row["units"],
            total_value=_money(row["value"]),
        )
        for row in rows
    ]
