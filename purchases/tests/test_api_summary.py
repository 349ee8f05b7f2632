from datetime import date

import pytest

from purchases.services import purchase_approve, purchase_reject
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

SUMMARY = "/api/v1/resellers/me/summary/"
CASHBACK = "/api/v1/resellers/me/cashback/"


def test_summary_of_the_current_month_by_default(reseller, reseller_client, staff_user, make_purchase):
    make_purchase(reseller, "600.00", date(2026, 3, 1), "A")
    make_purchase(reseller, "300.00", date(2026, 3, 2), "B")
    rejected = make_purchase(reseller, "5000.00", date(2026, 3, 3), "C")
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Fake")
    make_purchase(reseller, "2000.00", date(2026, 2, 1), "FEB")

    response = reseller_client.get(SUMMARY)

    assert response.status_code == 200
    assert response.json() == {
        "month": "2026-03",
        "total_value": "900.00",
        "purchase_count": 2,
        "cashback_percent": "10.00",
        "cashback_value": "90.00",
        "next_tier": {"percent": "15.00", "threshold": "1000.00", "missing": "100.01"},
    }


def test_summary_of_a_given_month_at_the_top_tier(reseller, reseller_client, make_purchase):
    make_purchase(reseller, "2000.00", date(2026, 2, 1), "FEB")
    body = reseller_client.get(SUMMARY, {"month": "2026-02"}).json()
    assert (body["month"], body["cashback_percent"], body["cashback_value"]) == ("2026-02", "20.00", "400.00")
    assert body["next_tier"] is None


def test_summary_of_an_empty_month(reseller_client):
    assert reseller_client.get(SUMMARY, {"month": "2025-07"}).json() == {
        "month": "2025-07",
        "total_value": "0.00",
        "purchase_count": 0,
        "cashback_percent": "10.00",
        "cashback_value": "0.00",
        "next_tier": {"percent": "15.00", "threshold": "1000.00", "missing": "1000.01"},
    }


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-03", "march", "1999-12", ""])
def test_summary_bad_month_is_400(reseller_client, month):
    response = reseller_client.get(SUMMARY, {"month": month})
    if month == "":
        assert response.status_code == 200  # empty means the default month
    else:
        assert response.status_code == 400
        assert "month" in response.json()


def test_summary_is_for_resellers(staff_client, api_client):
    assert staff_client.get(SUMMARY).status_code == 403
    assert api_client.get(SUMMARY).status_code == 401


def test_cashback_uses_the_local_ledger_when_the_api_is_not_configured(
    reseller, reseller_client, staff_user, make_purchase
):
    approved = make_purchase(reseller, "1200.00", date(2026, 2, 1), "A")
    purchase_approve(purchase=approved, reviewer=staff_user)
    make_purchase(reseller, "100.00", date(2026, 3, 1), "PENDING")  # validating: not in the ledger

    body = reseller_client.get(CASHBACK).json()

    assert body["credit"] == "180.00"
    assert (body["source"], body["stale"]) == ("local", False)
    assert body["fetched_at"]


def test_staff_sees_a_resellers_cashback(staff_client):
    reseller = ResellerFactory()
    response = staff_client.get(f"/api/v1/resellers/{reseller.id}/cashback/")
    assert response.status_code == 200
    assert response.json()["credit"] == "0.00"


def test_resellers_cannot_see_others_cashback(reseller_client):
    other = ResellerFactory()
    assert reseller_client.get(f"/api/v1/resellers/{other.id}/cashback/").status_code == 403
