from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.utils import timezone

from conftest import EN, TODAY, authenticated_client
from core.parsing import INVALID_AMOUNT_MESSAGE
from products.tests.factories import ProductFactory
from purchases.analytics.services import analytics_figures_rebuild
from purchases.models import MonthlyCashback, Purchase
from purchases.selectors import CPF_REQUIRED_MESSAGE, FOREIGN_CPF_MESSAGE, UNKNOWN_CPF_MESSAGE
from purchases.services import ALREADY_REVIEWED_MESSAGE, CODE_TAKEN_MESSAGE, NOT_EDITABLE_MESSAGE
from resellers.tests.factories import ResellerFactory, make_cpf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

URL = "/api/v1/purchases/"


def detail(purchase):
    return f"{URL}{purchase.pk}/"


# --- Create -------------------------------------------------------------------


def test_reseller_creates_a_purchase_for_themselves(reseller, reseller_client):
    response = reseller_client.post(URL, {"code": "NF-1", "value": "150.00", "date": "2026-03-19"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {
        "id": body["id"],
        "code": "NF-1",
        "value": "150.00",
        "date": "2026-03-19",
        "status": "validating",
        "status_display": "Em validação",
        "cashback_percent": "10.00",
        "cashback_value": "15.00",
        "reviewed_at": None,
        "rejection_reason": "",
        "items": [],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert Purchase.objects.get().reseller == reseller


@pytest.mark.parametrize("cpf_format", ["digits", "formatted"])
def test_reseller_may_send_their_own_cpf(reseller, reseller_client, cpf_format):
    cpf = reseller.cpf if cpf_format == "digits" else reseller.cpf_formatted
    response = reseller_client.post(URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19", "cpf": cpf})
    assert response.status_code == 201


@pytest.mark.parametrize("registered", [True, False])
def test_reseller_cannot_use_another_cpf(reseller_client, registered):
    cpf = ResellerFactory().cpf if registered else make_cpf(9999)
    response = reseller_client.post(URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19", "cpf": cpf})
    assert response.status_code == 403
    assert response.json()["detail"] == str(FOREIGN_CPF_MESSAGE)
    assert not Purchase.objects.exists()


def test_staff_creates_for_any_reseller(staff_client, staff_user):
    target = ResellerFactory()
    response = staff_client.post(
        URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19", "cpf": target.cpf_formatted}
    )
    assert response.status_code == 201
    assert response.json()["reseller"] == {"id": target.id, "full_name": target.user.full_name}
    purchase = Purchase.objects.get()
    assert (purchase.reseller, purchase.created_by) == (target, staff_user)


@pytest.mark.parametrize("as_staff", [False, True])
@pytest.mark.parametrize("with_items", [False, True])
def test_create_answers_what_a_read_answers(reseller, reseller_client, staff_client, as_staff, with_items):
    # The answer is written from what the service just stored, not read
    # back: it must be exactly what reading the purchase gives.
    body = {"code": "NF-1", "date": "2026-03-19", "value": "33.30"}
    if with_items:
        product = ProductFactory(price=Decimal("11.10"))
        body = {**body, "items": [{"product": product.pk, "quantity": 3}]}
    client = staff_client if as_staff else reseller_client
    if as_staff:
        body["cpf"] = reseller.cpf
    created = client.post(URL, body)
    assert created.status_code == 201, created.json()
    read = client.get(f"{URL}{created.json()['id']}/")
    assert created.json() == read.json()
    assert len(created.json()["items"]) == (1 if with_items else 0)


def test_reseller_create_reads_back_only_the_new_row(
    reseller, reseller_client, make_purchase, django_assert_num_queries
):
    make_purchase(reseller, "10.00", date(2026, 3, 1))  # the month has figures, its policy is cached
    # The user with their profile; the reseller's lock, the month's figures
    # and their update, the insert, the analytics' month totals, day counts
    # and code counts (in a savepoint here); no read of the month's
    # purchases; then the answer, written as a read writes it: the new row
    # and its items.
    with django_assert_num_queries(12):
        response = reseller_client.post(URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19"})
    assert response.status_code == 201


def test_staff_must_send_a_cpf(staff_client):
    response = staff_client.post(URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19"})
    assert response.status_code == 400
    assert response.json() == {"cpf": [str(CPF_REQUIRED_MESSAGE)]}


def test_unknown_cpf_is_400(staff_client):
    response = staff_client.post(
        URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19", "cpf": make_cpf(77)}
    )
    assert response.status_code == 400
    assert response.json() == {"cpf": [str(UNKNOWN_CPF_MESSAGE)]}


def test_auto_approved_cpf_through_the_api(api_client):
    vip = ResellerFactory(cpf="15350946056")
    client = authenticated_client(vip.user)
    response = client.post(URL, {"code": "NF-1", "value": "10.00", "date": "2026-03-19"})
    assert response.json()["status"] == "approved"
    assert response.json()["status_display"] == "Aprovado"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"value": "10.00", "date": "2026-03-19"}, "code"),
        ({"code": "", "value": "10.00", "date": "2026-03-19"}, "code"),
        ({"code": "has space", "value": "10.00", "date": "2026-03-19"}, "code"),
        ({"code": "x" * 65, "value": "10.00", "date": "2026-03-19"}, "code"),
        ({"code": "çódigo", "value": "10.00", "date": "2026-03-19"}, "code"),
        ({"code": "A", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "0", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "-5.00", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "10.001", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "1000000.01", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "abc", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "NaN", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "Infinity", "date": "2026-03-19"}, "value"),
        ({"code": "A", "value": "10.00"}, "date"),
        ({"code": "A", "value": "10.00", "date": "2026-03-21"}, "date"),
        ({"code": "A", "value": "10.00", "date": "1999-12-31"}, "date"),
        ({"code": "A", "value": "10.00", "date": "20/03/2026"}, "date"),
        ({"code": "A", "value": "10.00", "date": "2026-02-30"}, "date"),
        ({"code": "A", "value": "10.00", "date": "2026-03-19", "cpf": "123"}, "cpf"),
        ({"code": "A", "value": "10.00", "date": "2026-03-19", "items": "x"}, "items"),
    ],
)
def test_bad_input_is_400_on_the_field(reseller_client, data, field):
    response = reseller_client.post(URL, data)
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not Purchase.objects.exists()


@pytest.mark.parametrize(
    "value", [1234.56, 1234, "1234.567", "01234.56", " 1234.56", "1234.56\n", "+1234.56"]
)
def test_value_is_a_plain_amount_string(reseller_client, value):
    # Money is text, as the API writes it: a JSON number is a binary float in
    # most clients. The schema publishes the pattern.
    response = reseller_client.post(URL, {"code": "A", "value": value, "date": "2026-03-19"}, **EN)
    assert response.status_code == 400
    assert response.json() == {"value": [str(INVALID_AMOUNT_MESSAGE).format(maximum="1000000.00")]}


@pytest.mark.parametrize(
    ("value", "stored"), [("0.01", "0.01"), ("12.5", "12.50"), ("1000000", "1000000.00")]
)
def test_value_takes_one_or_two_decimals_or_none(reseller_client, value, stored):
    response = reseller_client.post(URL, {"code": "A", "value": value, "date": "2026-03-19"})
    assert response.status_code == 201
    assert response.json()["value"] == stored


@pytest.mark.parametrize("value", ["10.00", "950.00"])  # within the tier, and one that would change it
def test_duplicate_code_is_400_and_leaves_the_month_untouched(
    reseller, reseller_client, make_purchase, value
):
    make_purchase(reseller, "100.00", date(2026, 3, 2), code="NF-1")
    month = MonthlyCashback.objects.values().get()
    shares = list(Purchase.objects.values_list("cashback_percent", "cashback_value"))
    response = reseller_client.post(URL, {"code": "NF-1", "value": value, "date": "2026-03-19"})
    assert response.status_code == 400
    assert response.json() == {"code": [str(CODE_TAKEN_MESSAGE)]}
    assert Purchase.objects.count() == 1
    assert MonthlyCashback.objects.values().get() == month
    assert list(Purchase.objects.values_list("cashback_percent", "cashback_value")) == shares


def test_status_cannot_be_set_on_create(reseller_client):
    response = reseller_client.post(
        URL, {"code": "A", "value": "10.00", "date": "2026-03-19", "status": "approved"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert not Purchase.objects.exists()


def test_staff_without_profile_and_anonymous(api_client):
    assert api_client.post(URL, {}).status_code == 401
    assert api_client.get(URL).status_code == 401


# --- List and detail ----------------------------------------------------------


def test_reseller_lists_only_their_own(reseller, reseller_client, make_purchase):
    mine = make_purchase(reseller)
    make_purchase()
    body = reseller_client.get(URL).json()
    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [mine.id]
    assert "reseller" not in body["results"][0]


def test_another_resellers_purchase_is_404(reseller_client, make_purchase):
    other = make_purchase()
    assert reseller_client.get(detail(other)).status_code == 404
    assert reseller_client.patch(detail(other), {"value": "1.00"}).status_code == 404
    assert reseller_client.delete(detail(other)).status_code == 404
    assert Purchase.objects.filter(pk=other.pk).exists()


def test_staff_lists_everyone_with_the_reseller(staff_client, make_purchase):
    first, second = make_purchase(), make_purchase()
    body = staff_client.get(URL).json()
    assert body["count"] == 2
    rows = {row["id"]: row for row in body["results"]}
    assert rows[first.id]["reseller"] == {"id": first.reseller.id, "full_name": first.reseller.user.full_name}
    assert rows[second.id]["reseller"]["id"] == second.reseller.id


def test_detail_shows_cashback(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller, "1200.00")
    body = reseller_client.get(detail(purchase)).json()
    assert (body["cashback_percent"], body["cashback_value"]) == ("15.00", "180.00")


def test_status_display_in_english(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller)
    assert reseller_client.get(detail(purchase), **EN).json()["status_display"] == "In validation"


def test_filters(reseller, reseller_client, staff_user, make_purchase):
    feb = make_purchase(reseller, date=date(2026, 2, 10), code="FEB-1")
    mar = make_purchase(reseller, date=date(2026, 3, 5), code="MAR-1")
    rejected = make_purchase(reseller, date=date(2026, 3, 6), code="MAR-2")
    from purchases.services import purchase_reject

    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Dup")

    def ids(**params):
        return {row["id"] for row in reseller_client.get(URL, params).json()["results"]}

    assert ids(month="2026-02") == {feb.id}
    assert ids(month="2026-03") == {mar.id, rejected.id}
    assert ids(status="rejected") == {rejected.id}
    assert ids(date_from="2026-03-06") == {rejected.id}
    assert ids(date_to="2026-02-28") == {feb.id}
    assert ids(search="mar-") == {mar.id, rejected.id}


def test_the_search_matches_the_same_codes_for_one_reseller_as_for_everyone(
    reseller, reseller_client, staff_client, make_purchase
):
    # One reseller's search filters their rows (no index); everyone's goes
    # through the trigram index: the same match, in any case, with "_" and
    # "%" taken literally.
    codes = {code: make_purchase(reseller, code=code).id for code in ("AB_1", "ab-1", "xAB-10", "Q1")}
    make_purchase(ResellerFactory(), code="AB_1")  # someone else's
    terms = {
        "ab": {"AB_1", "ab-1", "xAB-10"},
        "B_1": {"AB_1"},
        "b-1": {"ab-1", "xAB-10"},
        "%": set(),
        "_": {"AB_1"},
        "Q": {"Q1"},
        "ZZ": set(),
    }
    for term, expected in terms.items():
        wanted = {codes[code] for code in expected}
        own = reseller_client.get(URL, {"search": term}).json()["results"]
        by_reseller = staff_client.get(URL, {"search": term, "reseller": reseller.pk}).json()["results"]
        everyone = staff_client.get(URL, {"search": term}).json()["results"]
        assert {row["id"] for row in own} == wanted, term
        assert {row["id"] for row in by_reseller} == wanted, term
        assert {row["id"] for row in everyone if row["reseller"]["id"] == reseller.pk} == wanted, term


def test_staff_filters_by_reseller(staff_client, make_purchase):
    target = ResellerFactory()
    mine = make_purchase(target)
    make_purchase()
    rows = staff_client.get(URL, {"reseller": target.id}).json()["results"]
    assert [row["id"] for row in rows] == [mine.id]


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "2026-3"},
        {"month": "1999-12"},
        {"month": "abc"},
        {"status": "paid"},
        {"date_from": "yesterday"},
        {"date_from": "2026-03-10", "date_to": "2026-03-01"},
        {"page_size": "abc"},
    ],
)
def test_bad_filters_are_400_not_500(reseller_client, params):
    response = reseller_client.get(URL, params)
    assert response.status_code == 400, response.json()
    assert set(response.json()) <= {"month", "status", "date_from", "date_to", "page_size"}


def test_ordering(reseller, reseller_client, make_purchase):
    cheap = make_purchase(reseller, "10.00", date(2026, 3, 1))
    dear = make_purchase(reseller, "99.00", date(2026, 2, 1))
    assert [r["id"] for r in reseller_client.get(URL, {"ordering": "value"}).json()["results"]] == [
        cheap.id,
        dear.id,
    ]
    assert [r["id"] for r in reseller_client.get(URL, {"ordering": "-value"}).json()["results"]] == [
        dear.id,
        cheap.id,
    ]
    assert [r["id"] for r in reseller_client.get(URL, {"ordering": "date"}).json()["results"]] == [
        dear.id,
        cheap.id,
    ]
    assert [r["id"] for r in reseller_client.get(URL).json()["results"]] == [cheap.id, dear.id]


def test_page_size_is_capped_at_100(reseller, reseller_client, make_purchase):
    for index in range(3):
        make_purchase(reseller, code=f"X{index}")
    body = reseller_client.get(URL, {"page_size": 2}).json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert body["next"] is not None


@pytest.mark.parametrize("rows", [1, 100])
def test_reseller_list_query_count_is_constant(reseller, reseller_client, django_assert_num_queries, rows):
    # Rows written in one statement rather than with make_purchase: only their
    # number matters here, and 100 purchase_create calls would recompute the
    # month 100 times.
    Purchase.objects.bulk_create(
        Purchase(reseller=reseller, code=f"Q{index}", value=Decimal("10.00"), date=TODAY)
        for index in range(rows)
    )
    # user with the reseller profile, count, page, items of the page (a full
    # page: one that is not says the count without counting)
    with django_assert_num_queries(4):
        response = reseller_client.get(URL, {"page_size": rows})
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [1, 100])
def test_staff_list_query_count_is_constant(staff_client, django_assert_num_queries, rows):
    resellers = ResellerFactory.create_batch(3)
    # Rows written in one statement, as above; the month figures rebuilt
    # from them, as the seed does after its bulk inserts.
    Purchase.objects.bulk_create(
        Purchase(reseller=resellers[index % 3], code=f"Q{index}", value=Decimal("10.00"), date=TODAY)
        for index in range(rows)
    )
    analytics_figures_rebuild()
    # user, count (from the month figures), page, items, people (the
    # resellers' names and the reviewers' e-mails); full pages, as above
    with django_assert_num_queries(5):
        response = staff_client.get(URL, {"page_size": rows})
    assert (response.json()["count"], len(response.json()["results"])) == (rows, rows)
    # Filtered by a reseller: counted from the rows, then cached for
    # LIST_COUNT_CACHE_SECONDS; the same question again reads one query less.
    mine = {"page_size": len(range(0, rows, 3)), "reseller": resellers[0].pk}
    with django_assert_num_queries(5):
        response = staff_client.get(URL, mine)
    assert len(response.json()["results"]) == len(range(0, rows, 3))
    with django_assert_num_queries(4):
        response = staff_client.get(URL, mine)
    assert response.json()["count"] == len(range(0, rows, 3))


# --- Edit and delete ----------------------------------------------------------


def test_edit_while_validating(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller, "100.00")
    response = reseller_client.patch(detail(purchase), {"value": "1100.00", "code": "NEW"})
    assert response.status_code == 200, response.json()
    assert (response.json()["value"], response.json()["code"], response.json()["cashback_percent"]) == (
        "1100.00",
        "NEW",
        "15.00",
    )


def test_put_requires_the_whole_purchase(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller)
    response = reseller_client.put(detail(purchase), {"value": "5.00"})
    assert response.status_code == 400
    assert {"code", "date"} <= set(response.json())
    response = reseller_client.put(detail(purchase), {"code": "Z", "value": "5.00", "date": "2026-03-01"})
    assert response.status_code == 200


def test_status_is_not_writable_through_edit(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller)
    response = reseller_client.patch(detail(purchase), {"status": "approved", "value": "50.00"})
    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    purchase.refresh_from_db()
    assert (purchase.status, purchase.value) == (Purchase.Status.VALIDATING, Decimal("100.00"))


def test_edit_bad_input_leaves_the_row_untouched(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller)
    before = Purchase.objects.values().get(pk=purchase.pk)
    for data in ({"value": "-1"}, {"date": "2030-01-01"}, {"code": "bad code"}):
        assert reseller_client.patch(detail(purchase), data).status_code == 400
    assert Purchase.objects.values().get(pk=purchase.pk) == before


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_reviewed_purchase_edit_and_delete_are_409(
    reseller, reseller_client, staff_client, action, make_purchase
):
    purchase = make_purchase(reseller)
    payload = {"reason": "Invoice missing"} if action == "reject" else {}
    assert staff_client.post(f"{detail(purchase)}{action}/", payload).status_code == 200
    before = Purchase.objects.values().get(pk=purchase.pk)

    for response in (
        reseller_client.patch(detail(purchase), {"value": "1.00"}),
        reseller_client.put(detail(purchase), {"code": "Z", "value": "1.00", "date": "2026-03-01"}),
        reseller_client.delete(detail(purchase)),
    ):
        assert response.status_code == 409
        assert response.json()["detail"] == str(NOT_EDITABLE_MESSAGE)
    assert Purchase.objects.values().get(pk=purchase.pk) == before


def test_delete_while_validating(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller)
    assert reseller_client.delete(detail(purchase)).status_code == 204
    assert not Purchase.objects.exists()


def test_staff_can_edit_and_delete_while_validating(reseller, staff_client, make_purchase):
    purchase = make_purchase(reseller)
    assert staff_client.patch(detail(purchase), {"value": "20.00"}).status_code == 200
    assert staff_client.delete(detail(purchase)).status_code == 204


# --- Review -------------------------------------------------------------------


def test_approve(reseller, staff_client, staff_user, make_purchase):
    purchase = make_purchase(reseller)
    response = staff_client.post(f"{detail(purchase)}approve/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["status_display"], body["reviewed_by"]) == (
        "approved",
        "Aprovado",
        staff_user.email,
    )
    assert body["reviewed_at"]


def test_reject_needs_a_reason(reseller, staff_client, make_purchase):
    purchase = make_purchase(reseller)
    for payload in ({}, {"reason": ""}, {"reason": "   "}):
        response = staff_client.post(f"{detail(purchase)}reject/", payload)
        assert response.status_code == 400
        assert "reason" in response.json()
    response = staff_client.post(f"{detail(purchase)}reject/", {"reason": "Invoice missing"})
    assert response.status_code == 200
    assert (response.json()["status_display"], response.json()["cashback_value"]) == ("Reprovado", "0.00")
    assert response.json()["rejection_reason"] == "Invoice missing"


def test_api_reviews_are_in_the_admin_history(reseller, staff_client, staff_user, make_purchase):
    approved, rejected = make_purchase(reseller, code="H-1"), make_purchase(reseller, code="H-2")
    staff_client.post(f"{detail(approved)}approve/", **EN)
    staff_client.post(f"{detail(rejected)}reject/", {"reason": "Nota ilegível"}, **EN)
    staff_client.post(f"{detail(rejected)}approve/")  # refused (409): no line
    entries = LogEntry.objects.order_by("pk").values_list(
        "object_id", "user_id", "action_flag", "change_message", "content_type__model"
    )
    # In the project's language whatever the request's.
    assert list(entries) == [
        (str(approved.pk), staff_user.pk, CHANGE, "Aprovada", "purchase"),
        (str(rejected.pk), staff_user.pk, CHANGE, "Reprovada: Nota ilegível", "purchase"),
    ]


def test_review_twice_is_409(reseller, staff_client, make_purchase):
    purchase = make_purchase(reseller)
    staff_client.post(f"{detail(purchase)}approve/")
    for action, payload in (("approve", {}), ("reject", {"reason": "x"})):
        response = staff_client.post(f"{detail(purchase)}{action}/", payload)
        assert response.status_code == 409
        assert response.json()["detail"] == str(ALREADY_REVIEWED_MESSAGE)


def test_resellers_cannot_review(reseller, reseller_client, make_purchase):
    purchase = make_purchase(reseller)
    assert reseller_client.post(f"{detail(purchase)}approve/").status_code == 403
    assert reseller_client.post(f"{detail(purchase)}reject/", {"reason": "x"}).status_code == 403
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.VALIDATING


def test_review_unknown_purchase_is_404(staff_client):
    assert staff_client.post(f"{URL}999999/approve/").status_code == 404


def test_yesterday_is_a_valid_date(reseller_client):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert reseller_client.post(URL, {"code": "Y", "value": "1.00", "date": yesterday}).status_code == 201


@pytest.mark.parametrize("value", ["150,50", "1.299,90", "1,5"])
def test_a_value_with_a_decimal_comma_says_the_expected_format(reseller_client, value):
    response = reseller_client.post(URL, {"code": "NF-1", "value": value, "date": "2026-03-19"})
    assert response.status_code == 400
    assert response.json() == {
        "value": ['Use ponto como separador decimal, sem separador de milhares, por exemplo "150.50".']
    }
    assert not Purchase.objects.exists()


def test_a_value_with_a_decimal_comma_in_english(reseller_client):
    response = reseller_client.post(URL, {"code": "NF-1", "value": "150,50", "date": "2026-03-19"}, **EN)
    assert response.json() == {
        "value": ['Use a point as the decimal separator and no thousands separator, e.g. "150.50".']
    }


def test_a_value_that_is_no_number_gets_the_amounts_format(reseller_client):
    response = reseller_client.post(URL, {"code": "NF-1", "value": "abc", "date": "2026-03-19"})
    # Not the decimal-comma hint: the amount's own rule, with its bounds.
    assert response.json() == {
        "value": [
            'Informe um valor de 0.01 a 1000000.00 como texto, com no máximo 2 casas decimais, ex.: "150.00".'
        ]
    }
