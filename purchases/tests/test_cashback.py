from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purchases import cashback
from purchases.cashback import DEFAULT_TIERS, Tier

D = Decimal


@pytest.mark.parametrize(
    ("total", "percent"),
    [
        ("0.00", "10.00"),
        ("0.01", "10.00"),
        ("999.99", "10.00"),
        ("1000.00", "10.00"),
        ("1000.01", "15.00"),
        ("1499.99", "15.00"),
        ("1500.00", "15.00"),
        ("1500.01", "20.00"),
        ("1000000.00", "20.00"),
    ],
)
def test_percent_at_the_tier_boundaries(total, percent):
    assert cashback.percent_for_total(D(total), DEFAULT_TIERS) == D(percent)


@pytest.mark.parametrize(
    ("value", "percent", "expected"),
    [
        ("100.00", "10.00", "10.00"),
        ("0.05", "10.00", "0.01"),  # 0.005 rounds half-up
        ("0.04", "10.00", "0.00"),  # 0.004 rounds down
        ("0.15", "15.00", "0.02"),  # 0.0225
        ("0.10", "15.00", "0.02"),  # 0.015 half-up (half-even would give 0.02 too)
        ("0.30", "15.00", "0.05"),  # 0.045 half-up (half-even would give 0.04)
        ("1000000.00", "20.00", "200000.00"),
        ("333.33", "15.00", "50.00"),  # 49.9995
        ("1234.57", "20.00", "246.91"),  # 246.914
    ],
)
def test_cashback_amount_rounds_half_up_to_cents(value, percent, expected):
    assert cashback.cashback_amount(D(value), D(percent)) == D(expected)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0.00", ("15.00", "1000.00", "1000.01")),
        ("900.00", ("15.00", "1000.00", "100.01")),
        ("1000.00", ("15.00", "1000.00", "0.01")),
        ("1000.01", ("20.00", "1500.00", "500.00")),
        ("1500.00", ("20.00", "1500.00", "0.01")),
        ("1500.01", None),
    ],
)
def test_next_tier_and_what_is_missing(total, expected):
    result = cashback.next_tier(D(total), DEFAULT_TIERS)
    if expected is None:
        assert result is None
    else:
        assert (result.percent, result.threshold, result.missing) == tuple(D(x) for x in expected)


def test_reaching_the_missing_amount_reaches_the_next_tier():
    for total in (D("0.00"), D("123.45"), D("999.99"), D("1000.00"), D("1499.99")):
        nxt = cashback.next_tier(total, DEFAULT_TIERS)
        assert cashback.percent_for_total(total + nxt.missing, DEFAULT_TIERS) == nxt.percent
        assert cashback.percent_for_total(total + nxt.missing - D("0.01"), DEFAULT_TIERS) != nxt.percent


def test_default_tiers_are_valid():
    cashback.validate_tiers(DEFAULT_TIERS)


def test_tiers_may_pay_the_same_percentage():
    cashback.validate_tiers((Tier(D("1000"), D("10")), Tier(D("2000"), D("10")), Tier(None, D("10"))))


def test_a_tier_paying_less_higher_up_is_refused_with_its_own_message():
    tiers = (Tier(D("1500"), D("15")), Tier(D("2000"), D("10")), Tier(None, D("20")))
    with pytest.raises(ValueError, match=r".") as caught:
        cashback.validate_tiers(tiers)
    assert caught.value.args[0] is cashback.TIERS_DECREASING_MESSAGE


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        (Tier(D("1000"), D("10")),),  # no open-ended tier
        (Tier(None, D("10")), Tier(D("1000"), D("15"))),  # open-ended not last
        (Tier(D("1000"), D("10")), Tier(D("1000"), D("15")), Tier(None, D("20"))),  # repeated bound
        (Tier(D("1500"), D("10")), Tier(D("1000"), D("15")), Tier(None, D("20"))),  # unsorted
        (Tier(D("0"), D("10")), Tier(None, D("20"))),  # zero bound
        (Tier(D("1000"), D("-1")), Tier(None, D("20"))),
        (Tier(D("1000"), D("10")), Tier(None, D("100.01"))),
        (Tier(D("1500"), D("15")), Tier(D("2000"), D("10")), Tier(None, D("20"))),  # pays less higher up
        (Tier(D("1000"), D("10")), Tier(None, D("9.99"))),
    ],
)
def test_invalid_tiers_are_refused(tiers):
    with pytest.raises(ValueError, match=r"."):
        cashback.validate_tiers(tiers)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=30_000), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_adding_a_purchase_equals_recomputing_the_month(entries):
    tiers = DEFAULT_TIERS
    purchases = []
    month = cashback.month_cashback([], tiers)
    for cents, rejected in entries:
        value = Decimal(cents) / 100
        purchases.append(cashback.MonthPurchase(value, rejected=rejected))
        full = cashback.month_cashback(purchases, tiers)
        if not rejected:
            added = cashback.month_cashback_add(month, value, tiers)
            if added is not None:
                assert (added.total_value, added.purchase_count, added.percent, added.cashback_value) == (
                    full.total_value,
                    full.purchase_count,
                    full.percent,
                    full.cashback_value,
                )
                assert added.shares == (full.shares[-1],)
            else:
                # Only a tier change, or a month with nothing counted yet, needs the whole month.
                assert month.purchase_count == 0 or full.percent != month.percent
        month = full


def test_adding_a_purchase_that_changes_the_tier_asks_for_the_whole_month():
    month = cashback.month_cashback(
        [cashback.MonthPurchase(Decimal("999.99"), rejected=False)], DEFAULT_TIERS
    )
    assert (
        cashback.month_cashback_add(month, Decimal("0.01"), DEFAULT_TIERS) is not None
    )  # 1,000.00: still 10 %
    assert cashback.month_cashback_add(month, Decimal("0.02"), DEFAULT_TIERS) is None  # 1,000.01: 15 %
