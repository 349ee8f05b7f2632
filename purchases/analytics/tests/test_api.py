from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from conftest import EN
from products.tests.factories import ProductFactory
from purchases.analytics.serializers import RANGE_ORDER_MESSAGE, RANGE_TOO_LONG_MESSAGE
from purchases.services import ItemInput, purchase_approve, purchase_reject
from resellers.tests.factories import ResellerFactory

# A fixed "today" (2026-03-20 in America/Sao_Paulo) for the default months.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

BASE = "/api/v1/analytics/"
SUMMARY = f"{BASE}summary/"
MONTHLY = f"{BASE}monthly/"
TOP_RESELLERS = f"{BASE}top-resellers/"
TOP_PRODUCTS = f"{BASE}top-products/"
ENDPOINTS = [SUMMARY, MONTHLY, TOP_RESELLERS, TOP_PRODUCTS]
D = Decimal
ZERO_FIGURES = {"purchase_count": 0, "total_value": "0.00", "cashback_value": "0.00"}
DEFAULT_TIERS_EMPTY = [
    {"percent": "10.00", "resellers": 0},
    {"percent": "15.00", "resellers": 0},
    {"percent": "20.00", "resellers": 0},
]


# --- Permissions and parameters -------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_analytics_is_for_staff_only(url, reseller_client, api_client, staff_client):
    assert reseller_client.get(url).status_code == 403
    assert api_client.get(url).status_code == 401
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "params", "key"),
    [
        (SUMMARY, {"month": "2026-13"}, "month"),
        (SUMMARY, {"month": "1999-12"}, "month"),
        (SUMMARY, {"month": "march"}, "month"),
        (TOP_RESELLERS, {"month": "2026-00"}, "month"),
        (TOP_RESELLERS, {"limit": "0"}, "limit"),
        (TOP_RESELLERS, {"limit": "10000"}, "limit"),
        (TOP_RESELLERS, {"limit": "ten"}, "limit"),
        (TOP_PRODUCTS, {"limit": "101"}, "limit"),
        (TOP_PRODUCTS, {"limit": "-1"}, "limit"),
        (TOP_PRODUCTS, {"month": "26-03"}, "month"),
        (MONTHLY, {"from": "2026-13"}, "from"),
        (MONTHLY, {"to": "2026/03"}, "to"),
        (MONTHLY, {"from": "2026-04", "to": "2026-03"}, "from"),
        (MONTHLY, {"from": "2016-03", "to": "2026-03"}, "from"),  # 121 months
        (MONTHLY, {"from": "2026-04"}, "from"),  # after the default "to", the current month
    ],
)
def test_bad_parameters_are_400_keyed_by_name(staff_client, url, params, key):
    response = staff_client.get(url, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == [key]


def test_range_error_messages(staff_client):
    assert staff_client.get(MONTHLY, {"from": "2026-04", "to": "2026-03"}, **EN).json() == {
        "from": [str(RANGE_ORDER_MESSAGE)]
    }
    assert staff_client.get(MONTHLY, {"from": "2016-03", "to": "2026-03"}, **EN).json() == {
        "from": [str(RANGE_TOO_LONG_MESSAGE % {"months": 120})]
    }


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_accepted(staff_client, limit):
    assert staff_client.get(TOP_RESELLERS, {"limit": limit}).status_code == 200
    assert staff_client.get(TOP_PRODUCTS, {"limit": limit}).status_code == 200


def test_the_last_accepted_month_is_not_a_500(staff_client):
    # 9999-12 is refused (its next month does not exist): 9998-12 is the last.
    assert staff_client.get(SUMMARY, {"month": "9999-12"}).status_code == 400
    assert staff_client.get(SUMMARY, {"month": "9998-12"}).status_code == 200
    body = staff_client.get(MONTHLY, {"from": "9989-01", "to": "9998-12"}).json()
    assert len(body["results"]) == 120
    assert body["results"][-1]["month"] == "9998-12"


# --- Summary --------------------------------------------------------------------


def test_summary_by_status_with_active_resellers_and_tiers(staff_client, staff_user, make_purchase):
    first, second, only_rejected = ResellerFactory(), ResellerFactory(), ResellerFactory()
    make_purchase(first, "600.00")
    approved = make_purchase(first, "300.00")
    purchase_approve(purchase=approved, reviewer=staff_user)
    make_purchase(second, "1200.00")  # 15 %
    rejected = make_purchase(only_rejected, "5000.00")
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Fake invoice")
    make_purchase(first, "999.00", date=date(2026, 2, 27))  # another month

    response = staff_client.get(SUMMARY)

    assert response.status_code == 200
    assert response.json() == {
        "month": "2026-03",
        "by_status": {
            "validating": {"purchase_count": 2, "total_value": "1800.00", "cashback_value": "240.00"},
            "approved": {"purchase_count": 1, "total_value": "300.00", "cashback_value": "30.00"},
            "rejected": {"purchase_count": 1, "total_value": "5000.00", "cashback_value": "0.00"},
        },
        # The reseller with only a rejected purchase is active, but reached no tier.
        "active_resellers": 3,
        "resellers_per_tier": [
            {"percent": "10.00", "resellers": 1},
            {"percent": "15.00", "resellers": 1},
            {"percent": "20.00", "resellers": 0},
        ],
    }


def test_summary_of_an_empty_month_has_every_status_and_tier(staff_client):
    assert staff_client.get(SUMMARY, {"month": "2025-07"}).json() == {
        "month": "2025-07",
        "by_status": {"validating": ZERO_FIGURES, "approved": ZERO_FIGURES, "rejected": ZERO_FIGURES},
        "active_resellers": 0,
        "resellers_per_tier": DEFAULT_TIERS_EMPTY,
    }


def test_summary_counts_resellers_per_tier(staff_client, make_purchase):
    for total in ["100.00", "1000.00", "1000.01", "1500.00", "1500.01", "9000.00", "10.00"]:
        make_purchase(value=total, date=date(2026, 1, 5))
    body = staff_client.get(SUMMARY, {"month": "2026-01"}).json()
    assert body["resellers_per_tier"] == [
        {"percent": "10.00", "resellers": 3},
        {"percent": "15.00", "resellers": 2},
        {"percent": "20.00", "resellers": 2},
    ]
    assert body["active_resellers"] == 7


# --- Monthly --------------------------------------------------------------------


def test_monthly_defaults_to_the_twelve_months_ending_now_with_empty_months(
    staff_client, staff_user, make_purchase
):
    reseller = ResellerFactory()
    make_purchase(reseller, "1200.00", date=date(2026, 3, 1))
    make_purchase(reseller, "100.00", date=date(2026, 3, 2))
    rejected = make_purchase(reseller, "700.00", date=date(2026, 3, 3))
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Duplicate")
    make_purchase(reseller, "50.00", date=date(2025, 4, 30))
    make_purchase(reseller, "80.00", date=date(2025, 3, 31))  # before the window

    body = staff_client.get(MONTHLY).json()

    assert (body["from"], body["to"]) == ("2025-04", "2026-03")
    months = [row["month"] for row in body["results"]]
    assert months == [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    assert body["results"][0] == {
        "month": "2025-04",
        "purchase_count": 1,
        "total_value": "50.00",
        "cashback_value": "5.00",
    }
    assert all(row == {"month": row["month"], **ZERO_FIGURES} for row in body["results"][1:-1])
    # Rejected purchases are left out: 1300.00 at 15 %.
    assert body["results"][-1] == {
        "month": "2026-03",
        "purchase_count": 2,
        "total_value": "1300.00",
        "cashback_value": "195.00",
    }


def test_monthly_explicit_range_and_single_month(staff_client, make_purchase):
    make_purchase(value="10.00", date=date(2024, 2, 29))
    body = staff_client.get(MONTHLY, {"from": "2024-01", "to": "2024-03"}).json()
    assert [(r["month"], r["total_value"]) for r in body["results"]] == [
        ("2024-01", "0.00"),
        ("2024-02", "10.00"),
        ("2024-03", "0.00"),
    ]
    single = staff_client.get(MONTHLY, {"from": "2024-02", "to": "2024-02"}).json()
    assert single == {
        "from": "2024-02",
        "to": "2024-02",
        "results": [
            {"month": "2024-02", "purchase_count": 1, "total_value": "10.00", "cashback_value": "1.00"}
        ],
    }


def test_monthly_accepts_120_months_and_defaults_from_when_only_to_is_given(staff_client):
    assert len(staff_client.get(MONTHLY, {"from": "2016-04", "to": "2026-03"}).json()["results"]) == 120
    body = staff_client.get(MONTHLY, {"to": "2000-05"}).json()
    # "from" defaults to 11 months before "to", never before 2000-01.
    assert (body["from"], body["to"], len(body["results"])) == ("2000-01", "2000-05", 5)


# --- Top resellers --------------------------------------------------------------


def test_top_resellers_ranks_by_month_total(staff_client, staff_user, make_purchase):
    small, big, tie_a, tie_b, none = (ResellerFactory() for _ in range(5))
    make_purchase(small, "100.00")
    make_purchase(big, "1000.00")
    make_purchase(big, "700.00")  # 1700.00 -> 20 %
    make_purchase(tie_a, "500.00")
    make_purchase(tie_b, "500.00")
    rejected = make_purchase(none, "9000.00")
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Fake")
    make_purchase(small, "5000.00", date=date(2026, 2, 1))  # another month

    body = staff_client.get(TOP_RESELLERS).json()

    assert body["month"] == "2026-03"
    assert body["results"][0] == {
        "reseller": {"id": big.pk, "full_name": big.user.full_name},
        "total_value": "1700.00",
        "purchase_count": 2,
        "cashback_percent": "20.00",
        "cashback_value": "340.00",
    }
    # Ties by reseller id; the reseller with only a rejected purchase is not ranked.
    assert [row["reseller"]["id"] for row in body["results"]] == [big.pk, tie_a.pk, tie_b.pk, small.pk]
    assert [
        row["reseller"]["id"] for row in staff_client.get(TOP_RESELLERS, {"limit": 2}).json()["results"]
    ] == [
        big.pk,
        tie_a.pk,
    ]


def test_top_resellers_of_an_empty_month(staff_client):
    assert staff_client.get(TOP_RESELLERS, {"month": "2020-01"}).json() == {"month": "2020-01", "results": []}


# Per endpoint, after the authenticated user (JWT, 1 query):
QUERY_BUDGET = {
    SUMMARY: 5,  # the per-status aggregate, resellers per tier, the month's policy and its tiers
    MONTHLY: 2,  # the per-month aggregate
    TOP_RESELLERS: 2,  # the ranking, names joined in
    TOP_PRODUCTS: 2,  # the per-product aggregate, sku and name joined in
}


@pytest.mark.parametrize("resellers", [1, 15])
@pytest.mark.parametrize("url", ENDPOINTS)
def test_query_count_does_not_grow_with_data(
    staff_client, django_assert_num_queries, url, resellers, make_purchase
):
    for _ in range(resellers):
        make_purchase(items=[ItemInput(product=ProductFactory(), quantity=2)])
    with django_assert_num_queries(QUERY_BUDGET[url]):
        response = staff_client.get(url, {"limit": 100} if "top" in url else {})
    assert response.status_code == 200
    if "top" in url:
        assert len(response.json()["results"]) == resellers


# --- Top products ---------------------------------------------------------------


def test_top_products_by_quantity_then_value(staff_client, staff_user, make_purchase):
    cheap = ProductFactory(price=D("10.00"))
    dear = ProductFactory(price=D("99.90"))
    other = ProductFactory(price=D("5.00"))
    first, second = ResellerFactory(), ResellerFactory()
    make_purchase(first, items=[ItemInput(product=cheap, quantity=3), ItemInput(product=dear, quantity=1)])
    make_purchase(second, items=[ItemInput(product=dear, quantity=2)])
    make_purchase(second, items=[ItemInput(product=other, quantity=3)])
    rejected = make_purchase(first, items=[ItemInput(product=other, quantity=50)])
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Fake")
    make_purchase(first, date=date(2026, 2, 2), items=[ItemInput(product=other, quantity=80)])

    body = staff_client.get(TOP_PRODUCTS).json()

    assert body == {
        "month": "2026-03",
        "results": [
            {
                "product": {"id": dear.pk, "sku": dear.sku, "name": dear.name},
                "quantity": 3,
                "total_value": "299.70",
            },
            {
                "product": {"id": cheap.pk, "sku": cheap.sku, "name": cheap.name},
                "quantity": 3,
                "total_value": "30.00",
            },
            {
                "product": {"id": other.pk, "sku": other.sku, "name": other.name},
                "quantity": 3,
                "total_value": "15.00",
            },
        ],
    }
    assert len(staff_client.get(TOP_PRODUCTS, {"limit": 1}).json()["results"]) == 1
    assert staff_client.get(TOP_PRODUCTS, {"month": "2026-02"}).json()["results"][0]["quantity"] == 80


# --- Cache ----------------------------------------------------------------------


def test_answers_are_cached_until_a_purchase_changes(
    staff_client, staff_user, django_capture_on_commit_callbacks, make_purchase
):
    reseller = ResellerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        purchase = make_purchase(reseller, "100.00")
    first = staff_client.get(SUMMARY).json()
    assert first["by_status"]["validating"]["purchase_count"] == 1

    # Inside the test's transaction nothing commits, so the version is not
    # bumped: the cached answer is served (proof that there is a cache).
    make_purchase(reseller, "100.00")
    assert staff_client.get(SUMMARY).json() == first

    # A committed change bumps the version: the next answer is fresh.
    with django_capture_on_commit_callbacks(execute=True):
        purchase_reject(purchase=purchase, reviewer=staff_user, reason="Duplicate")
    fresh = staff_client.get(SUMMARY).json()
    assert fresh["by_status"]["validating"]["purchase_count"] == 1
    assert fresh["by_status"]["rejected"]["purchase_count"] == 1

    monthly = staff_client.get(MONTHLY).json()["results"][-1]
    with django_capture_on_commit_callbacks(execute=True):
        make_purchase(reseller, "900.00")
    assert staff_client.get(MONTHLY).json()["results"][-1] != monthly
    assert staff_client.get(MONTHLY).json()["results"][-1]["total_value"] == "1000.00"


def test_cached_answers_do_not_query_the_database(staff_client, django_assert_num_queries, make_purchase):
    make_purchase(value="100.00")
    for url in ENDPOINTS:
        staff_client.get(url)
    for url in ENDPOINTS:
        with django_assert_num_queries(1):  # the authenticated user only
            assert staff_client.get(url).status_code == 200


# --- Cross-check with the purchase list -----------------------------------------


def test_analytics_agree_with_the_purchase_list(staff_client, staff_user, make_purchase):
    resellers = [ResellerFactory() for _ in range(4)]
    values = ["333.33", "450.10", "0.01", "999.99", "1200.00", "75.55", "1500.00", "12.34"]
    created = []
    for index, value in enumerate(values):
        for day in (date(2026, 1, 15), date(2026, 3, 5)):
            created.append(make_purchase(resellers[index % 4], value, date=day))
    purchase_reject(purchase=created[3], reviewer=staff_user, reason="Fake")
    purchase_reject(purchase=created[8], reviewer=staff_user, reason="Fake")
    purchase_approve(purchase=created[5], reviewer=staff_user)

    monthly = {row["month"]: row for row in staff_client.get(MONTHLY).json()["results"]}
    for month in ("2026-01", "2026-02", "2026-03"):
        listed = staff_client.get("/api/v1/purchases/", {"month": month, "page_size": 100}).json()
        assert listed["count"] == len(listed["results"])  # one page holds them all
        by_status = defaultdict(lambda: {"purchase_count": 0, "total_value": D(0), "cashback_value": D(0)})
        for purchase in listed["results"]:
            figures = by_status[purchase["status"]]
            figures["purchase_count"] += 1
            figures["total_value"] += D(purchase["value"])
            figures["cashback_value"] += D(purchase["cashback_value"])

        summary = staff_client.get(SUMMARY, {"month": month}).json()
        for status in ("validating", "approved", "rejected"):
            expected = by_status[status]
            assert summary["by_status"][status] == {
                "purchase_count": expected["purchase_count"],
                "total_value": f"{expected['total_value']:.2f}",
                "cashback_value": f"{expected['cashback_value']:.2f}",
            }
        assert summary["active_resellers"] == len({p["reseller"]["id"] for p in listed["results"]})

        counted = [p for p in listed["results"] if p["status"] != "rejected"]
        assert monthly[month] == {
            "month": month,
            "purchase_count": len(counted),
            "total_value": f"{sum(D(p['value']) for p in counted):.2f}",
            "cashback_value": f"{sum(D(p['cashback_value']) for p in counted):.2f}",
        }
        ranking = staff_client.get(TOP_RESELLERS, {"month": month}).json()["results"]
        assert sum(D(row["cashback_value"]) for row in ranking) == D(monthly[month]["cashback_value"])
        assert sum(row["purchase_count"] for row in ranking) == monthly[month]["purchase_count"]
    assert monthly["2026-03"]["purchase_count"] > 0
