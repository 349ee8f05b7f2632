"""Races, against PostgreSQL (row locks mean nothing on SQLite)."""

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client, run_together
from purchases import services
from purchases.models import MonthlyCashback, Purchase
from resellers.tests.factories import ResellerFactory

REVIEWER_PERMISSIONS = ["purchases.view_purchase", "purchases.review_purchase"]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]


def slow_now(monkeypatch):
    """Widen the race window: hold the row lock a little longer."""
    real_now = timezone.now

    def now():
        time.sleep(0.3)
        return real_now()

    monkeypatch.setattr(services.timezone, "now", now)


def test_concurrent_reviews_one_wins_the_other_gets_409(monkeypatch, make_purchase):
    purchase = make_purchase(value="100.00", code="RACE")
    reviewers = [StaffFactory(permissions=REVIEWER_PERMISSIONS) for _ in range(2)]
    first, second = (authenticated_client(reviewer) for reviewer in reviewers)
    url = f"/api/v1/purchases/{purchase.pk}/"
    slow_now(monkeypatch)

    responses = run_together(
        lambda: first.post(f"{url}approve/"),
        lambda: second.post(f"{url}reject/", {"reason": "Duplicate"}, format="json"),
    )

    assert sorted(response.status_code for response in responses) == [200, 409]
    purchase.refresh_from_db()
    winner = next(response for response in responses if response.status_code == 200)
    assert purchase.status == winner.json()["status"]


def test_identical_creates_make_exactly_one_row():
    reseller = ResellerFactory()
    clients = [authenticated_client(reseller.user) for _ in range(4)]
    payload = {"code": "SAME", "value": "10.00", "date": timezone.localdate().isoformat()}

    responses = run_together(
        *(lambda client=client: client.post("/api/v1/purchases/", payload) for client in clients)
    )

    codes = sorted(response.status_code for response in responses)
    assert codes.count(201) == 1
    assert all(code in (400, 409) for code in codes if code != 201)
    assert Purchase.objects.filter(reseller=reseller, code="SAME").count() == 1


def test_concurrent_creates_in_one_month_leave_consistent_tiers():
    reseller = ResellerFactory()
    clients = [authenticated_client(reseller.user) for _ in range(4)]
    today = timezone.localdate()
    responses = run_together(
        *(
            lambda index=index, client=client: client.post(
                "/api/v1/purchases/", {"code": f"C{index}", "value": "400.00", "date": today.isoformat()}
            )
            for index, client in enumerate(clients)
        )
    )
    assert [response.status_code for response in responses] == [201] * 4
    # 1,600.00 in the month: every purchase at 20 %, and the month row agrees.
    assert set(Purchase.objects.values_list("cashback_percent", flat=True)) == {Decimal("20.00")}
    month = MonthlyCashback.objects.get(reseller=reseller, month=today.replace(day=1))
    assert (month.total_value, month.purchase_count, month.cashback_value) == (
        Decimal("1600.00"),
        4,
        Decimal("320.00"),
    )


def test_a_bulk_review_and_single_reviews_never_deadlock_nor_overwrite(monkeypatch, make_purchase):
    """A chunk of a bulk rejection (resellers then purchases, each in id
    order) racing single reviews and a new purchase of the same resellers:
    every call ends (no deadlock), each purchase is reviewed once, by
    whoever locked it first, and the month figures are exact."""
    from core.exceptions import ConflictError

    resellers = [ResellerFactory() for _ in range(2)]
    today = timezone.localdate()
    purchases = [make_purchase(resellers[n % 2], f"{300 + n}.00", today, f"R-{n}") for n in range(8)]
    reviewer = StaffFactory(is_superuser=True)
    slow_now(monkeypatch)

    def single(call):
        try:
            call()
        except ConflictError:
            return "409"
        return "ok"

    results = run_together(
        lambda: services.purchases_review_bulk(
            purchase_ids=[p.pk for p in reversed(purchases)],
            reviewer=reviewer,
            action=services.REJECT,
            reason="Lote",
        ),
        lambda: single(lambda: services.purchase_approve(purchase=purchases[7], reviewer=reviewer)),
        lambda: single(
            lambda: services.purchase_reject(purchase=purchases[0], reviewer=reviewer, reason="Uma")
        ),
        lambda: services.purchase_create(
            reseller=resellers[1], code="NEW", value=Decimal("50.00"), date=today
        ),
    )

    bulk, approved, rejected, created = results
    assert created is not None
    assert approved in ("ok", "409")
    assert rejected in ("ok", "409")
    reviewed_in_bulk = {purchase_id for purchase_id, _reseller in bulk.reviewed}
    assert len(reviewed_in_bulk) + bulk.skipped == 8
    assert (purchases[7].pk in reviewed_in_bulk) == (approved == "409")
    assert (purchases[0].pk in reviewed_in_bulk) == (rejected == "409")
    stored = dict(Purchase.objects.values_list("code", "rejection_reason"))
    for purchase in purchases:
        expected = "Lote" if purchase.pk in reviewed_in_bulk else {"R-0": "Uma", "R-7": ""}[purchase.code]
        assert stored[purchase.code] == expected
    for reseller in resellers:
        counted = Purchase.objects.filter(reseller=reseller).exclude(status=Purchase.Status.REJECTED)
        month = MonthlyCashback.objects.filter(reseller=reseller).values_list("total_value", "purchase_count")
        expected = [(sum(p.value for p in counted), counted.count())] if counted.exists() else []
        assert list(month) == expected
        # What is stored is what the rule computes from the committed rows.
        before = list(MonthlyCashback.objects.filter(reseller=reseller).values())
        services.monthly_cashback_recalculate(reseller_id=reseller.pk, month=today)
        assert list(MonthlyCashback.objects.filter(reseller=reseller).values()) == [
            {**row, "updated_at": after["updated_at"]}
            for row, after in zip(
                before, MonthlyCashback.objects.filter(reseller=reseller).values(), strict=True
            )
        ]
