"""The analytics figures under concurrent writes, against PostgreSQL (row
locks and concurrent transactions mean nothing on SQLite): writes to the
same reseller, month and products at once, and a rebuild among them, leave
figures equal to a recomputation from the rows; none of them deadlocks."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.tests.factories import StaffFactory
from conftest import run_together
from products.tests.factories import ProductFactory
from purchases.analytics.services import analytics_figures_differences, analytics_figures_rebuild
from purchases.models import MonthTotals, Purchase
from purchases.services import (
    ItemInput,
    purchase_approve,
    purchase_create,
    purchase_delete,
    purchase_reject,
    purchase_update,
)
from resellers.tests.factories import ResellerFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy", "frozen_today"),
]

MARCH, FEBRUARY = date(2026, 3, 1), date(2026, 2, 1)


def outcome(call):
    """The call's result, or the exception it raised (run_together's threads
    would only print it)."""

    def run():
        try:
            return call()
        except Exception as error:
            return error

    return run


def test_concurrent_writes_to_one_month_add_up_exactly():
    hot, other = ResellerFactory(), ResellerFactory()
    lipstick, perfume = ProductFactory(price=Decimal("30.00")), ProductFactory(price=Decimal("120.00"))
    reviewer = StaffFactory(is_superuser=True)
    codes = iter(range(1_000))

    def create(reseller, day, value=None, items=()):
        return purchase_create(
            reseller=reseller, code=f"C-{next(codes)}", date=day, value=value, items=list(items)
        )

    def writes(staged: list[Purchase]) -> list:
        return [
            # Creates for the same reseller, month and products at once: the
            # month's tier changes under some of them (1,000.00 / 1,500.00),
            # recomputing the shares of purchases being approved meanwhile.
            *(
                lambda: create(
                    hot, MARCH.replace(day=5), items=[ItemInput(lipstick, 3), ItemInput(perfume, 2)]
                )
                for _ in range(3)
            ),
            lambda: create(other, MARCH.replace(day=6), Decimal("700.00")),
            lambda: purchase_approve(purchase=staged[0], reviewer=reviewer),
            lambda: purchase_approve(purchase=staged[1], reviewer=reviewer),
            lambda: purchase_reject(purchase=staged[2], reviewer=reviewer, reason="Nota ilegível."),
            lambda: purchase_delete(purchase=staged[3]),
            lambda: purchase_update(
                purchase=staged[4], date=MARCH.replace(day=7), items=[ItemInput(lipstick, 1)]
            ),
            lambda: purchase_approve(purchase=staged[5], reviewer=reviewer),
            lambda: purchase_update(purchase=staged[6], date=FEBRUARY.replace(day=20)),
        ]

    for round_number in range(3):
        # What the round changes: purchases of both resellers in March and
        # February, with and without items.
        staged = [create(hot, MARCH.replace(day=2), items=[ItemInput(lipstick, 2)]) for _ in range(4)]
        staged += [create(other, FEBRUARY.replace(day=9), Decimal("400.00")) for _ in range(2)]
        staged.append(create(hot, MARCH.replace(day=3), items=[ItemInput(perfume, 1)]))
        calls = writes(staged)
        if round_number == 2:
            calls.append(analytics_figures_rebuild)  # a rebuild among the writes

        results = run_together(*(outcome(call) for call in calls))

        assert [result for result in results if isinstance(result, Exception)] == []
        assert not analytics_figures_differences()

    march = MonthTotals.objects.get(month=MARCH)
    assert march.active_resellers == 2
    assert (
        march.validating_count + march.approved_count + march.rejected_count
        == Purchase.objects.filter(date__gte=MARCH).count()
    )


def test_a_rebuild_among_writes_loses_none_of_them():
    """The rebuild locks the figures' tables first: a write that applied its
    increments before holds its row locks until it commits, so the rebuild's
    sums, read after the lock, include it; a write after the lock waits and
    adds to the rebuilt rows."""
    creates = [
        lambda day=day: purchase_create(
            reseller=ResellerFactory(), code=f"R-{day}", date=MARCH.replace(day=day), value=Decimal("10.00")
        )
        for day in range(1, 9)
    ]
    results = run_together(*(outcome(call) for call in [*creates, analytics_figures_rebuild]))
    assert not [result for result in results if isinstance(result, Exception)]
    assert not analytics_figures_differences()
    march = MonthTotals.objects.get(month=MARCH)
    assert (march.validating_count, march.active_resellers) == (8, 8)
