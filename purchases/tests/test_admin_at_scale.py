"""The purchases' admin at millions of rows: a count that stops one row past
the rows a page may reach ("mais de 10.000 compras"), the search finding the
resellers first (name, e-mail, exact CPF) and the code, with a constant
number of queries."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import pagination
from core.pagination import CachedCountPaginator, rounded
from purchases import admin as purchases_admin
from purchases.admin import PurchaseAdmin
from purchases.models import Purchase
from resellers import cpf as cpf_codec
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]
CHANGELIST = "/admin/purchases/purchase/"


def text_of(response) -> str:
    # The words people read: tags dropped, spaces collapsed.
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


def codes(response) -> list[str]:
    return sorted(purchase.code for purchase in response.context["cl"].result_list)


def counts(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"]]


@pytest.fixture
def over_ten_thousand(db):
    """10,001 purchases in validation and one approved: one past the rows a
    page may reach (100 pages of 100), written directly (no cashback)."""
    reseller = ResellerFactory(user__full_name="Revendedora Grande")
    Purchase.objects.bulk_create(
        Purchase(
            reseller=reseller,
            code=f"NF-{n:05}",
            value=Decimal("10.00"),
            date=date(2026, 3, 1 + n % 28),
            status=Purchase.Status.VALIDATING,
        )
        for n in range(10_001)
    )
    approved = ResellerFactory()
    Purchase.objects.create(
        reseller=approved, code="NF-OK", value=Decimal("10.00"), date=date(2026, 3, 2), status="approved"
    )
    return reseller


@pytest.fixture
def shallow_bound(monkeypatch):
    """Pages of two, served to six rows deep: the bound of a million rows in
    a few."""
    monkeypatch.setattr(PurchaseAdmin, "list_per_page", 2)
    monkeypatch.setattr(pagination.LargeTablePagination, "max_rows", 6)


# --- The bounded count -----------------------------------------------------------------


def test_a_list_past_the_bound_says_more_than_ten_thousand(admin_client, over_ten_thousand):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"status__exact": "validating"})
    page = text_of(response)
    assert "mais de 10.000 compras" in page
    assert "mais de 10.000 resultados (Mostrar tudo)" in page
    assert "Selecionar todas as compras (mais de 10.000)" in page
    assert "Todas as compras selecionadas (mais de 10.000)" in page
    assert "10001" not in page
    assert "10.001" not in page
    # Counted to one row past the bound, in one query, and never the whole table.
    [count] = counts(queries)
    assert "LIMIT 10001" in count
    # The last page offered is the 100th.
    assert 'href="?p=100&amp;status__exact=validating"' in response.content.decode()
    assert "p=101" not in response.content.decode()


def test_a_whole_table_past_the_bound_shows_the_databases_estimate(
    admin_client, over_ten_thousand, monkeypatch
):
    # SQLite keeps no estimate: "more than"; PostgreSQL's, rounded, read "about".
    page = text_of(admin_client.get(CHANGELIST))
    if connection.vendor == "postgresql":  # an estimate once the table was analysed
        assert "mais de 10.000 compras" in page or re.search(r"cerca de [\d.]+ compras", page)
    else:
        assert "mais de 10.000 compras" in page
    monkeypatch.setattr(pagination, "estimated_rows", lambda queryset: 10_001_135)
    page = text_of(admin_client.get(CHANGELIST))
    assert "cerca de 10.000.000 compras" in page
    assert "Selecionar todas as compras (cerca de 10.000.000)" in page


def test_a_filtered_list_never_shows_the_tables_estimate(admin_client, over_ten_thousand, monkeypatch):
    monkeypatch.setattr(pagination, "estimated_rows", lambda queryset: 10_001_135)
    page = text_of(admin_client.get(CHANGELIST, {"status__exact": "validating"}))
    assert "mais de 10.000 compras" in page
    assert "cerca de" not in page


def test_the_estimate_is_read_only_for_a_whole_table():
    assert pagination.lists_whole_table(Purchase.objects.select_related("reseller__user").order_by("-id"))
    assert not pagination.lists_whole_table(Purchase.objects.filter(status="approved"))
    assert not pagination.lists_whole_table(Purchase.objects.all()[:10])
    assert not pagination.lists_whole_table(Purchase.objects.distinct())
    if connection.vendor != "postgresql":
        assert pagination.estimated_rows(Purchase.objects.all()) is None


@pytest.mark.parametrize(
    ("number", "shown"),
    [(10_001_135, 10_000_000), (1_000_459, 1_000_000), (1_264_000, 1_300_000), (10_600, 11_000), (7, 7)],
)
def test_estimates_keep_two_significant_digits(number, shown):
    assert rounded(number) == shown


@pytest.mark.usefixtures("shallow_bound")
def test_a_list_of_exactly_the_bound_is_counted_exactly(admin_client, make_purchase):
    reseller = ResellerFactory()
    for day in range(1, 7):
        make_purchase(reseller, "10.00", date(2026, 3, day))
    page = text_of(admin_client.get(CHANGELIST))
    assert "6 compras" in page
    assert "mais de" not in page
    make_purchase(reseller, "10.00", date(2026, 3, 7))
    response = admin_client.get(CHANGELIST, {"status__exact": "validating"})  # not the cached count
    page = text_of(response)
    assert "mais de 6 compras" in page
    assert "Mostrar tudo" not in page.partition("mais de 6 compras")[2]  # no "show all" of millions
    assert response.context["cl"].paginator.num_pages == 3


@pytest.mark.usefixtures("shallow_bound", "default_cashback_policy")
def test_the_bounded_count_after_a_bulk_action_is_fresh(admin_client, settings, make_purchase):
    settings.LIST_COUNT_CACHE_SECONDS = 60
    reseller = ResellerFactory()
    purchases = [make_purchase(reseller, "10.00", date(2026, 3, day)) for day in range(1, 9)]
    pending = f"{CHANGELIST}?status__exact=validating"
    assert "mais de 6 compras" in text_of(admin_client.get(pending))
    response = admin_client.post(
        pending,
        {"action": "approve_selected", "_selected_action": [p.pk for p in purchases[:3]], "index": "0"},
    )
    assert response.status_code == 302
    page = text_of(admin_client.get(response["Location"]))
    assert "5 compras" in page
    assert "mais de" not in page


def test_the_count_is_cached_apart_from_the_apis_exact_count(settings, over_ten_thousand):
    # The API's staff list counts exactly, under the same cache window: the
    # two counts of one queryset are never served for each other.
    settings.LIST_COUNT_CACHE_SECONDS = 60
    Purchase.objects.filter(code="NF-OK").update(status=Purchase.Status.VALIDATING)
    queryset = Purchase.objects.filter(status="validating").order_by("-date", "-id")
    assert CachedCountPaginator(queryset, 100).count == 10_001
    exact = pagination._LargeTablePaginator(queryset, 100, max_rows=10_000, cached_count=True)
    assert exact.count == 10_002
    assert CachedCountPaginator(queryset, 100).count == 10_001


# --- The search --------------------------------------------------------------------------


@pytest.fixture
def people(make_purchase):
    maria = ResellerFactory(user__full_name="Maria Aparecida", user__email="cida@example.com")
    mario = ResellerFactory(user__full_name="Mário Souza", user__email="mario.souza@example.com")
    joana = ResellerFactory(user__full_name="Joana Lima", user__email="joana@mariana.com.br")
    other = ResellerFactory(user__full_name="Pedro Alves", user__email="pedro@example.com")
    made = {
        "NF-100": make_purchase(maria, "10.00", date(2026, 3, 1), "NF-100"),
        "NF-101": make_purchase(maria, "10.00", date(2026, 3, 2), "NF-101"),
        "NF-200": make_purchase(mario, "10.00", date(2026, 3, 3), "NF-200"),
        "NF-300": make_purchase(joana, "10.00", date(2026, 3, 4), "NF-300"),
        "MARIA-7": make_purchase(other, "10.00", date(2026, 3, 5), "MARIA-7"),  # the code matches
    }
    return {"maria": maria, "mario": mario, "joana": joana, "other": other, **made}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("maria", ["MARIA-7", "NF-100", "NF-101", "NF-300"]),  # name, code, e-mail's domain
        ("MARIA APARECIDA", ["NF-100", "NF-101"]),
        ("cida@example", ["NF-100", "NF-101"]),
        ("mario.souza@example.com", ["NF-200"]),
        ("nf-10", ["NF-100", "NF-101"]),
        ("NF-300", ["NF-300"]),
        ("  joana  ", ["NF-300"]),
        ("ninguém", []),
    ],
)
def test_search_by_name_email_and_code(admin_client, people, term, expected):
    assert codes(admin_client.get(CHANGELIST, {"q": term})) == expected


def test_search_by_exact_cpf_only(admin_client, people):
    digits = people["mario"].cpf
    assert codes(admin_client.get(CHANGELIST, {"q": digits})) == ["NF-200"]
    assert codes(admin_client.get(CHANGELIST, {"q": cpf_codec.format_cpf(digits)})) == ["NF-200"]
    assert codes(admin_client.get(CHANGELIST, {"q": digits[:8]})) == []


def test_search_keeps_the_filters(admin_client, people, admin_user):
    from purchases.services import purchase_approve

    purchase_approve(purchase=people["NF-100"], reviewer=admin_user)
    response = admin_client.get(CHANGELIST, {"q": "maria", "status__exact": "validating"})
    assert codes(response) == ["MARIA-7", "NF-101", "NF-300"]


def test_search_past_the_written_ids_finds_every_reseller(admin_client, people, monkeypatch):
    # More resellers than the query writes ids of: a subquery, all of them.
    monkeypatch.setattr(purchases_admin, "MAX_SEARCHED_RESELLERS", 1)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "maria"})
    assert codes(response) == ["MARIA-7", "NF-100", "NF-101", "NF-300"]
    page = [q["sql"] for q in queries.captured_queries if '"purchases_purchase"."code"' in q["sql"]]
    assert any("SELECT" in sql.partition(" WHERE ")[2] for sql in page)  # the resellers as a subquery


def test_search_reads_a_constant_number_of_queries(admin_client, people, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as one:
        admin_client.get(CHANGELIST, {"q": "maria"})
    for n in range(30):
        reseller = ResellerFactory(user__full_name=f"Maria {n}")
        Purchase.objects.create(
            reseller=reseller,
            code=f"X-{n}",
            value=Decimal("1.00"),
            date=date(2026, 3, 1),
            status="validating",
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(CHANGELIST, {"q": "maria"})
    assert len(response.context["cl"].result_list) == 34
    # session, user, months, staff, the resellers found, the count, the page.
    assert len(one.captured_queries) <= 8


@pytest.mark.usefixtures("shallow_bound")
def test_a_search_whose_resellers_pass_the_bound_is_not_counted_row_by_row(admin_client, make_purchase):
    maria = ResellerFactory(user__full_name="Maria Grande")
    for day in range(1, 9):
        make_purchase(maria, "10.00", date(2026, 3, day))
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "maria"})
    assert "mais de 6 resultados" in text_of(response)
    # One count, of the resellers' purchases alone (an index-only range), not
    # of the search's OR over every code.
    [count] = counts(queries)
    assert "reseller_id" in count
    assert "code" not in count


@pytest.mark.usefixtures("shallow_bound")
def test_a_search_whose_resellers_stay_under_the_bound_counts_the_whole_search(admin_client, make_purchase):
    maria = ResellerFactory(user__full_name="Maria Pequena")
    make_purchase(maria, "10.00", date(2026, 3, 1), "NF-1")
    make_purchase(ResellerFactory(), "10.00", date(2026, 3, 2), "MARIA-2")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "maria"})
    assert codes(response) == ["MARIA-2", "NF-1"]
    assert "2 resultados" in text_of(response)
    assert len(counts(queries)) == 2  # the floor, then the search


# --- The month filter --------------------------------------------------------------------


def test_the_month_filter_reads_the_months_without_a_distinct(admin_client, make_purchase):
    for month in (1, 2, 3):
        make_purchase(date=date(2026, month, 5))
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST)
    assert "março de 2026" in text_of(response).lower()
    months = [q["sql"] for q in queries.captured_queries if "purchases_monthlycashback" in q["sql"]]
    assert len(months) == 1
    assert "DISTINCT" not in months[0]
