"""The maintained analytics figures (MonthTotals, MonthTierResellers,
ProductMonthSales) stay
equal to a recomputation from the purchase rows whatever sequence of writes
made them, through the real write paths (the services, the admin's bulk
review); the selectors that read them answer what the on-demand aggregates
over the rows answered; the rebuild and its command put drifted figures
right."""

import contextlib
from collections import defaultdict
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import StaffFactory
from core.exceptions import ConflictError
from products.tests.factories import ProductFactory
from purchases.analytics import selectors
from purchases.analytics.services import (
    analytics_figures_differences,
    analytics_figures_rebuild,
    figures_change,
)
from purchases.models import (
    CodeCounts,
    DayCounts,
    MonthlyCashback,
    MonthTierResellers,
    MonthTotals,
    ProductMonthSales,
    Purchase,
    PurchaseItem,
)
from purchases.months import next_month
from purchases.services import (
    ItemInput,
    purchase_approve,
    purchase_create,
    purchase_delete,
    purchase_reject,
    purchase_update,
)
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

D = Decimal
CENT = D("0.01")
MONTHS = (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1))  # 2026-03-20 is "today"
EMPTY_MONTH = date(2025, 12, 1)
PRICES = (D("10.00"), D("99.90"), D("250.00"))
AUTO_APPROVED_CPF = "15350946056"  # in the test settings' CASHBACK_AUTO_APPROVED_CPFS
COUNTED = (Purchase.Status.VALIDATING, Purchase.Status.APPROVED)
_MONEY = DecimalField(max_digits=14, decimal_places=2)


# --- The oracle: the figures recomputed in Python from the rows ------------------


def cents(value) -> Decimal:
    return D(str(value or 0)).quantize(CENT)


def figures_from_rows() -> tuple[dict, dict, dict, dict, dict]:
    months: dict = defaultdict(lambda: defaultdict(D))
    resellers: dict = defaultdict(set)
    days: dict = defaultdict(lambda: defaultdict(int))
    codes: dict = defaultdict(int)
    for reseller_id, code, day, status, value, cashback in Purchase.objects.values_list(
        "reseller_id", "code", "date", "status", "value", "cashback_value"
    ):
        days[day][f"{status}_count"] += 1
        codes[code] += 1
        month = day.replace(day=1)
        resellers[month].add(reseller_id)
        months[month][f"{status}_count"] += 1
        months[month][f"{status}_value"] += value
        months[month][f"{status}_cashback"] += cashback
    for month, ids in resellers.items():
        months[month]["active_resellers"] = D(len(ids))
    products: dict = defaultdict(lambda: [0, D("0.00")])
    for product_id, day, quantity, price in PurchaseItem.objects.filter(
        purchase__status__in=COUNTED
    ).values_list("product_id", "purchase__date", "quantity", "unit_price"):
        sales = products[(product_id, day.replace(day=1))]
        sales[0] += quantity
        sales[1] += quantity * price
    tiers: dict = defaultdict(int)
    for month, percent in MonthlyCashback.objects.values_list("month", "cashback_percent"):
        tiers[(month, cents(percent))] += 1
    return (
        {
            month: {column: cents(amount) for column, amount in row.items() if amount}
            for month, row in months.items()
        },
        dict(tiers),
        {key: (quantity, cents(value)) for key, (quantity, value) in products.items() if quantity},
        {day: dict(counts) for day, counts in days.items()},
        dict(codes),
    )


def stored_figures() -> tuple[dict, dict, dict, dict, dict]:
    months = {}
    for row in MonthTotals.objects.values():
        month = row.pop("month")
        figures = {column: cents(amount) for column, amount in row.items() if amount}
        if figures:
            months[month] = figures
    tiers = {
        (month, cents(percent)): resellers
        for month, percent, resellers in MonthTierResellers.objects.values_list(
            "month", "percent", "resellers"
        )
        if resellers
    }
    products = {
        (row["product_id"], row["month"]): (row["quantity"], cents(row["total_value"]))
        for row in ProductMonthSales.objects.values()
        if row["quantity"] or row["total_value"]
    }
    days = {}
    for row in DayCounts.objects.values():
        day = row.pop("date")
        counts = {column: count for column, count in row.items() if count}
        if counts:
            days[day] = counts
    codes = dict(CodeCounts.objects.filter(purchase_count__gt=0).values_list("code", "purchase_count"))
    return months, tiers, products, days, codes


# --- The analytics as they were computed before: aggregates over the rows ---------


def _sum_money(expression, **kwargs):
    return Coalesce(Sum(expression, **kwargs), Value(D("0.00")), output_field=_MONEY)


def on_demand_summary(month: date) -> dict:
    aggregates = {"active_resellers": Count("reseller", distinct=True)}
    for status in Purchase.Status.values:
        only = Q(status=status)
        aggregates[f"{status}__count"] = Count("id", filter=only)
        aggregates[f"{status}__value"] = _sum_money("value", filter=only)
        aggregates[f"{status}__cashback"] = _sum_money("cashback_value", filter=only)
    totals = Purchase.objects.filter(date__gte=month, date__lt=next_month(month)).aggregate(**aggregates)
    return {
        "by_status": {
            status: selectors.StatusFigures(
                purchase_count=totals[f"{status}__count"],
                total_value=cents(totals[f"{status}__value"]),
                cashback_value=cents(totals[f"{status}__cashback"]),
            )
            for status in Purchase.Status.values
        },
        "active_resellers": totals["active_resellers"],
        "resellers_per_tier": on_demand_tier_mix(month),
    }


def on_demand_tier_mix(month: date) -> list[selectors.TierResellers]:
    per_percent = {
        cents(row["cashback_percent"]): row["resellers"]
        for row in MonthlyCashback.objects.filter(month=month)
        .values("cashback_percent")
        .annotate(resellers=Count("id"))
        .order_by("cashback_percent")
    }
    for percent in (D("10.00"), D("15.00"), D("20.00")):  # the default policy's
        per_percent.setdefault(percent, 0)
    return [selectors.TierResellers(percent, count) for percent, count in sorted(per_percent.items())]


def on_demand_month(month: date) -> selectors.MonthFigures:
    totals = Purchase.objects.filter(
        date__gte=month, date__lt=next_month(month), status__in=COUNTED
    ).aggregate(count=Count("id"), value=_sum_money("value"), cashback=_sum_money("cashback_value"))
    return selectors.MonthFigures(month, totals["count"], cents(totals["value"]), cents(totals["cashback"]))


def on_demand_top_products(month: date, limit: int) -> list[selectors.ProductSales]:
    rows = (
        PurchaseItem.objects.filter(
            purchase__date__gte=month, purchase__date__lt=next_month(month), purchase__status__in=COUNTED
        )
        .values("product_id", "product__sku", "product__name")
        .annotate(units=Sum("quantity"), value=_sum_money(F("unit_price") * F("quantity")))
        .order_by("-units", "-value", "product_id")[:limit]
    )
    return [
        selectors.ProductSales(
            product=selectors.ProductRef(row["product_id"], row["product__sku"], row["product__name"]),
            quantity=row["units"],
            total_value=cents(row["value"]),
        )
        for row in rows
    ]


def assert_figures_exact() -> None:
    assert stored_figures() == figures_from_rows()
    assert not analytics_figures_differences()
    for month in (*MONTHS, EMPTY_MONTH):
        summary = selectors.analytics_summary_get(month=month)
        expected = on_demand_summary(month)
        assert (summary.by_status, summary.active_resellers, summary.resellers_per_tier) == (
            expected["by_status"],
            expected["active_resellers"],
            expected["resellers_per_tier"],
        )
        assert selectors.analytics_top_products_list(month=month, limit=100) == on_demand_top_products(
            month, 100
        )
        assert selectors.analytics_top_products_list(month=month, limit=2) == on_demand_top_products(month, 2)
    assert selectors.analytics_monthly_list(from_month=EMPTY_MONTH, to_month=MONTHS[-1]) == [
        on_demand_month(month) for month in (EMPTY_MONTH, *MONTHS)
    ]
    assert selectors.analytics_pending_count() == Purchase.objects.filter(status="validating").count()


# --- Random sequences of writes ------------------------------------------------------

values = st.integers(min_value=1, max_value=120_000).map(lambda amount: D(amount) / 100)
item_lists = st.lists(
    st.tuples(st.integers(0, len(PRICES) - 1), st.integers(1, 4)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)
days = st.tuples(st.integers(0, len(MONTHS) - 1), st.integers(1, 20))
picks = st.integers(min_value=0, max_value=1_000)
code_numbers = st.integers(min_value=0, max_value=5)
# Half creates, so that the other writes find purchases to change.
KINDS = ["create"] * 6 + ["update", "update", "delete", "approve", "reject", "bulk_approve", "bulk_reject"]


@st.composite
def writes(draw):
    """One write: ("create", reseller, (month, day), value or items, code),
    ("update", pick, (month, day) or None, ("value", v) / ("items", items) / ("code", n) or None),
    (delete / approve / reject, pick) or (bulk_approve / bulk_reject, picks)."""
    kind = draw(st.sampled_from(KINDS))
    if kind == "create":
        content = draw(values) if draw(st.booleans()) else draw(item_lists)
        # Few codes: shared by resellers (one count for all), and refused
        # when a reseller has the code already.
        return (kind, draw(st.integers(0, 3)), draw(days), content, draw(code_numbers))
    if kind == "update":
        moved = draw(days) if draw(st.booleans()) else None
        content = draw(st.sampled_from(["value", "items", "none", "no items", "code"]))
        change = {
            "code": ("code", draw(code_numbers)),
            "value": ("value", draw(values)),
            "items": ("items", draw(item_lists)),
            "no items": ("items", []),
            "none": None,
        }[content]
        return (kind, draw(picks), moved, change)
    if kind.startswith("bulk_"):
        return (kind, draw(st.lists(picks, min_size=1, max_size=4)))
    return (kind, draw(picks))


class World:
    """The example's resellers (the last one auto-approved), products, reviewer
    and an admin session, all made inside the example's transaction."""

    def __init__(self):
        self.resellers = [ResellerFactory() for _ in range(3)] + [ResellerFactory(cpf=AUTO_APPROVED_CPF)]
        self.products = [ProductFactory(price=price) for price in PRICES]
        self.reviewer = StaffFactory(is_superuser=True)
        self.admin = Client()
        self.admin.force_login(self.reviewer)

    def pick(self, index: int) -> Purchase | None:
        purchases = list(Purchase.objects.order_by("pk"))
        return purchases[index % len(purchases)] if purchases else None

    def items(self, entries) -> list[ItemInput]:
        return [ItemInput(product=self.products[index], quantity=quantity) for index, quantity in entries]

    def apply(self, write) -> None:
        kind = write[0]
        if kind == "create":
            _, reseller, (month, day), content, code = write
            purchase_create(
                reseller=self.resellers[reseller],
                code=f"W-{code}",
                date=MONTHS[month].replace(day=day),
                **({"value": content} if isinstance(content, Decimal) else {"items": self.items(content)}),
            )
            return
        if kind.startswith("bulk_"):
            self.bulk_review(kind, write[1])
            return
        purchase = self.pick(write[1])
        if purchase is None:
            return
        if kind == "update":
            _, _, moved, content = write
            changes = {}
            if moved is not None:
                changes["date"] = MONTHS[moved[0]].replace(day=moved[1])
            if content is not None and content[0] == "code":
                changes["code"] = f"W-{content[1]}"
            elif content is not None:
                changes[content[0]] = content[1] if content[0] == "value" else self.items(content[1])
            purchase_update(purchase=purchase, **changes)
        elif kind == "delete":
            purchase_delete(purchase=purchase)
        elif kind == "approve":
            purchase_approve(purchase=purchase, reviewer=self.reviewer)
        else:
            purchase_reject(purchase=purchase, reviewer=self.reviewer, reason="Nota ilegível.")

    def bulk_review(self, kind: str, indexes) -> None:
        chosen = {purchase.pk for index in indexes if (purchase := self.pick(index)) is not None}
        if not chosen:
            return
        data = {"action": kind.replace("bulk_", "") + "_selected", "_selected_action": sorted(chosen)}
        if kind == "bulk_reject":
            data |= {"apply": "1", "reason": "Duplicada."}
        response = self.admin.post("/admin/purchases/purchase/", data)
        assert response.status_code == 302


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(writes(), min_size=4, max_size=25))
def test_maintained_figures_equal_a_recomputation_after_any_writes(db, sequence):
    # Each example in a transaction of its own, rolled back at its end.
    with transaction.atomic():
        world = World()
        for write in sequence:
            # Refused writes (a reviewed purchase, a value that does not match) change nothing.
            with contextlib.suppress(ConflictError, ValidationError):
                world.apply(write)
        assert_figures_exact()
        transaction.set_rollback(True)


# --- Particular cases ------------------------------------------------------------------


def test_a_write_refused_inside_a_batch_changes_no_figure(make_purchase, staff_user):
    purchase = make_purchase(value="100.00", date=date(2026, 3, 2))
    purchase_approve(purchase=purchase, reviewer=staff_user)
    other = make_purchase(value="40.00", date=date(2026, 3, 3))
    before = stored_figures()
    with transaction.atomic(), figures_change():
        with pytest.raises(ConflictError):
            purchase_delete(purchase=purchase)  # approved: refused after its lock, in its savepoint
        purchase_approve(purchase=other, reviewer=staff_user)
        assert stored_figures() == before  # the batch applies once, at its end
    assert stored_figures() == figures_from_rows() != before


def test_moving_a_purchase_to_another_month_moves_its_reseller_and_items(make_purchase):
    reseller = ResellerFactory()
    product = ProductFactory(price=D("20.00"))
    purchase = make_purchase(reseller, date=date(2026, 2, 10), items=[ItemInput(product=product, quantity=3)])
    assert MonthTotals.objects.get(month=date(2026, 2, 1)).active_resellers == 1

    purchase_update(purchase=purchase, date=date(2026, 3, 1))

    february, march = (
        MonthTotals.objects.get(month=date(2026, 2, 1)),
        MonthTotals.objects.get(month=date(2026, 3, 1)),
    )
    assert (february.active_resellers, february.validating_count, february.validating_value) == (0, 0, 0)
    assert (march.active_resellers, march.validating_count, march.validating_value) == (1, 1, D("60.00"))
    assert ProductMonthSales.objects.get(product=product, month=date(2026, 3, 1)).quantity == 3
    assert ProductMonthSales.objects.get(product=product, month=date(2026, 2, 1)).quantity == 0
    assert_figures_exact()


def test_a_tier_change_moves_the_other_purchases_cashback(make_purchase, staff_user):
    reseller = ResellerFactory()
    approved = make_purchase(reseller, "900.00", date(2026, 3, 1))
    purchase_approve(purchase=approved, reviewer=staff_user)
    make_purchase(reseller, "700.00", date(2026, 3, 2))  # 1,600.00: 20 % for both
    march = MonthTotals.objects.get(month=date(2026, 3, 1))
    assert (march.approved_cashback, march.validating_cashback) == (D("180.00"), D("140.00"))

    purchase_reject(purchase=Purchase.objects.get(value=D("700.00")), reviewer=staff_user, reason="Fake")

    march.refresh_from_db()
    assert (march.approved_cashback, march.validating_cashback, march.rejected_cashback) == (D("90.00"), 0, 0)
    assert (march.rejected_count, march.rejected_value, march.active_resellers) == (1, D("700.00"), 1)
    assert_figures_exact()


# --- Rebuild -------------------------------------------------------------------------


@pytest.fixture
def drifted(make_purchase, staff_user):
    """Figures written around the services: purchases inserted in bulk (as a
    restore would) and a month's totals edited by hand."""
    product = ProductFactory(price=D("12.50"))
    make_purchase(value="300.00", date=date(2026, 2, 5), items=[])
    make_purchase(date=date(2026, 3, 5), items=[ItemInput(product=product, quantity=2)])
    outside = Purchase.objects.create(
        reseller=ResellerFactory(), code="X", value=D("55.00"), date=date(2026, 3, 6)
    )
    PurchaseItem.objects.create(purchase=outside, product=product, quantity=4, unit_price=D("12.50"))
    MonthTotals.objects.filter(month=date(2026, 2, 1)).update(approved_count=7)
    return product


def test_rebuild_puts_every_month_right(drifted):
    assert analytics_figures_differences().months == [date(2026, 2, 1), date(2026, 3, 1)]
    assert analytics_figures_differences().product_months == [(drifted.pk, date(2026, 3, 1))]

    result = analytics_figures_rebuild()

    assert (result.months, result.tiers, result.product_months, result.days, result.codes) == (2, 2, 1, 3, 3)
    assert stored_figures() == figures_from_rows()
    assert ProductMonthSales.objects.get(product=drifted).quantity == 6


def test_rebuild_of_one_month_leaves_the_others(drifted):
    assert analytics_figures_differences().codes == ["X"]
    assert analytics_figures_rebuild(month=date(2026, 3, 17)).codes is None
    # The codes span months: only the rebuild of all puts them right.
    assert analytics_figures_differences().months == [date(2026, 2, 1)]
    assert analytics_figures_differences().codes == ["X"]
    assert not analytics_figures_differences(month=date(2026, 3, 1))


def test_rebuild_drops_the_cached_answers(drifted, staff_client, django_capture_on_commit_callbacks):
    url = "/api/v1/analytics/summary/?month=2026-02"
    assert staff_client.get(url).json()["by_status"]["approved"]["purchase_count"] == 7
    with django_capture_on_commit_callbacks(execute=True):
        analytics_figures_rebuild(month=date(2026, 2, 1))
    assert staff_client.get(url).json()["by_status"]["approved"]["purchase_count"] == 0


def test_the_command_checks_and_rebuilds(drifted):
    out = StringIO()
    with pytest.raises(
        CommandError,
        match=r"2 month\(s\), 0 tier\(s\), 1 product-month\(s\), 1 day\(s\) and 1 code\(s\) differ",
    ):
        call_command("rebuild_analytics", "--check", stdout=out)
    assert "month 2026-02: the totals differ" in out.getvalue()
    assert "code X: the count differs" in out.getvalue()

    call_command("rebuild_analytics", "--month", "2026-02", stdout=out)
    assert (
        "Rebuilt the figures of month 2026-02: 1 month row(s), 1 tier row(s), 0 product-month row(s), "
        "1 day row(s) in" in out.getvalue()
    )
    call_command("rebuild_analytics", stdout=out)
    assert "3 day row(s), 3 code row(s) in" in out.getvalue()
    call_command("rebuild_analytics", "--check", stdout=out)
    assert "The figures of every month equal the purchase rows." in out.getvalue()


def test_the_command_refuses_a_bad_month():
    with pytest.raises(CommandError, match="argument --month"):
        call_command("rebuild_analytics", "--month", "2026-13")


# --- The routes read the figures, not the rows ---------------------------------------

ROUTES = [
    "/api/v1/analytics/summary/?month=2026-03",
    "/api/v1/analytics/monthly/?from=2016-04&to=2026-03",
    "/api/v1/analytics/top-resellers/?month=2026-03&limit=100",
    "/api/v1/analytics/top-products/?month=2026-03&limit=100",
]


@pytest.mark.parametrize("url", ROUTES)
def test_no_route_reads_the_purchase_rows_and_the_query_count_is_fixed(
    url, staff_client, make_purchase, settings, django_assert_num_queries
):
    settings.ANALYTICS_CACHE_SECONDS = 0  # computed every time
    products = [ProductFactory() for _ in range(3)]
    make_purchase(date=date(2026, 3, 1), items=[ItemInput(product=products[0], quantity=1)])
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(url).status_code == 200
    for index in range(12):  # more resellers, products and months
        make_purchase(
            date=date(2025 + index // 12, index % 12 + 1, 1) if index % 3 else date(2026, 3, 2),
            items=[ItemInput(product=products[index % 3], quantity=index + 1)],
        )
    with django_assert_num_queries(len(one.captured_queries)) as many:
        assert staff_client.get(url).status_code == 200
    on_rows = [
        query["sql"]
        for query in many.captured_queries
        if any(table in query["sql"] for table in ('"purchases_purchase"', '"purchases_purchaseitem"'))
    ]
    assert on_rows == []
