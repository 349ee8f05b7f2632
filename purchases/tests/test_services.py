from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.exceptions import ConflictError
from purchases import services
from purchases.models import CashbackPolicy, CashbackTier, MonthlyCashback, Purchase
from purchases.services import (
    ALREADY_REVIEWED_MESSAGE,
    CODE_TAKEN_MESSAGE,
    NOT_EDITABLE_MESSAGE,
    purchase_approve,
    purchase_create,
    purchase_delete,
    purchase_reject,
    purchase_update,
)
from resellers.tests.factories import ResellerFactory

# Tests of purchase_create itself call it directly; the others set up their
# purchases with make_purchase, which goes through it too.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]
D = Decimal


def percents(reseller):
    return {
        p.code: (p.cashback_percent, p.cashback_value) for p in Purchase.objects.filter(reseller=reseller)
    }


def test_first_purchase_starts_in_validation_with_10_percent(reseller):
    purchase = purchase_create(reseller=reseller, code="A", value=D("100.00"), date=date(2026, 3, 1))
    assert purchase.status == Purchase.Status.VALIDATING
    assert (purchase.cashback_percent, purchase.cashback_value) == (D("10.00"), D("10.00"))


def test_crossing_a_tier_raises_every_purchase_of_the_month(reseller):
    purchase_create(reseller=reseller, code="A", value=D("600.00"), date=date(2026, 3, 1))
    purchase_create(reseller=reseller, code="B", value=D("400.00"), date=date(2026, 3, 2))
    assert percents(reseller) == {"A": (D("10.00"), D("60.00")), "B": (D("10.00"), D("40.00"))}

    purchase_create(reseller=reseller, code="C", value=D("0.01"), date=date(2026, 3, 3))  # total 1000.01
    assert percents(reseller) == {
        "A": (D("15.00"), D("90.00")),
        "B": (D("15.00"), D("60.00")),
        "C": (D("15.00"), D("0.00")),
    }

    purchase_create(reseller=reseller, code="D", value=D("500.00"), date=date(2026, 3, 4))  # total 1500.01
    assert {code: pct for code, (pct, _) in percents(reseller).items()} == dict.fromkeys("ABCD", D("20.00"))


def test_boundary_totals(reseller):
    purchase_create(reseller=reseller, code="A", value=D("1500.00"), date=date(2026, 3, 1))
    assert percents(reseller)["A"] == (D("15.00"), D("225.00"))


def test_months_are_independent(reseller):
    purchase_create(reseller=reseller, code="FEB", value=D("1600.00"), date=date(2026, 2, 28))
    purchase_create(reseller=reseller, code="MAR", value=D("100.00"), date=date(2026, 3, 1))
    assert percents(reseller) == {"FEB": (D("20.00"), D("320.00")), "MAR": (D("10.00"), D("10.00"))}


def test_month_edges_across_a_year(reseller):
    purchase_create(reseller=reseller, code="DEC", value=D("1000.00"), date=date(2025, 12, 31))
    purchase_create(reseller=reseller, code="JAN", value=D("1000.00"), date=date(2026, 1, 1))
    assert percents(reseller)["DEC"][0] == D("10.00")
    assert percents(reseller)["JAN"][0] == D("10.00")


def test_other_resellers_do_not_count(reseller):
    other = ResellerFactory()
    purchase_create(reseller=other, code="OTHER", value=D("5000.00"), date=date(2026, 3, 1))
    purchase_create(reseller=reseller, code="MINE", value=D("100.00"), date=date(2026, 3, 1))
    assert percents(reseller)["MINE"][0] == D("10.00")


def test_rejected_purchases_leave_the_total_and_earn_nothing(reseller, staff_user, make_purchase):
    make_purchase(reseller, "800.00", date(2026, 3, 1), code="A")
    big = make_purchase(reseller, "800.00", date(2026, 3, 2), code="B")
    assert percents(reseller)["A"][0] == D("20.00")

    purchase_reject(purchase=big, reviewer=staff_user, reason="Invoice mismatch")

    assert percents(reseller) == {"A": (D("10.00"), D("80.00")), "B": (D("0.00"), D("0.00"))}
    summary = MonthlyCashback.objects.get(reseller=reseller)
    assert (summary.total_value, summary.purchase_count, summary.cashback_percent) == (
        D("800.00"),
        1,
        D("10.00"),
    )


def test_a_month_of_only_rejected_purchases_has_no_summary(reseller, staff_user, make_purchase):
    purchase = make_purchase(reseller, "100.00", date(2026, 3, 1))
    purchase_reject(purchase=purchase, reviewer=staff_user, reason="Duplicate")
    assert not MonthlyCashback.objects.filter(reseller=reseller).exists()


def test_auto_approved_cpf(settings):
    settings.CASHBACK_AUTO_APPROVED_CPFS = ["153.509.460-56"]
    vip = ResellerFactory(cpf="15350946056")
    approved = purchase_create(reseller=vip, code="A", value=D("10.00"), date=date(2026, 3, 1))
    assert approved.status == Purchase.Status.APPROVED
    other = purchase_create(reseller=ResellerFactory(), code="A", value=D("10.00"), date=date(2026, 3, 1))
    assert other.status == Purchase.Status.VALIDATING


def test_default_auto_approved_cpf_is_the_demo_one():
    vip = ResellerFactory(cpf="15350946056")
    approved = purchase_create(reseller=vip, code="A", value=D("10.00"), date=date(2026, 3, 1))
    assert approved.status == Purchase.Status.APPROVED


def test_code_is_unique_per_reseller(reseller):
    purchase_create(reseller=reseller, code="SAME", value=D("10.00"), date=date(2026, 3, 1))
    with pytest.raises(ValidationError) as excinfo:
        purchase_create(reseller=reseller, code="SAME", value=D("20.00"), date=date(2026, 3, 1))
    assert excinfo.value.message_dict == {"code": [str(CODE_TAKEN_MESSAGE)]}
    # Another reseller: fine.
    purchase_create(reseller=ResellerFactory(), code="SAME", value=D("10.00"), date=date(2026, 3, 1))
    assert Purchase.objects.filter(code="SAME").count() == 2


def test_database_constraint_is_the_last_guard_for_codes(reseller, monkeypatch):
    purchase_create(reseller=reseller, code="SAME", value=D("10.00"), date=date(2026, 3, 1))
    monkeypatch.setattr(services, "_check_code_free", lambda **kwargs: None)
    with pytest.raises(ValidationError) as excinfo:
        purchase_create(reseller=reseller, code="SAME", value=D("20.00"), date=date(2026, 3, 1))
    assert "code" in excinfo.value.message_dict
    assert Purchase.objects.filter(reseller=reseller).count() == 1


@pytest.mark.parametrize(
    ("value", "day", "field"),
    [
        ("0.00", date(2026, 3, 1), "value"),
        ("-1.00", date(2026, 3, 1), "value"),
        ("1000000.01", date(2026, 3, 1), "value"),
        ("10.00", date(2026, 3, 21), "date"),  # tomorrow in Sao Paulo
        ("10.00", date(1999, 12, 31), "date"),
    ],
)
def test_invalid_values_and_dates_are_refused(reseller, value, day, field):
    with pytest.raises(ValidationError) as excinfo:
        purchase_create(reseller=reseller, code="A", value=D(value), date=day)
    assert field in excinfo.value.message_dict
    assert not Purchase.objects.exists()


def test_today_in_sao_paulo_is_the_limit(reseller):
    # 01:30 UTC on the 21st is still the 20th (22:30) in Sao Paulo.
    with time_machine.travel("2026-03-21 01:30:00+00:00", tick=False):
        assert timezone.localdate() == date(2026, 3, 20)
        purchase_create(reseller=reseller, code="A", value=D("10.00"), date=date(2026, 3, 20))
        with pytest.raises(ValidationError):
            purchase_create(reseller=reseller, code="B", value=D("10.00"), date=date(2026, 3, 21))


def test_update_moves_a_purchase_between_months(reseller, make_purchase):
    make_purchase(reseller, "900.00", date(2026, 2, 10), code="FEB")
    moving = make_purchase(reseller, "200.00", date(2026, 2, 11), code="MOVE")
    assert percents(reseller)["FEB"][0] == D("15.00")

    purchase_update(purchase=moving, date=date(2026, 3, 1))

    assert percents(reseller)["FEB"] == (D("10.00"), D("90.00"))
    assert percents(reseller)["MOVE"] == (D("10.00"), D("20.00"))
    assert set(MonthlyCashback.objects.filter(reseller=reseller).values_list("month", flat=True)) == {
        date(2026, 2, 1),
        date(2026, 3, 1),
    }


def test_update_value_recomputes_the_month(reseller, make_purchase):
    first = make_purchase(reseller, "900.00", date(2026, 3, 1), code="A")
    purchase_update(purchase=first, value=D("1200.00"))
    assert percents(reseller)["A"] == (D("15.00"), D("180.00"))


@pytest.mark.parametrize("status", [Purchase.Status.APPROVED, Purchase.Status.REJECTED])
def test_reviewed_purchases_cannot_be_edited_or_deleted(reseller, staff_user, status, make_purchase):
    purchase = make_purchase(reseller, "100.00", date(2026, 3, 1), code="A")
    if status == Purchase.Status.APPROVED:
        purchase_approve(purchase=purchase, reviewer=staff_user)
    else:
        purchase_reject(purchase=purchase, reviewer=staff_user, reason="No invoice")
    before = Purchase.objects.values().get(pk=purchase.pk)

    with pytest.raises(ConflictError) as excinfo:
        purchase_update(purchase=purchase, value=D("5.00"))
    assert excinfo.value.message == NOT_EDITABLE_MESSAGE
    with pytest.raises(ConflictError):
        purchase_delete(purchase=purchase)
    assert Purchase.objects.values().get(pk=purchase.pk) == before


def test_delete_recomputes_the_month(reseller, make_purchase):
    make_purchase(reseller, "900.00", date(2026, 3, 1), code="A")
    extra = make_purchase(reseller, "200.00", date(2026, 3, 2), code="B")
    purchase_delete(purchase=extra)
    assert percents(reseller) == {"A": (D("10.00"), D("90.00"))}


def test_approve_records_reviewer_and_time(reseller, staff_user, make_purchase):
    purchase = make_purchase(reseller, "100.00", date(2026, 3, 1))
    approved = purchase_approve(purchase=purchase, reviewer=staff_user)
    assert approved.status == Purchase.Status.APPROVED
    assert approved.reviewed_by == staff_user
    assert approved.reviewed_at is not None


def test_review_only_from_validation(reseller, staff_user, make_purchase):
    purchase = make_purchase(reseller, "100.00", date(2026, 3, 1))
    purchase_approve(purchase=purchase, reviewer=staff_user)
    with pytest.raises(ConflictError) as excinfo:
        purchase_reject(purchase=purchase, reviewer=staff_user, reason="Late")
    assert excinfo.value.message == ALREADY_REVIEWED_MESSAGE
    with pytest.raises(ConflictError):
        purchase_approve(purchase=purchase, reviewer=staff_user)


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_requires_a_reason(reseller, staff_user, reason, make_purchase):
    purchase = make_purchase(reseller, "100.00", date(2026, 3, 1))
    with pytest.raises(ValidationError) as excinfo:
        purchase_reject(purchase=purchase, reviewer=staff_user, reason=reason)
    assert "reason" in excinfo.value.message_dict
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.VALIDATING


def _policy(effective_from, tiers):
    policy = CashbackPolicy.objects.create(effective_from=effective_from)
    CashbackTier.objects.bulk_create(
        CashbackTier(policy=policy, up_to=None if up_to is None else D(up_to), percent=D(percent))
        for up_to, percent in tiers
    )
    return policy


def test_a_month_uses_the_policy_in_force_on_its_first_day(reseller):
    _policy(date(2026, 3, 1), [("500.00", "5.00"), (None, "25.00")])
    purchase_create(reseller=reseller, code="FEB", value=D("600.00"), date=date(2026, 2, 27))
    purchase_create(reseller=reseller, code="MAR", value=D("600.00"), date=date(2026, 3, 2))
    assert percents(reseller) == {"FEB": (D("10.00"), D("60.00")), "MAR": (D("25.00"), D("150.00"))}


def test_a_new_policy_does_not_rewrite_past_months(reseller):
    purchase_create(reseller=reseller, code="FEB", value=D("600.00"), date=date(2026, 2, 27))
    _policy(date(2026, 4, 1), [(None, "50.00")])
    # Recomputes February:
    purchase_create(reseller=reseller, code="FEB2", value=D("10.00"), date=date(2026, 2, 28))
    assert percents(reseller)["FEB"] == (D("10.00"), D("60.00"))


def test_policy_in_force_is_read_only_and_future_is_not():
    current = CashbackPolicy.objects.get(effective_from=date(2000, 1, 1))
    assert current.is_in_force
    assert not CashbackPolicy(effective_from=date(2026, 4, 1)).is_in_force
    assert CashbackPolicy(effective_from=date(2026, 3, 1)).is_in_force


def test_yesterday_is_a_valid_date(reseller):
    purchase_create(
        reseller=reseller, code="A", value=D("10.00"), date=timezone.localdate() - timedelta(days=1)
    )


def test_recorded_months_equal_a_recomputation(reseller, staff_user, make_purchase):
    # Purchases are counted into their month one by one (the month is read
    # whole only when its tier changes); recomputing every month from its
    # purchases must find exactly what was stored, rows and months alike.
    values = ["300.00", "250.50", "0.01", "449.49", "0.01", "120.00", "379.99", "0.02", "800.00"]
    for index, value in enumerate(values):
        make_purchase(reseller, value, date(2026, 2, 1 + index), f"M-{index}")
    rejected = make_purchase(reseller, "75.25", date(2026, 2, 20), "R")
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="No invoice.")
    make_purchase(reseller, "10.00", date(2026, 2, 21), "AFTER")
    stored_rows = percents(reseller)
    stored_month = MonthlyCashback.objects.values(
        "total_value", "purchase_count", "cashback_percent", "cashback_value", "policy_id"
    ).get(reseller=reseller)

    services.monthly_cashback_recalculate(reseller_id=reseller.pk, month=date(2026, 2, 1))
    assert percents(reseller) == stored_rows
    assert (
        MonthlyCashback.objects.values(
            "total_value", "purchase_count", "cashback_percent", "cashback_value", "policy_id"
        ).get(reseller=reseller)
        == stored_month
    )
    assert stored_month["cashback_percent"] == D("20.00")


def test_recording_a_purchase_within_the_tier_touches_no_other_row(
    reseller, make_purchase, django_assert_num_queries
):
    make_purchase(reseller, "100.00", date(2026, 3, 1), "A")
    make_purchase(reseller, "100.00", date(2026, 3, 2), "B")
    # SAVEPOINT/RELEASE of the atomic block (the test runs in a transaction),
    # the reseller's lock, the month's figures, their update, the insert,
    # the increments of the analytics' month totals, day counts and code counts.
    with django_assert_num_queries(9) as queries:
        make_purchase(reseller, "100.00", date(2026, 3, 3), "C")
    # The month's purchases are not read, nor is any other purchase changed.
    assert not [q for q in queries.captured_queries if 'FROM "purchases_purchase"' in q["sql"]]
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "purchases_purchase"')]
    assert MonthlyCashback.objects.get(reseller=reseller).purchase_count == 3
