"""The purchase list's fast read path: the same answer as the serializers,
the SQL it runs, its count and its page depth."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from core import pagination
from products.tests.factories import ProductFactory
from purchases.analytics.services import analytics_figures_rebuild
from purchases.models import Purchase
from purchases.services import ItemInput, purchase_approve, purchase_delete, purchase_reject, purchase_update
from resellers.tests.factories import ResellerFactory

URL = "/api/v1/purchases/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed_purchases(reseller, staff_user, make_purchase):
    """Purchases of every kind the list shows: items, reviews, a rejection."""
    today = timezone.localdate()
    products = ProductFactory.create_batch(2, price=Decimal("19.90"))
    with_items = make_purchase(
        reseller,
        items=[ItemInput(product=products[0], quantity=3), ItemInput(product=products[1], quantity=1)],
    )
    approved = make_purchase(reseller, "1234.56", today - timedelta(days=40))
    purchase_approve(purchase=approved, reviewer=staff_user)
    rejected = make_purchase(reseller, "0.01", today - timedelta(days=1))
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Nota ilegível.")
    make_purchase(ResellerFactory(), "999999.99")
    return [with_items, approved, rejected]


def _expected_row(purchase, language="pt-br") -> dict:
    purchase.refresh_from_db()
    with translation.override(language):
        status_display = purchase.get_status_display()
    items = [
        {
            "product": item.product_id,
            "sku": item.product.sku,
            "name": item.product.name,
            "quantity": item.quantity,
            "unit_price": f"{item.unit_price:.2f}",
            "total": f"{item.unit_price * item.quantity:.2f}",
        }
        for item in purchase.items.order_by("id")
    ]
    return {
        "id": purchase.pk,
        "code": purchase.code,
        "value": f"{purchase.value:.2f}",
        "date": purchase.date.isoformat(),
        "status": purchase.status,
        "status_display": status_display,
        "cashback_percent": f"{purchase.cashback_percent:.2f}",
        "cashback_value": f"{purchase.cashback_value:.2f}",
        "reviewed_at": (
            timezone.localtime(purchase.reviewed_at).isoformat() if purchase.reviewed_at else None
        ),
        "rejection_reason": purchase.rejection_reason,
        "items": items,
        "created_at": timezone.localtime(purchase.created_at).isoformat(),
        "updated_at": timezone.localtime(purchase.updated_at).isoformat(),
    }


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_the_reseller_list_shows_each_purchase_with_its_items_and_review(
    reseller_client, mixed_purchases, language
):
    rows = reseller_client.get(URL, HTTP_ACCEPT_LANGUAGE=language).json()["results"]
    with_items, approved, rejected = mixed_purchases
    # Newest date first: today's (with items), yesterday's (rejected), 40 days ago.
    expected = [_expected_row(p, language) for p in (with_items, rejected, approved)]
    assert rows == expected
    assert rows[1]["rejection_reason"] == "Nota ilegível."
    assert rows[0]["items"][0]["total"] == "59.70"


def test_the_staff_list_adds_whose_purchase_and_who_reviewed(staff_user, staff_client, mixed_purchases):
    rows = {row["id"]: row for row in staff_client.get(URL).json()["results"]}
    assert len(rows) == 4
    for purchase in mixed_purchases:
        row = rows[purchase.pk]
        assert row["reseller"] == {"id": purchase.reseller_id, "full_name": purchase.reseller.user.full_name}
        assert {k: v for k, v in row.items() if k not in ("reseller", "reviewed_by")} == _expected_row(
            purchase
        )
    assert rows[mixed_purchases[1].pk]["reviewed_by"] == staff_user.email
    assert rows[mixed_purchases[0].pk]["reviewed_by"] is None


def test_the_detail_and_the_list_write_the_same_row(reseller_client, staff_client, mixed_purchases):
    for client in (reseller_client, staff_client):
        listed = {row["id"]: row for row in client.get(URL).json()["results"]}
        for purchase in mixed_purchases:
            assert client.get(f"{URL}{purchase.pk}/").json() == listed[purchase.pk]


def test_the_reseller_list_reads_no_user_or_reseller_table(reseller, reseller_client, mixed_purchases):
    with CaptureQueriesContext(connection) as queries:
        assert reseller_client.get(URL).status_code == 200
    # Authentication reads the user with its profile; the list itself reads
    # purchases and their items only, and never a password hash or a CPF.
    list_queries = [q["sql"] for q in queries.captured_queries if "purchases_purchase" in q["sql"]]
    assert list_queries
    for sql in list_queries:
        assert "accounts_user" not in sql
        assert "resellers_reseller" not in sql
    assert not any(
        "cpf_encrypted" in q["sql"] or '"password"' in q["sql"] for q in queries.captured_queries[1:]
    )


def test_list_selects_only_the_columns_it_shows(reseller_client, mixed_purchases):
    with CaptureQueriesContext(connection) as queries:
        reseller_client.get(URL)
    page = next(q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"])
    assert "reviewed_by_id" not in page  # the staff's column
    assert "description" not in " ".join(q["sql"] for q in queries.captured_queries)  # product descriptions


def test_ordering_by_value_breaks_ties_by_id_in_the_same_direction(staff_client, make_purchase):
    first, second = make_purchase(value="50.00"), make_purchase(value="50.00")
    ids = [row["id"] for row in staff_client.get(URL, {"ordering": "-value"}).json()["results"]]
    assert ids == [second.pk, first.pk]
    ids = [row["id"] for row in staff_client.get(URL, {"ordering": "value"}).json()["results"]]
    assert ids == [first.pk, second.pk]


def test_pages_beyond_ten_thousand_rows_are_refused(staff_client, reseller_client):
    for client in (staff_client, reseller_client):
        response = client.get(URL, {"page": 201, "page_size": 50}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert "narrow the filters" in response.json()["page"][0]
        # The deepest page served: rows 9,951 to 10,000 (none here, so 404).
        assert client.get(URL, {"page": 200, "page_size": 50}).status_code == 404
        assert client.get(URL, {"page": 101}).status_code == 404  # page_size 20: rows 2,001+


def test_the_staff_count_by_month_dates_and_status_is_exact_from_the_day_counts(
    staff_client, reseller, make_purchase, staff_user
):
    today = timezone.localdate()
    earlier = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    make_purchase(reseller, "10.00", today)
    purchase_approve(purchase=make_purchase(reseller, "20.00", earlier), reviewer=staff_user)
    make_purchase(ResellerFactory(), "30.00", earlier)
    this_month, last_month = f"{today:%Y-%m}", f"{earlier:%Y-%m}"
    expected = {
        (): 3,
        (("month", last_month),): 2,
        (("status", "validating"),): 2,
        (("month", last_month), ("status", "approved")): 1,
        (("month", this_month), ("status", "rejected")): 0,
        (("month", "2001-01"),): 0,
        (("date_from", earlier.isoformat()),): 3,
        (("date_from", (earlier + timedelta(days=1)).isoformat()),): 1,
        (("date_to", earlier.isoformat()), ("status", "validating")): 1,
        (("date_from", today.isoformat()), ("date_to", today.isoformat()), ("month", this_month)): 1,
        (("date_from", today.isoformat()), ("month", last_month)): 0,
    }
    for filters, count in expected.items():
        with CaptureQueriesContext(connection) as queries:
            body = staff_client.get(URL, dict(filters)).json()
        assert (body["count"], len(body["results"])) == (count, count), filters
        # No COUNT over the purchases: a sum over the day counts.
        assert not any(
            "COUNT(" in q["sql"] and "purchases_purchase" in q["sql"] for q in queries.captured_queries
        ), filters
    # Exact at once after a write: nothing kept for a window.
    make_purchase(reseller, "40.00", today)
    assert staff_client.get(URL).json()["count"] == 4
    assert staff_client.get(URL, {"month": this_month}).json()["count"] == 2


def test_the_staff_count_of_a_search_is_exact_from_the_code_counts(staff_client, reseller, make_purchase):
    other = ResellerFactory()
    for owner, code in (
        (reseller, "NF-000137"),
        (other, "NF-000137"),
        (other, "nf-000130"),
        (reseller, "B-1"),
    ):
        make_purchase(owner, code=code)
    expected = {"NF-00013": 3, "nf-000137": 2, "000130": 1, "B-1": 1, "NF-0009": 0, "-": 4}
    for term, count in expected.items():
        with CaptureQueriesContext(connection) as queries:
            body = staff_client.get(URL, {"search": term}).json()
        assert (body["count"], len(body["results"])) == (count, count), term
        # No COUNT over the purchases: a sum over the code counts.
        assert not any(
            "COUNT(" in q["sql"] and "purchases_purchase" in q["sql"] for q in queries.captured_queries
        ), term
    # Exact at once after a write, a change of code and a delete.
    purchase = make_purchase(reseller, code="NF-000139")
    assert staff_client.get(URL, {"search": "NF-00013"}).json()["count"] == 4
    purchase_update(purchase=purchase, code="Z-1")
    assert staff_client.get(URL, {"search": "NF-00013"}).json()["count"] == 3
    purchase_delete(purchase=Purchase.objects.get(reseller=other, code="NF-000137"))
    assert staff_client.get(URL, {"search": "NF-000137"}).json()["count"] == 1
    # With another filter, the rows are counted.
    assert staff_client.get(URL, {"search": "NF-00013", "reseller": other.pk}).json()["count"] == 1


def test_the_staff_count_with_other_filters_is_cached_briefly_and_the_reseller_count_is_exact(
    settings, reseller, reseller_client, staff_client, make_purchase, django_capture_on_commit_callbacks
):
    settings.LIST_COUNT_CACHE_SECONDS = 5
    # Pages of one row: full pages, whose count is the list's.
    mine = {"reseller": reseller.pk, "page_size": 1}
    make_purchase(reseller)
    make_purchase(reseller)
    assert staff_client.get(URL, mine).json()["count"] == 2
    assert reseller_client.get(URL, {"page_size": 1}).json()["count"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        make_purchase(reseller)
    # Staff, by a reseller (or a search): the count may be up to
    # LIST_COUNT_CACHE_SECONDS old (the rows are not).
    body = staff_client.get(URL, mine).json()
    assert (body["count"], body["results"][0]["code"]) == (2, "P-3")
    assert reseller_client.get(URL, {"page_size": 1}).json()["count"] == 3
    # A page that is not full is the last one, and says the count exactly.
    body = staff_client.get(URL, {"reseller": reseller.pk}).json()
    assert (body["count"], len(body["results"])) == (3, 3)
    # Other filters are other counts.
    assert staff_client.get(URL, {**mine, "status": "validating"}).json()["count"] == 3

    settings.LIST_COUNT_CACHE_SECONDS = 0
    assert staff_client.get(URL, mine).json()["count"] == 3


def test_a_page_that_is_not_full_is_counted_without_a_count(reseller, reseller_client, make_purchase):
    for _ in range(5):
        make_purchase(reseller)

    def page(**params) -> tuple:
        with CaptureQueriesContext(connection) as queries:
            response = reseller_client.get(URL, params)
        counted = any("COUNT(" in q["sql"] for q in queries.captured_queries)
        body = response.json()
        if response.status_code != 200:
            return response.status_code, counted
        return body["count"], len(body["results"]), body["next"] is not None, counted

    # The last page, whole or not, tells the count from its rows.
    assert page() == (5, 5, False, False)
    assert page(page_size=2, page=3) == (5, 1, False, False)
    # A full page does not know what follows: it counts.
    assert page(page_size=2) == (5, 2, True, True)
    assert page(page_size=5) == (5, 5, False, True)
    # A page past the last holds no rows: 404, as before.
    assert page(page_size=2, page=4) == (404, False)
    assert page(page_size=5, page=2) == (404, False)
    # An empty list is one empty page.
    assert page(status="approved") == (0, 0, False, False)


@pytest.mark.postgres
def test_the_staff_first_page_reads_an_index_not_the_table(staff_user, make_purchase):
    reseller = ResellerFactory()
    today = timezone.localdate()
    Purchase.objects.bulk_create(
        Purchase(
            reseller=reseller, code=f"E{n}", value=Decimal("10.00"), date=today - timedelta(days=n % 700)
        )
        for n in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE purchases_purchase")
    # A whole month (as ?month= filters it), not the current one: early in a
    # month its few rows are cheaper to sort than to walk in order.
    month = (today.replace(day=1) - timedelta(days=40)).replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    queries = {
        "first page": Purchase.objects.order_by("-date", "-id"),
        "month": Purchase.objects.filter(date__gte=month, date__lt=next_month).order_by("-date", "-id"),
        "by value": Purchase.objects.order_by("-value", "-id"),
        "reseller": Purchase.objects.filter(reseller=reseller).order_by("-date", "-id"),
    }
    for name, queryset in queries.items():
        plan = queryset.values("id")[:50].explain()
        # An index read in the list's order: no table scan, no sort.
        assert "Index" in plan, (name, plan)
        assert "Seq Scan" not in plan, (name, plan)
        assert "Sort" not in plan, (name, plan)


def test_one_resellers_search_is_a_test_the_trigram_index_cannot_serve(
    reseller, reseller_client, staff_client
):
    # At 1,000,000 purchases PostgreSQL ANDed the reseller's index with the
    # trigram index, which reads every reseller's matches: their rows alone
    # are cheaper, and a LIKE would let the planner choose the index again.
    def search_sql(client, **params) -> str:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"search": "NF-00013", **params}).status_code == 200
        return next(q["sql"] for q in queries.captured_queries if "NF-00013" in q["sql"])

    for sql in (search_sql(reseller_client), search_sql(staff_client, reseller=reseller.pk)):
        assert "LIKE" not in sql.upper(), sql
        assert "STRPOS(" in sql.upper() or "INSTR(" in sql.upper(), sql
    assert "LIKE" in search_sql(staff_client).upper()


@pytest.mark.postgres
def test_the_staff_search_read_code_by_code_shows_the_pages_of_all_the_matches(
    staff_client, monkeypatch, django_capture_on_commit_callbacks
):
    import random

    from purchases import filters
    from purchases.filters import PURCHASE_ORDERINGS

    rng = random.Random(7)
    today = timezone.localdate()
    codes = [f"NF-{n:04d}" for n in range(1, 13)] + ["nf-0003", "ZZ-1"]
    for _ in range(6):
        reseller = ResellerFactory()
        for code in rng.sample(codes, 9):
            Purchase.objects.create(
                reseller=reseller,
                code=code,
                # Few dates and values: ties, broken by the id.
                value=Decimal(rng.choice(["10.00", "25.50", "99.90"])),
                date=today - timedelta(days=rng.randint(0, 3)),
            )
    analytics_figures_rebuild()  # rows written around the services, as the seed does

    def page(merged: bool, params: dict) -> tuple:
        monkeypatch.setattr(filters, "MERGED_CODES", 64 if merged else 0)
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(URL, params)
        assert response.status_code == 200, (params, response.json())
        body = response.json()
        read_by_code = any("ARRAY(" in q["sql"] for q in queries.captured_queries)
        assert read_by_code == (merged and body["count"] > 0), params
        return body["count"], body["next"] is not None, [row["id"] for row in body["results"]]

    for term in ("NF-000", "nf-0003", "NF-0001", "ZZ", "NOPE"):
        for ordering in ("", *PURCHASE_ORDERINGS):
            for number, size in ((1, 5), (2, 5), (3, 2), (1, 100)):
                params = {"search": term, "page": number, "page_size": size}
                if ordering:
                    params["ordering"] = ordering
                if number > 1 and page(False, {**params, "page": 1})[0] <= (number - 1) * size:
                    continue  # past the last page: 404 either way
                assert page(True, params) == page(False, params), params
    # Refused parameters are refused as before, whatever the search.
    assert staff_client.get(URL, {"search": "NF", "ordering": "code"}).status_code == 400
    assert staff_client.get(URL, {"search": "NF", "page_size": 500}).status_code == 400


def test_a_resellers_count_is_exact_whatever_the_count_cache(
    settings, reseller, reseller_client, make_purchase
):
    settings.LIST_COUNT_CACHE_SECONDS = 60
    make_purchase(reseller)
    assert reseller_client.get(URL).json()["count"] == 1
    make_purchase(reseller)
    with CaptureQueriesContext(connection) as queries:
        body = reseller_client.get(URL, {"page_size": 1}).json()
    assert (body["count"], len(body["results"])) == (2, 1)
    assert any("COUNT(" in q["sql"] for q in queries.captured_queries)
    assert reseller_client.get(URL, {"status": "approved"}).json()["count"] == 0


def test_a_deep_page_reads_ids_first_then_the_same_rows(settings, staff_client, monkeypatch):
    reseller = ResellerFactory()
    Purchase.objects.bulk_create(
        Purchase(reseller=reseller, code=f"D{n}", value=Decimal("10.00"), date=timezone.localdate())
        for n in range(30)
    )
    analytics_figures_rebuild()  # rows written around the services, as the seed does
    shallow = [row["id"] for row in staff_client.get(URL, {"page": 3, "page_size": 5}).json()["results"]]
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_FROM", 10)
    with CaptureQueriesContext(connection) as queries:
        deep = staff_client.get(URL, {"page": 3, "page_size": 5}).json()["results"]
    assert [row["id"] for row in deep] == shallow
    assert any(
        "OFFSET 10" in q["sql"] and '"rejection_reason"' not in q["sql"] for q in queries.captured_queries
    )


def test_the_last_page_served_has_no_next_link(settings, staff_client, monkeypatch):
    monkeypatch.setattr(pagination.LargeTablePagination, "max_rows", 10)
    reseller = ResellerFactory()
    Purchase.objects.bulk_create(
        Purchase(reseller=reseller, code=f"L{n}", value=Decimal("10.00"), date=timezone.localdate())
        for n in range(30)
    )
    analytics_figures_rebuild()  # rows written around the services, as the seed does
    body = staff_client.get(URL, {"page": 2, "page_size": 5}).json()
    assert (len(body["results"]), body["next"], body["count"]) == (5, None, 30)
    assert staff_client.get(URL, {"page": 3, "page_size": 5}).status_code == 400


def test_a_list_without_filter_parameters_builds_no_filterset(
    settings, reseller_client, make_purchase, monkeypatch
):
    from purchases.filters import PurchaseFilter

    built = []
    original = PurchaseFilter.__init__
    monkeypatch.setattr(
        PurchaseFilter, "__init__", lambda self, *a, **k: built.append(1) or original(self, *a, **k)
    )
    assert reseller_client.get(URL, {"page_size": 5, "ordering": "-value"}).status_code == 200
    assert built == []
    response = reseller_client.get(URL, {"status": "bogus"})
    assert response.status_code == 400  # asked for: validated as ever
    assert built == [1]
