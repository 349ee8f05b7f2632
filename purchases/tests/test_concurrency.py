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
