"""Staff analytics reads, from the maintained figures (purchases.analytics.services):
MonthTotals per calendar month, MonthTierResellers per month and tier,
ProductMonthSales per product and month, and the reseller-months of
MonthlyCashback for the ranking; never the purchase rows, so each
answer reads a month's (or a period's) figures whatever the number of
purchases. SQLite keeps decimals as floats, so sums are quantized to cents
here, on every database alike. Callers cache what they build from them with
``analytics_cached``."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Sum

from core.cache import ANALYTICS, VersionedAnswer
from purchases import cashback
from purchases.analytics.services import COUNTED_STATUSES
from purchases.models import MonthlyCashback, MonthTierResellers, MonthTotals, ProductMonthSales, Purchase
from purchases.months import month_span, month_start, shift_month
from purchases.selectors import cashback_policy_get


def _money(value: Decimal | float | int | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(cashback.CENT, rounding=ROUND_HALF_UP)


def analytics_cached(endpoint: str, params: dict[str, object], compute: Callable[[], Any]) -> Any:
    """``compute()``, cached briefly under the "analytics" namespace, whose
    version every purchase write bumps on commit (core.cache lists its writers).
    The answer carries the version read before computing: one computed while
    a purchase write commits is stored with the old version, which the
    write's bump makes unreachable."""
    cached = VersionedAnswer((ANALYTICS,), endpoint, *sorted(params.items()))
    return cached.get_or_set(compute, timeout=settings.ANALYTICS_CACHE_SECONDS)


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
    non-rejected purchases; tiers nobody reached show zero). One row of
    MonthTotals."""
    start = month_start(month)
    totals = MonthTotals.objects.filter(month=start).values().first() or {}

    return AnalyticsSummary(
        month=start,
        by_status={
            status: StatusFigures(
                purchase_count=totals.get(f"{status}_count", 0),
                total_value=_money(totals.get(f"{status}_value")),
                cashback_value=_money(totals.get(f"{status}_cashback")),
            )
            for status in Purchase.Status.values
        },
        active_resellers=totals.get("active_resellers", 0),
        resellers_per_tier=analytics_tier_mix_list(month=start),
    )


def analytics_tier_mix_list(*, month: date) -> list[TierResellers]:
    """How many resellers reached each tier of the month's policy (only
    resellers with non-rejected purchases, as MonthlyCashback counts them;
    tiers nobody reached show zero), lowest percent first: the month's
    MonthTierResellers rows."""
    start = month_start(month)
    per_percent = {
        _money(percent): resellers
        for percent, resellers in MonthTierResellers.objects.filter(month=start, resellers__gt=0).values_list(
            "percent", "resellers"
        )
    }
    try:
        policy_percents = [_money(tier.percent) for tier in cashback_policy_get(month=start).as_tiers()]
    except ImproperlyConfigured:
        policy_percents = []
    for percent in policy_percents:
        per_percent.setdefault(percent, 0)
    return [TierResellers(percent=percent, resellers=count) for percent, count in sorted(per_percent.items())]


def analytics_pending_count() -> int:
    """How many purchases wait for a review (in validation): the sum over
    the months' totals (a row per month with purchases)."""
    return MonthTotals.objects.aggregate(pending=Sum("validating_count"))["pending"] or 0


def analytics_monthly_list(*, from_month: date, to_month: date) -> list[MonthFigures]:
    """One row per calendar month from ``from_month`` to ``to_month``, months
    without purchases included (zeros): count, value and cashback of the
    month's non-rejected purchases (validating and approved), from the
    period's MonthTotals rows."""
    first, last = month_start(from_month), month_start(to_month)
    rows = {row["month"]: row for row in MonthTotals.objects.filter(month__range=(first, last)).values()}
    figures = []
    for offset in range(month_span(first, last)):  # fills the gaps between aggregate rows
        month = shift_month(first, offset)
        row = rows.get(month, {})
        figures.append(
            MonthFigures(
                month=month,
                purchase_count=sum(row.get(f"{status}_count", 0) for status in COUNTED_STATUSES),
                total_value=sum(
                    (_money(row.get(f"{status}_value")) for status in COUNTED_STATUSES), cashback.ZERO
                ),
                cashback_value=sum(
                    (_money(row.get(f"{status}_cashback")) for status in COUNTED_STATUSES), cashback.ZERO
                ),
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
    prices. The month's ProductMonthSales rows read in ranking order (their
    index), ``limit`` of them."""
    rows = (
        ProductMonthSales.objects.filter(month=month_start(month), quantity__gt=0)
        .order_by("-quantity", "-total_value", "product_id")
        .values("product_id", "product__sku", "product__name", "quantity", "total_value")[:limit]
    )
    return [
        ProductSales(
            product=ProductRef(id=row["product_id"], sku=row["product__sku"], name=row["product__name"]),
            quantity=row["quantity"],
            total_value=_money(row["total_value"]),
        )
        for row in rows
    ]
