import csv
import io
import re
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.core.files.storage import storages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from conftest import EN
from core.models import Job
from products.models import Category, Product
from purchases.admin import DATE_RANGE_REVERSED_MESSAGE, PurchaseMonthFilter
from purchases.models import Purchase
from purchases.services import ALREADY_REVIEWED_MESSAGE, ItemInput, purchase_approve, purchase_reject
from resellers import cpf as cpf_codec
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]
D = Decimal
CHANGELIST = "/admin/purchases/purchase/"


def codes(response):
    return sorted(purchase.code for purchase in response.context["cl"].result_list)


def action(name, purchases, **extra):
    return {"action": name, "_selected_action": [p.pk for p in purchases], **extra}


def sent_messages(response):
    return [(message.level, message.message) for message in get_messages(response.wsgi_request)]


def viewer_client(client, *codenames):
    """A client logged in as staff with only these purchase permissions."""
    client.force_login(StaffFactory(permissions=[f"purchases.{codename}" for codename in codenames]))
    return client


# --- Changelist -----------------------------------------------------------------


@pytest.fixture
def march(admin_user, make_purchase):
    """Two resellers; 'ana' has purchases in three statuses in March, 'bia' one in February."""
    ana = ResellerFactory(user__email="ana@example.com", user__full_name="Ana Souza")
    bia = ResellerFactory(user__email="bia@example.com", user__full_name="Bia Lima")
    purchases = {
        "NF-VAL": make_purchase(ana, "100.00", date(2026, 3, 2), "NF-VAL"),
        "NF-APR": make_purchase(ana, "200.00", date(2026, 3, 3), "NF-APR"),
        "NF-REJ": make_purchase(ana, "300.00", date(2026, 3, 4), "NF-REJ"),
        "NF-FEB": make_purchase(bia, "400.00", date(2026, 2, 10), "NF-FEB"),
    }
    purchase_approve(purchase=purchases["NF-APR"], reviewer=admin_user)
    purchase_reject(purchase=purchases["NF-REJ"], reviewer=admin_user, reason="Invoice missing.")
    return {"ana": ana, "bia": bia, **purchases}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["NF-APR", "NF-FEB", "NF-REJ", "NF-VAL"]),
        ("?status=approved", ["NF-APR"]),
        ("?status=validating", ["NF-FEB", "NF-VAL"]),
        ("?month=2026-02", ["NF-FEB"]),
        ("?month=2026-03&status=rejected", ["NF-REJ"]),
        ("?month=2025-01", []),
        ("?date__year=2026", ["NF-APR", "NF-FEB", "NF-REJ", "NF-VAL"]),
        ("?date__year=2026&date__month=3", ["NF-APR", "NF-REJ", "NF-VAL"]),
        ("?date__year=2026&date__month=3&date__day=3", ["NF-APR"]),
    ],
)
def test_changelist_filters(admin_client, march, query, expected):
    response = admin_client.get(CHANGELIST + query)
    assert response.status_code == 200
    assert codes(response) == expected


def test_changelist_columns(admin_client, march):
    response = admin_client.get(CHANGELIST + "?status=rejected", **EN)
    content = response.content.decode()
    for text in ["NF-REJ", "Ana Souza", "R$ 300.00", "03/04/2026", "Rejected", "0%", "R$ 0.00"]:
        assert text in content


def test_changelist_lists_newest_first(admin_client, march):
    response = admin_client.get(CHANGELIST)
    assert [p.code for p in response.context["cl"].result_list] == ["NF-REJ", "NF-APR", "NF-VAL", "NF-FEB"]


def test_month_filter_offers_the_latest_twelve_months_with_purchases(admin_client, make_purchase):
    reseller = ResellerFactory()
    for months_back in range(14):
        year, month = divmod(2026 * 12 + 2 - months_back, 12)
        make_purchase(reseller, "10.00", date(year, month + 1, 5), f"M{months_back}")
    # Another reseller's months are the same months, offered once.
    make_purchase(ResellerFactory(), "10.00", date(2026, 3, 6), "OTHER")
    make_purchase(ResellerFactory(), "10.00", date(2026, 2, 6), "OTHER")
    response = admin_client.get(CHANGELIST)
    month_filter = next(
        spec for spec in response.context["cl"].filter_specs if isinstance(spec, PurchaseMonthFilter)
    )
    offered = [value for value, _label in month_filter.lookup_choices]
    assert offered == [
        "2026-03", "2026-02", "2026-01", "2025-12", "2025-11", "2025-10",
        "2025-09", "2025-08", "2025-07", "2025-06", "2025-05", "2025-04",
    ]  # fmt: skip
    assert "?month=2026-03" in response.content.decode()
    labels = [label for _value, label in month_filter.lookup_choices]
    assert labels[:2] == ["Março de 2026", "Fevereiro de 2026"]


@pytest.mark.parametrize("month", ["2026-13", "garbage", "1999-12"])
def test_an_invalid_month_parameter_is_not_a_server_error(admin_client, march, month):
    response = admin_client.get(CHANGELIST, {"month": month})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_changelist_has_no_n_plus_one(admin_client, django_assert_max_num_queries, make_purchase):
    make_purchase(value="10.00", date=date(2026, 3, 1), code="FIRST")
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(CHANGELIST).status_code == 200
    for n in range(49):
        make_purchase(value="10.00", date=date(2026, 3 - n % 3, 1 + n % 20), code=f"NF-{n}")
    # session, user, the month filter's DISTINCT months (from the month
    # aggregates), the reviewer filter's staff, one COUNT (the full count is
    # off; then cached), the page (one query joining reseller and user).
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50
    assert len(one.captured_queries) <= 6


def test_the_changelist_never_counts_per_filter_option(admin_client, make_purchase):
    make_purchase(date=date(2026, 3, 1))
    with CaptureQueriesContext(connection) as plain:
        response = admin_client.get(CHANGELIST)
    assert "_facets" not in response.content.decode()  # no "show counts" toggle
    with CaptureQueriesContext(connection) as asked:
        assert admin_client.get(CHANGELIST + "?_facets=True").status_code == 200
    assert len(asked.captured_queries) <= len(plain.captured_queries)


# --- Search ---------------------------------------------------------------------


def test_search_by_code_and_email(admin_client, march):
    assert codes(admin_client.get(CHANGELIST, {"q": "nf-feb"})) == ["NF-FEB"]
    assert codes(admin_client.get(CHANGELIST, {"q": "bia@example.com"})) == ["NF-FEB"]
    assert codes(admin_client.get(CHANGELIST, {"q": "ana@"})) == ["NF-APR", "NF-REJ", "NF-VAL"]


def test_search_by_exact_cpf_in_either_format(admin_client, march):
    digits = march["bia"].cpf
    formatted = cpf_codec.format_cpf(digits)
    assert codes(admin_client.get(CHANGELIST, {"q": digits})) == ["NF-FEB"]
    assert codes(admin_client.get(CHANGELIST, {"q": formatted})) == ["NF-FEB"]
    assert codes(admin_client.get(CHANGELIST, {"q": f"  {formatted} "})) == ["NF-FEB"]


@pytest.mark.parametrize("partial", [lambda cpf: cpf[:9], lambda cpf: cpf_codec.format_cpf(cpf)[:11]])
def test_a_partial_cpf_finds_nothing(admin_client, march, partial):
    assert codes(admin_client.get(CHANGELIST, {"q": partial(march["bia"].cpf)})) == []


def test_the_cpf_search_never_reads_the_ciphertext(admin_client, march):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(CHANGELIST, {"q": march["bia"].cpf})
    conditions = " ".join(query["sql"].partition(" WHERE ")[2] for query in queries.captured_queries)
    assert "cpf_index" in conditions
    assert "cpf_encrypted" not in conditions


# --- Approve --------------------------------------------------------------------


def test_approve_action_changes_only_purchases_in_validation(admin_client, march, admin_user, make_purchase):
    other = make_purchase(march["bia"], "50.00", date(2026, 3, 5), "NF-OTHER")
    selected = [march["NF-VAL"], march["NF-APR"], march["NF-REJ"], march["NF-FEB"]]
    response = admin_client.post(CHANGELIST, action("approve_selected", selected, index=0), **EN)
    assert response.status_code == 302

    statuses = dict(Purchase.objects.values_list("code", "status"))
    assert statuses == {
        "NF-VAL": "approved",
        "NF-FEB": "approved",
        "NF-APR": "approved",
        "NF-REJ": "rejected",
        "NF-OTHER": "validating",
    }
    approved = Purchase.objects.get(pk=march["NF-VAL"].pk)
    assert approved.reviewed_by == admin_user
    assert approved.reviewed_at is not None
    other.refresh_from_db()
    assert other.reviewed_by is None
    assert sent_messages(response) == [
        (messages.SUCCESS, "2 purchases approved."),
        (messages.WARNING, "2 purchases were skipped: only purchases in validation can be reviewed."),
    ]


def test_approve_action_with_nothing_to_approve_only_warns(admin_client, march):
    response = admin_client.post(CHANGELIST, action("approve_selected", [march["NF-APR"]], index=0), **EN)
    assert [level for level, _text in sent_messages(response)] == [messages.WARNING]


@pytest.mark.parametrize(
    "codenames",
    [
        ["view_purchase"],
        # Changing a purchase is not reviewing it.
        ["view_purchase", "change_purchase", "add_purchase", "delete_purchase"],
    ],
    ids=["view", "view-change-add-delete"],
)
def test_review_actions_are_not_offered_without_the_review_permission(client, march, codenames):
    viewer_client(client, *codenames)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action this user may run
    for name in ["approve_selected", "reject_selected"]:
        client.post(CHANGELIST, action(name, [march["NF-VAL"]], index=0, apply="1", reason="Duplicate."))
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


def test_review_actions_are_offered_with_the_review_permission(client, march):
    viewer_client(client, "view_purchase", "review_purchase")
    response = client.get(CHANGELIST)
    choices = [name for name, _label in response.context["action_form"].fields["action"].choices]
    assert {"approve_selected", "reject_selected"} <= set(choices)
    client.post(CHANGELIST, action("approve_selected", [march["NF-VAL"]], index=0))
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.APPROVED


# --- Reject ---------------------------------------------------------------------


def test_reject_action_first_asks_for_the_reason(admin_client, march):
    selected = [march["NF-VAL"], march["NF-APR"]]
    response = admin_client.post(CHANGELIST, action("reject_selected", selected, index=0))
    assert response.status_code == 200
    assert "admin/purchases/purchase/bulk_review.html" in [t.name for t in response.templates]
    assert response.context["validating_count"] == 1
    assert response.context["skipped_count"] == 1
    content = response.content.decode()
    for purchase in selected:
        assert f'name="_selected_action" value="{purchase.pk}"' in content
    assert 'name="apply"' in content
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_action_without_a_reason_changes_nothing(admin_client, march, reason):
    data = action("reject_selected", [march["NF-VAL"]], apply="yes", reason=reason)
    response = admin_client.post(CHANGELIST, data)
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


def test_reject_action_with_a_reason_rejects_and_records_the_review(admin_client, march, admin_user):
    selected = [march["NF-VAL"], march["NF-APR"]]
    data = action("reject_selected", selected, apply="yes", reason="  Invoice does not match.  ")
    response = admin_client.post(CHANGELIST, data, **EN)
    assert response.status_code == 302

    rejected = Purchase.objects.get(pk=march["NF-VAL"].pk)
    assert rejected.status == Purchase.Status.REJECTED
    assert rejected.rejection_reason == "Invoice does not match."
    assert rejected.reviewed_by == admin_user
    assert rejected.reviewed_at is not None
    assert (rejected.cashback_percent, rejected.cashback_value) == (D("0.00"), D("0.00"))
    assert Purchase.objects.get(pk=march["NF-APR"].pk).status == Purchase.Status.APPROVED
    assert sent_messages(response) == [
        (messages.SUCCESS, "1 purchase rejected."),
        (messages.WARNING, "1 purchase was skipped: only purchases in validation can be reviewed."),
    ]


def test_rejecting_recalculates_the_cashback_of_the_month(admin_client, make_purchase):
    reseller = ResellerFactory()
    kept = make_purchase(reseller, "600.00", date(2026, 3, 1), "KEPT")
    dropped = make_purchase(reseller, "500.00", date(2026, 3, 2), "DROPPED")
    kept.refresh_from_db()
    assert (kept.cashback_percent, kept.cashback_value) == (D("15.00"), D("90.00"))  # month total 1100.00

    data = action("reject_selected", [dropped], apply="yes", reason="Duplicate invoice.")
    assert admin_client.post(CHANGELIST, data).status_code == 302

    kept.refresh_from_db()
    dropped.refresh_from_db()
    assert (kept.cashback_percent, kept.cashback_value) == (D("10.00"), D("60.00"))  # total now 600.00
    assert (dropped.cashback_percent, dropped.cashback_value) == (D("0.00"), D("0.00"))
    assert reseller.monthly_cashback.get().total_value == D("600.00")


def test_reject_confirmation_keeps_the_selection_of_select_across(admin_client, march):
    # "Select all" sends select_across with the page's checked ids; the page
    # posts both back (the list's filters are in its URL), not every id.
    url = CHANGELIST + "?month=2026-03"
    response = admin_client.post(
        url,
        {
            "action": "reject_selected",
            "_selected_action": [march["NF-VAL"].pk],
            "select_across": "1",
            "index": 0,
        },
    )
    assert (response.context["selected_count"], response.context["validating_count"]) == (3, 1)
    content = response.content.decode()
    assert content.count('name="_selected_action"') == 1
    assert 'name="select_across" value="1"' in content

    response = admin_client.post(
        url,
        {
            "action": "reject_selected",
            "_selected_action": [march["NF-VAL"].pk],
            "select_across": "1",
            "apply": "yes",
            "reason": "Duplicate.",
        },
        **EN,
    )
    assert response.status_code == 302
    assert sent_messages(response) == [
        (messages.SUCCESS, "1 purchase rejected."),
        (messages.WARNING, "2 purchases were skipped: only purchases in validation can be reviewed."),
    ]
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.REJECTED
    assert Purchase.objects.get(pk=march["NF-FEB"].pk).status == Purchase.Status.VALIDATING


# --- Change page ----------------------------------------------------------------


@pytest.fixture
def with_items(make_purchase):
    category = Category.objects.create(name="Perfumes", slug="perfumes")
    product = Product.objects.create(sku="PERF-1", name="Eau de Rose", category=category, price=D("45.50"))
    return make_purchase(
        date=date(2026, 3, 10), code="NF-ITEMS", items=[ItemInput(product=product, quantity=2)]
    )


def test_change_page_shows_the_formatted_cpf_and_never_the_ciphertext(admin_client, with_items):
    reseller = with_items.reseller
    response = admin_client.get(f"{CHANGELIST}{with_items.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert reseller.cpf_formatted in content
    assert reseller.cpf_encrypted not in content
    assert reseller.cpf_index not in content


def test_change_page_leaves_the_cpf_out_without_its_permission(client, with_items):
    response = viewer_client(client, "view_purchase").get(f"{CHANGELIST}{with_items.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "NF-ITEMS" in content
    assert with_items.reseller.cpf_formatted not in content
    assert with_items.reseller.cpf not in content


def test_change_page_shows_the_cpf_with_its_permission(client, with_items):
    client.force_login(StaffFactory(permissions=["purchases.view_purchase", "resellers.view_reseller_cpf"]))
    response = client.get(f"{CHANGELIST}{with_items.pk}/change/")
    assert with_items.reseller.cpf_formatted in response.content.decode()


def test_change_page_is_read_only_with_the_items(admin_client, with_items):
    response = admin_client.get(f"{CHANGELIST}{with_items.pk}/change/", **EN)
    assert not response.context["has_change_permission"]
    content = response.content.decode()
    for text in ["Eau de Rose", "45.50", "91.00", "NF-ITEMS"]:
        assert text in content
    (inline,) = response.context["inline_admin_formsets"]
    assert not inline.has_add_permission
    assert not inline.has_delete_permission
    assert not inline.has_change_permission
    assert 'name="status"' not in content


def test_status_and_audit_cannot_be_changed_through_the_form(admin_client, with_items, admin_user):
    url = f"{CHANGELIST}{with_items.pk}/change/"
    response = admin_client.post(
        url, {"status": "approved", "reviewed_by": admin_user.pk, "value": "1.00", "rejection_reason": "x"}
    )
    assert response.status_code == 403
    with_items.refresh_from_db()
    assert with_items.status == Purchase.Status.VALIDATING
    assert with_items.reviewed_by is None
    assert with_items.value == D("91.00")


def test_purchases_are_neither_added_nor_deleted_in_the_admin(admin_client, with_items):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}{with_items.pk}/delete/", {"post": "yes"}).status_code == 403
    choices = admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert {name for name, _label in choices} == {"", "approve_selected", "reject_selected"}
    admin_client.post(CHANGELIST, action("delete_selected", [with_items], index=0, post="yes"))
    assert Purchase.objects.filter(pk=with_items.pk).exists()


# --- Access ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "reseller", "user"])
def test_only_staff_reach_the_purchases_admin(client, with_items, who):
    if who == "reseller":
        client.force_login(with_items.reseller.user)
    elif who == "user":
        client.force_login(UserFactory())
    for url in [CHANGELIST, f"{CHANGELIST}{with_items.pk}/change/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# --- Money and dates --------------------------------------------------------------


@pytest.fixture
def big(make_purchase):
    reseller = ResellerFactory(user__full_name="Carla Dias")
    return make_purchase(reseller, "1202.14", date(2026, 3, 5), "NF-BIG")


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("pt-br", ["R$ 1.202,14", "05/03/2026", "15%", "R$ 180,32"]),
        ("en", ["R$ 1,202.14", "03/05/2026", "15%", "R$ 180.32"]),
    ],
)
def test_changelist_shows_money_and_dates_in_the_language_format(admin_client, big, language, texts):
    response = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE=language)
    row = re.search(r"<tr>.*?NF-BIG.*?</tr>", response.content.decode(), re.S).group(0)
    for text in texts:
        assert text in row


def test_changelist_has_short_headers_and_right_aligned_money(admin_client, big):
    response = admin_client.get(CHANGELIST)
    content = response.content.decode()
    table = content[content.index('<table id="result_list">') :]
    table_head = table[: table.index("</thead>")]
    headers = [
        re.sub(r"<[^>]+>|\s+", " ", header).strip()
        for header in re.findall(r'<th scope="col".*?</th>', table_head, re.S)
    ]
    assert [h for h in headers if h] == [
        "Código",
        "Revendedor",
        "Valor",
        "Data",
        "Status",
        "Cashback",
    ]
    assert 'class="sortable column-value_display"' in content
    assert 'class="sortable column-date_display' in content
    assert "admin/purchases/purchase.css" in content
    # The cashback's value over its percent, in one column.
    assert (
        '<td class="field-cashback_display">R$ 180,32<br><span class="purchase-percent">15%</span></td>'
        in content
    )


def test_change_page_shows_money_in_the_language_format(admin_client, with_items):
    content = admin_client.get(f"{CHANGELIST}{with_items.pk}/change/").content.decode()
    for text in ["R$ 91,00", "R$ 45,50", "10%", "R$ 9,10"]:
        assert text in content


def test_money_columns_sort_by_the_value(admin_client, make_purchase):
    for code, value in [("A", "5.00"), ("B", "1000.00"), ("C", "20.00")]:
        make_purchase(value=value, date=date(2026, 3, 1), code=code)
    cl = admin_client.get(CHANGELIST).context["cl"]
    value_column = cl.list_display.index("value_display")
    response = admin_client.get(CHANGELIST, {"o": f"-{value_column}"})
    assert [p.code for p in response.context["cl"].result_list] == ["B", "C", "A"]


# --- Approve and reject on the purchase page ---------------------------------------


def change_url(purchase):
    return f"{CHANGELIST}{purchase.pk}/change/"


def approve_url(purchase):
    return f"{CHANGELIST}{purchase.pk}/approve/"


def reject_url(purchase):
    return f"{CHANGELIST}{purchase.pk}/reject/"


def test_change_page_of_a_purchase_in_validation_has_the_review_buttons(admin_client, march):
    response = admin_client.get(change_url(march["NF-VAL"]))
    assert response.context["can_review"]
    content = response.content.decode()
    assert f'formaction="{approve_url(march["NF-VAL"])}"' in content
    assert f'href="{reject_url(march["NF-VAL"])}"' in content
    assert 'name="csrfmiddlewaretoken"' in content


@pytest.mark.parametrize("code", ["NF-APR", "NF-REJ"])
def test_change_page_of_a_reviewed_purchase_has_no_review_buttons(admin_client, march, code):
    response = admin_client.get(change_url(march[code]))
    assert not response.context["can_review"]
    assert "/approve/" not in response.content.decode()
    assert "/reject/" not in response.content.decode()


@pytest.mark.parametrize("codenames", [["view_purchase"], ["view_purchase", "change_purchase"]])
def test_change_page_has_no_review_buttons_without_the_review_permission(client, march, codenames):
    response = viewer_client(client, *codenames).get(change_url(march["NF-VAL"]))
    assert response.status_code == 200
    assert not response.context["can_review"]
    assert "/approve/" not in response.content.decode()
    assert "/reject/" not in response.content.decode()


def test_change_page_has_review_buttons_with_the_review_permission(client, march):
    response = viewer_client(client, "view_purchase", "review_purchase").get(change_url(march["NF-VAL"]))
    assert response.context["can_review"]
    assert approve_url(march["NF-VAL"]) in response.content.decode()


def test_approve_button_approves_and_returns_to_the_list(admin_client, march, admin_user):
    purchase = march["NF-VAL"]
    response = admin_client.post(approve_url(purchase), **EN)
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.APPROVED
    assert purchase.reviewed_by == admin_user
    assert sent_messages(response) == [(messages.SUCCESS, "Purchase NF-VAL approved.")]


def test_approve_button_message_is_in_portuguese(admin_client, march):
    response = admin_client.post(approve_url(march["NF-VAL"]))
    assert sent_messages(response) == [(messages.SUCCESS, "Compra NF-VAL aprovada.")]


@pytest.mark.parametrize("code", ["NF-APR", "NF-REJ"])
def test_approving_a_reviewed_purchase_is_an_error_message_not_a_500(admin_client, march, code):
    response = admin_client.post(approve_url(march[code]), **EN)
    assert response.status_code == 302
    assert response["Location"] == change_url(march[code])
    assert sent_messages(response) == [(messages.ERROR, str(ALREADY_REVIEWED_MESSAGE))]
    expected = {"NF-APR": Purchase.Status.APPROVED, "NF-REJ": Purchase.Status.REJECTED}[code]
    assert Purchase.objects.get(pk=march[code].pk).status == expected


def test_a_get_never_approves(admin_client, march):
    response = admin_client.get(approve_url(march["NF-VAL"]))
    assert response.status_code == 405
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


def test_approving_needs_the_csrf_token(admin_user, march):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(approve_url(march["NF-VAL"])).status_code == 403
    assert client.post(reject_url(march["NF-VAL"]), {"reason": "Duplicate."}).status_code == 403
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


def test_the_page_buttons_post_with_the_pages_csrf_token(admin_user, march):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    page = client.get(change_url(march["NF-VAL"])).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(approve_url(march["NF-VAL"]), {"csrfmiddlewaretoken": token}).status_code == 302
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.APPROVED


@pytest.mark.parametrize(
    "codenames",
    [["view_purchase"], ["view_purchase", "change_purchase"], ["review_purchase"]],
    ids=["view", "view-change", "review-without-view"],
)
def test_reviewing_on_the_page_needs_the_view_and_review_permissions(client, march, codenames):
    client = viewer_client(client, *codenames)
    assert client.post(approve_url(march["NF-VAL"])).status_code == 403
    assert client.get(reject_url(march["NF-VAL"])).status_code == 403
    assert client.post(reject_url(march["NF-VAL"]), {"reason": "Duplicate."}).status_code == 403
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


@pytest.mark.parametrize("who", ["anonymous", "reseller"])
def test_reviewing_on_the_page_needs_a_staff_login(client, march, who):
    if who == "reseller":
        client.force_login(march["ana"].user)
    for url in [approve_url(march["NF-VAL"]), reject_url(march["NF-VAL"])]:
        response = client.post(url, {"reason": "Duplicate."})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


@pytest.mark.parametrize("view", ["approve", "reject"])
def test_reviewing_an_unknown_purchase_returns_to_the_admin_home(admin_client, view):
    response = admin_client.post(f"{CHANGELIST}999999/{view}/", {"reason": "x"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_reject_button_asks_for_the_reason(admin_client, march):
    purchase = march["NF-VAL"]
    response = admin_client.get(reject_url(purchase))
    assert response.status_code == 200
    assert "admin/purchases/purchase/reject_reason.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "NF-VAL" in content
    assert "R$ 100,00" in content
    assert 'name="reason"' in content
    assert 'name="action"' not in content  # not the bulk action's page
    assert Purchase.objects.get(pk=purchase.pk).status == Purchase.Status.VALIDATING


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_rejecting_on_the_page_needs_a_bounded_reason(admin_client, march, reason):
    response = admin_client.post(reject_url(march["NF-VAL"]), {"reason": reason})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


def test_rejecting_on_the_page_records_the_reason_and_returns_to_the_list(admin_client, march, admin_user):
    purchase = march["NF-VAL"]
    response = admin_client.post(reject_url(purchase), {"reason": "  Invoice does not match. "}, **EN)
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REJECTED
    assert purchase.rejection_reason == "Invoice does not match."
    assert purchase.reviewed_by == admin_user
    assert sent_messages(response) == [(messages.SUCCESS, "Purchase NF-VAL rejected.")]


@pytest.mark.parametrize("method", ["get", "post"])
def test_rejecting_a_reviewed_purchase_is_an_error_message(admin_client, march, method):
    purchase = march["NF-APR"]
    response = getattr(admin_client, method)(reject_url(purchase), {"reason": "Late."}, **EN)
    assert response.status_code == 302
    assert response["Location"] == change_url(purchase)
    assert sent_messages(response) == [(messages.ERROR, str(ALREADY_REVIEWED_MESSAGE))]
    assert Purchase.objects.get(pk=purchase.pk).status == Purchase.Status.APPROVED


def test_a_purchase_reviewed_meanwhile_is_an_error_message(admin_client, march, admin_user, monkeypatch):
    # Another reviewer approves it between the page's check and the service's lock.
    from purchases import admin as purchases_admin

    real_reject = purchases_admin.purchase_reject

    def reviewed_meanwhile(*, purchase, reviewer, reason):
        purchase_approve(purchase=purchase, reviewer=admin_user)
        return real_reject(purchase=purchase, reviewer=reviewer, reason=reason)

    monkeypatch.setattr(purchases_admin, "purchase_reject", reviewed_meanwhile)
    response = admin_client.post(reject_url(march["NF-VAL"]), {"reason": "Late."}, **EN)
    assert response.status_code == 302
    assert sent_messages(response) == [(messages.ERROR, str(ALREADY_REVIEWED_MESSAGE))]
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.APPROVED


# --- Reviewing keeps its place -------------------------------------------------------

FILTERS = "status=validating&month=2026-03"
PRESERVED = "?" + urlencode({"_changelist_filters": FILTERS})


def test_the_review_buttons_carry_the_lists_filters(admin_client, march):
    purchase = march["NF-VAL"]
    content = admin_client.get(change_url(purchase) + PRESERVED).content.decode()
    escaped = PRESERVED.replace("&", "&amp;")
    assert f'formaction="{approve_url(purchase)}{escaped}"' in content
    assert f'href="{reject_url(purchase)}{escaped}"' in content
    assert f'href="{CHANGELIST}?{FILTERS.replace("&", "&amp;")}" class="closelink"' in content
    assert 'name="_next_pending"' in content


def test_the_reject_page_carries_the_lists_filters(admin_client, march):
    content = admin_client.get(reject_url(march["NF-VAL"]) + PRESERVED).content.decode()
    assert f'href="{CHANGELIST}?{FILTERS.replace("&", "&amp;")}"' in content
    assert 'name="_next_pending"' in content


@pytest.mark.parametrize("review", ["approve", "reject"])
def test_after_a_review_the_list_keeps_its_filters(admin_client, march, review):
    purchase = march["NF-VAL"]
    url = {"approve": approve_url, "reject": reject_url}[review](purchase)
    response = admin_client.post(url + PRESERVED, {"reason": "Duplicate."})
    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}?{FILTERS}"
    assert Purchase.objects.get(pk=purchase.pk).status != Purchase.Status.VALIDATING


@pytest.fixture
def queue(make_purchase):
    """Four purchases in validation in March and one in February; the list
    is newest first."""
    reseller = ResellerFactory()
    return {
        code: make_purchase(reseller, value, day, code)
        for code, value, day in [
            ("Q-1", "40.00", date(2026, 3, 20)),
            ("Q-2", "10.00", date(2026, 3, 15)),
            ("Q-3", "30.00", date(2026, 3, 10)),
            ("Q-4", "20.00", date(2026, 3, 5)),
            ("Q-FEB", "50.00", date(2026, 2, 5)),
        ]
    }


def next_pending(client, purchase, filters, review="approve"):
    url = {"approve": approve_url, "reject": reject_url}[review](purchase)
    query = "?" + urlencode({"_changelist_filters": filters})
    return client.post(url + query, {"_next_pending": "1", "reason": "Duplicate."})


@pytest.mark.parametrize("review", ["approve", "reject"])
def test_next_pending_opens_the_following_purchase_of_the_list(admin_client, queue, review):
    response = next_pending(admin_client, queue["Q-2"], "month=2026-03", review)
    assert response.status_code == 302
    query = "?" + urlencode({"_changelist_filters": "month=2026-03"})
    assert response["Location"] == change_url(queue["Q-3"]) + query


def test_next_pending_follows_the_lists_sort(admin_client, queue):
    # Sorted by value (o=3: the value column), Q-4 (20.00) follows Q-2 (10.00).
    response = next_pending(admin_client, queue["Q-2"], "month=2026-03&o=3")
    assert response["Location"].startswith(change_url(queue["Q-4"]))


def test_next_pending_skips_reviewed_purchases_and_wraps_to_the_top(admin_client, queue, admin_user):
    purchase_approve(purchase=queue["Q-4"], reviewer=admin_user)
    response = next_pending(admin_client, queue["Q-3"], "month=2026-03")
    assert response["Location"].startswith(change_url(queue["Q-1"]))


def test_next_pending_with_none_left_returns_to_the_list_with_a_message(admin_client, queue):
    response = next_pending(admin_client, queue["Q-FEB"], "month=2026-02")
    assert response["Location"] == f"{CHANGELIST}?month=2026-02"
    assert sent_messages(response) == [
        (messages.SUCCESS, "Compra Q-FEB aprovada."),
        (messages.INFO, "Não resta nenhuma compra em validação nesta lista."),
    ]


def test_next_pending_with_bad_filters_returns_to_the_list(admin_client, queue):
    response = next_pending(admin_client, queue["Q-1"], "month=bogus")
    assert response.status_code == 302
    assert response["Location"].startswith(CHANGELIST + "?")
    assert Purchase.objects.get(pk=queue["Q-1"].pk).status == Purchase.Status.APPROVED


def history(purchase):
    return list(
        LogEntry.objects.filter(object_id=str(purchase.pk)).values_list(
            "user__email", "action_flag", "change_message"
        )
    )


def test_reviews_on_the_page_are_in_the_admin_history(admin_client, march, admin_user):
    admin_client.post(approve_url(march["NF-VAL"]), **EN)
    assert history(march["NF-VAL"]) == [(admin_user.email, CHANGE, "Aprovada")]
    # The fixture's reviews went through the services too.
    assert history(march["NF-REJ"]) == [(admin_user.email, CHANGE, "Reprovada: Invoice missing.")]
    page = admin_client.get(f"{change_url(march['NF-VAL']).removesuffix('change/')}history/")
    assert "Aprovada" in page.content.decode()
    home = admin_client.get("/admin/")
    assert "NF-VAL" in home.content.decode()  # "Ações recentes"


def test_bulk_reviews_are_in_the_admin_history(admin_client, queue, admin_user):
    admin_client.post(CHANGELIST, action("approve_selected", [queue["Q-1"], queue["Q-2"]]))
    admin_client.post(CHANGELIST, action("reject_selected", [queue["Q-3"]], apply="yes", reason="Sem nota."))
    assert history(queue["Q-1"]) == history(queue["Q-2"]) == [(admin_user.email, CHANGE, "Aprovada")]
    assert history(queue["Q-3"]) == [(admin_user.email, CHANGE, "Reprovada: Sem nota.")]
    assert history(queue["Q-4"]) == []


def test_a_refused_review_leaves_no_history(admin_client, march):
    admin_client.post(approve_url(march["NF-APR"]))
    assert len(history(march["NF-APR"])) == 1  # the fixture's approval only


# --- Deep pages ------------------------------------------------------------------------


@pytest.fixture
def shallow_bound(monkeypatch, make_purchase):
    """Ten purchases, pages of two, pages served to six rows deep (three
    pages) and read ids-first from the second row on: the shape of a million
    rows, 100 a page, bounded at 10,000, in a few rows."""
    from core import pagination
    from purchases.admin import PurchaseAdmin

    monkeypatch.setattr(PurchaseAdmin, "list_per_page", 2)
    monkeypatch.setattr(pagination.LargeTablePagination, "max_rows", 6)
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_FROM", 2)
    reseller = ResellerFactory()
    return [make_purchase(reseller, "10.00", date(2026, 3, day), f"P-{day:02}") for day in range(1, 11)]


def test_the_paginator_offers_no_page_past_the_bound(admin_client, shallow_bound):
    response = admin_client.get(CHANGELIST)
    changelist = response.context["cl"]
    assert changelist.result_count == 7  # counted to one row past the bound, no further
    assert changelist.count_over_bound
    assert changelist.paginator.num_pages == 3
    content = response.content.decode()
    assert 'href="?p=3"' in content
    assert 'href="?p=4"' not in content
    assert 'href="?p=5"' not in content


@pytest.mark.parametrize("page", ["4", "5", "10000"])
def test_a_page_past_the_bound_asks_to_narrow_the_filters(admin_client, shallow_bound, page):
    response = admin_client.get(CHANGELIST, {"p": page}, **EN)
    assert response.status_code == 200
    assert response.context["cl"].page_num == 3
    assert codes(response) == ["P-05", "P-06"]  # the last page offered
    assert sent_messages(response) == [
        (
            messages.WARNING,
            "Pages beyond the first 6 rows are not served: narrow the filters (e.g. month or dates).",
        )
    ]


def test_a_page_past_the_bound_of_a_short_list_shows_its_last_page(admin_client, shallow_bound):
    response = admin_client.get(CHANGELIST, {"p": "9", "q": "P-1"})
    assert response.status_code == 200
    assert codes(response) == ["P-10"]


def test_a_deep_page_reads_the_ids_first_then_the_rows(admin_client, shallow_bound):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"p": "2"})
    assert codes(response) == ["P-07", "P-08"]
    selects = [q["sql"] for q in queries.captured_queries if '"purchases_purchase"' in q["sql"]]
    ids_first = [sql for sql in selects if "OFFSET" in sql]
    assert len(ids_first) == 1
    assert ids_first[0].startswith(
        'SELECT "purchases_purchase"."id" AS "pk" FROM "purchases_purchase" ORDER BY'
    )
    assert "JOIN" not in ids_first[0]
    assert any(" IN (" in sql and "JOIN" in sql for sql in selects)


def test_a_first_page_is_read_in_one_query(admin_client, shallow_bound):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(CHANGELIST)
    selects = [q["sql"] for q in queries.captured_queries if '"purchases_purchase"."id" IN (' in q["sql"]]
    assert selects == []


# --- Date-range filter --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"date__range__gte": "2026-03-03", "date__range__lte": "2026-03-04"}, ["NF-APR", "NF-REJ"]),
        ({"date__range__gte": "03/03/2026", "date__range__lte": "04/03/2026"}, ["NF-APR", "NF-REJ"]),
        ({"date__range__gte": "2026-03-03"}, ["NF-APR", "NF-REJ"]),
        ({"date__range__lte": "2026-03-02"}, ["NF-FEB", "NF-VAL"]),
        ({"date__range__gte": "2026-03-02", "date__range__lte": "2026-03-02"}, ["NF-VAL"]),
        ({"date__range__gte": "2026-02-01", "month": "2026-03", "status": "validating"}, ["NF-VAL"]),
        ({"date__range__gte": "", "date__range__lte": ""}, ["NF-APR", "NF-FEB", "NF-REJ", "NF-VAL"]),
        (
            {"date__range__gte": "01/01/0001", "date__range__lte": "31/12/9999"},
            ["NF-APR", "NF-FEB", "NF-REJ", "NF-VAL"],
        ),
    ],
)
def test_date_range_filter(admin_client, march, query, expected):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert codes(response) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"date__range__gte": "yesterday"},
        {"date__range__gte": "2026-02-30"},
        {"date__range__gte": "0000-01-01"},
        {"date__range__lte": "01/01/0000"},
        {"date__range__gte": "99999-01-01"},
        {"date__range__gte": "\u0662\u0660\u0662\u0666-\u0660\u0663-\u0660\u0661"},  # Arabic-Indic digits
        {"date__range__gte": "\uff12\uff10\uff12\uff16-\uff10\uff13-\uff10\uff11"},  # full-width digits
        {"date__range__gte": "x" * 5000},
        {"date__range__gte": "2026-03-04", "date__range__lte": "2026-03-02"},  # reversed
    ],
)
def test_a_bad_date_range_matches_nothing_and_says_why(admin_client, march, query):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert codes(response) == []
    assert 'class="errorlist' in response.content.decode()


def test_a_reversed_date_range_names_the_problem(admin_client, march):
    response = admin_client.get(
        CHANGELIST, {"date__range__gte": "2026-03-04", "date__range__lte": "2026-03-02"}, **EN
    )
    assert str(DATE_RANGE_REVERSED_MESSAGE) in response.content.decode()


def test_a_nul_in_the_date_range_is_not_a_server_error(admin_client, march):
    response = admin_client.get(CHANGELIST, {"date__range__gte": "2026\x00-03-01"})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_date_range_filter_is_in_portuguese_and_loads_only_local_assets(admin_client, march):
    content = admin_client.get(CHANGELIST).content.decode()
    for text in ["Por data", 'placeholder="Data inicial"', 'placeholder="Data final"', 'value="Pesquisar"']:
        assert text in content
    assert not re.search(r'(?:src|href)="(?:https?:)?//', content)


def test_date_range_filter_keeps_the_query_cheap(admin_client, march, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as plain:
        admin_client.get(CHANGELIST)
    with django_assert_max_num_queries(len(plain.captured_queries)):
        admin_client.get(CHANGELIST, {"date__range__gte": "2026-03-01", "date__range__lte": "2026-03-31"})


# --- Value-range and reviewer filters ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"value__range__gte": "200", "value__range__lte": "300"}, ["NF-APR", "NF-REJ"]),
        ({"value__range__gte": "200,00", "value__range__lte": "300,00"}, ["NF-APR", "NF-REJ"]),
        ({"value__range__gte": "199,99", "value__range__lte": "200,01"}, ["NF-APR"]),
        ({"value__range__gte": "300.00"}, ["NF-FEB", "NF-REJ"]),
        ({"value__range__lte": "1.000,00"}, ["NF-APR", "NF-FEB", "NF-REJ", "NF-VAL"]),
        ({"value__range__lte": "100"}, ["NF-VAL"]),
        ({"value__range__gte": "", "value__range__lte": ""}, ["NF-APR", "NF-FEB", "NF-REJ", "NF-VAL"]),
        ({"value__range__gte": "100", "status": "validating"}, ["NF-FEB", "NF-VAL"]),
    ],
)
def test_value_range_filter(admin_client, march, query, expected):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert codes(response) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"value__range__gte": "abc"},
        {"value__range__gte": "-5"},
        {"value__range__lte": "10;5"},
        {"value__range__gte": "10,123"},
        {"value__range__gte": "300", "value__range__lte": "200"},
    ],
)
def test_a_bad_value_range_matches_nothing_and_says_why(admin_client, march, query):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert codes(response) == []
    assert 'class="errorlist' in response.content.decode()


def test_a_reversed_value_range_names_the_problem(admin_client, march):
    response = admin_client.get(CHANGELIST, {"value__range__gte": "300", "value__range__lte": "200"})
    content = response.content.decode()
    assert "O valor mínimo não pode ser maior que o máximo." in content
    assert 'placeholder="Mínimo"' in content
    assert 'placeholder="Máximo"' in content


@pytest.fixture
def reviewers(march, admin_user):
    carla = StaffFactory(full_name="Carla Revisora", permissions=["purchases.review_purchase"])
    purchase_approve(purchase=march["NF-FEB"], reviewer=carla)
    UserFactory(full_name="Zé Revendedor")  # not staff: never offered
    return {"admin": admin_user, "carla": carla}


def test_reviewer_filter_offers_the_staff(admin_client, reviewers):
    response = admin_client.get(CHANGELIST)
    spec = next(
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "reviewer"
    )
    offered = dict(spec.lookup_choices)
    assert offered[str(reviewers["carla"].pk)] == "Carla Revisora"
    assert str(reviewers["admin"].pk) in offered
    assert "Zé Revendedor" not in offered.values()
    assert "Por revisor" in response.content.decode()


def test_reviewer_filter_lists_their_reviews(admin_client, reviewers):
    by_admin = admin_client.get(CHANGELIST, {"reviewer": reviewers["admin"].pk})
    assert codes(by_admin) == ["NF-APR", "NF-REJ"]
    by_carla = admin_client.get(CHANGELIST, {"reviewer": reviewers["carla"].pk, "status": "approved"})
    assert codes(by_carla) == ["NF-FEB"]


@pytest.mark.parametrize("value", ["abc", "1x", "\u0661"])
def test_a_bad_reviewer_is_not_a_server_error(admin_client, reviewers, value):
    response = admin_client.get(CHANGELIST, {"reviewer": value})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_reviewer_filter_never_reads_the_purchases_for_its_choices(admin_client, reviewers):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(CHANGELIST)
    distinct = [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    assert not any('"purchases_purchase"' in sql and "reviewed_by" in sql for sql in distinct)


# --- CSV export (a background job) ---------------------------------------------------

EXPORT = CHANGELIST + "export/"


@pytest.fixture
def export(admin_client, django_capture_on_commit_callbacks):
    """Start the export of the changelist for ``query`` in ``dialect`` from
    its page (its task runs once the request commits) and return its job."""

    def run(query=None, dialect="pt-BR", client=None):
        url = EXPORT + (f"?{urlencode(query, doseq=True)}" if query else "")
        with django_capture_on_commit_callbacks(execute=True):
            response = (client or admin_client).post(url, {"dialect": dialect})
        assert response.status_code == 302, response.content
        job = Job.objects.get()
        assert response["Location"] == f"/admin/core/job/{job.pk}/change/"
        job.refresh_from_db()
        return job

    return run


def read_job(job) -> list[list[str]]:
    with storages["jobs"].open(job.file, "rb") as stored:
        text = stored.read().decode("utf-8")
    if job.params["dialect"] == "pt-BR":
        assert text.startswith("\ufeff")
        return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    return list(csv.reader(io.StringIO(text)))


def test_export_page_asks_for_the_format_and_starts_nothing(admin_client, march):
    response = admin_client.get(EXPORT, {"month": "2026-03", "status__exact": "validating", "q": "ana"})
    assert response.status_code == 200
    content = response.content.decode()
    assert '<input type="radio" name="dialect" value="pt-BR"' in content
    assert re.search(r'value="pt-BR"[^>]*checked', content)  # the default in the back office
    assert "Planilha brasileira" in content
    assert response.context["filters"] == ["Status: Em validação", "Mês: Março de 2026", "Pesquisar: ana"]
    assert 'href="/admin/purchases/purchase/?month=2026-03&amp;q=ana&amp;status__exact=validating"' in content
    assert not Job.objects.exists()


def test_export_starts_a_job_whose_page_offers_the_file(admin_client, march, export):
    job = export({"month": "2026-03"})
    assert job.kind == Job.Kind.PURCHASE_EXPORT
    assert job.status == Job.Status.SUCCEEDED
    assert (job.done, job.total) == (3, 3)
    assert job.description == "Exportação de compras (CSV pt-BR): Mês: Março de 2026"
    page = admin_client.get(f"/admin/core/job/{job.pk}/change/")
    content = page.content.decode()
    assert "3 compras exportadas (CSV pt-BR" in content
    link = re.search(r'href="(/admin/core/job/[^"]+/download/\?token=[^"]+)"', content).group(1)
    download = admin_client.get(link.replace("&amp;", "&"))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv"


def test_export_started_says_so(admin_client, march, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(EXPORT, {"dialect": "pt-BR"}, follow=True)
    assert (
        messages.SUCCESS,
        "A exportação começou: o arquivo aparece nesta página assim que for escrito.",
    ) in [(message.level, message.message) for message in response.context["messages"]]


def test_export_is_a_brazilian_spreadsheet_by_default(admin_client, big, export):
    job = export()
    header, row = read_job(job)
    assert header[:4] == ["Id", "Código", "Data", "Valor"]
    assert row[2:7] == ["05/03/2026", "1202,14", "Em validação", "15,00", "180,32"]
    assert job.file == f"exports/compras-2026-03-20-{job.pk}.csv"


def test_export_in_the_plain_dialect(admin_client, march, export):
    _header, *rows = read_job(export({"month": "2026-03"}, dialect="plain", client=admin_client))
    apr = march["NF-APR"]
    apr.refresh_from_db()
    assert rows[1] == [
        str(apr.pk), "NF-APR", "2026-03-03", "200.00", "Aprovado", "10.00", "20.00",
        str(march["ana"].pk), "Ana Souza", "ana@example.com",
        "", "admin@example.com", timezone.localtime(apr.reviewed_at).isoformat(), "",
    ]  # fmt: skip
    # The list's order: newest first.
    assert [row[1] for row in rows] == ["NF-REJ", "NF-APR", "NF-VAL"]


def test_export_says_who_rejected_and_why(admin_client, march, export):
    _header, *rows = read_job(export({"status": "rejected"}))
    (row,) = rows
    assert row[1] == "NF-REJ"
    assert row[11:] == ["admin@example.com", "20/03/2026 09:00:00", "Invoice missing."]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": "validating"},
        {"month": "2026-03"},
        {"q": "ana@"},
        {"q": "Bia"},
        {"date__range__gte": "2026-03-03", "date__range__lte": "2026-03-31"},
        {"date__range__gte": "03/03/2026"},
        {"date__range__gte": "not a date"},
        {"value__range__gte": "200,00", "value__range__lte": "300"},
        {"value__range__gte": "300", "value__range__lte": "200"},
        {"o": "4"},
        {"o": "-4.3"},
        {"month": "2026-03", "o": "3", "status": "validating"},
    ],
)
def test_export_has_the_rows_of_the_changelist_in_its_order(admin_client, march, export, query):
    listed = admin_client.get(CHANGELIST, query).context["cl"]
    _header, *rows = read_job(export(query))
    assert [row[1] for row in rows] == list(listed.queryset.values_list("code", flat=True))


def test_export_follows_the_reviewer_filter(admin_client, reviewers, export):
    _header, *rows = read_job(export({"reviewer": reviewers["carla"].pk}))
    assert [(row[1], row[10]) for row in rows] == [("NF-FEB", "Carla Revisora")]


def test_export_of_one_resellers_purchases(admin_client, march, export):
    job = export({"reseller__id__exact": march["bia"].pk})
    _header, *rows = read_job(job)
    assert [row[1] for row in rows] == ["NF-FEB"]
    assert job.description.endswith(f"Id do revendedor: {march['bia'].pk}")


def test_export_searched_by_cpf_never_stores_the_cpf(admin_client, march, export):
    ana = march["ana"]
    job = export({"q": ana.cpf_formatted})
    _header, *rows = read_job(job)
    assert sorted(row[1] for row in rows) == ["NF-APR", "NF-REJ", "NF-VAL"]
    stored = str(Job.objects.filter(pk=job.pk).values_list("params", "description", "result").get())
    assert ana.cpf not in stored
    assert ana.cpf_formatted not in stored
    assert job.description.endswith("Pesquisar: CPF")
    assert cpf_codec.decrypt(job.params["search"]) == ana.cpf_formatted


def test_export_never_contains_a_cpf(admin_client, march, export):
    job = export(dialect="plain")
    header, *rows = read_job(job)
    assert not any("cpf" in title.lower() for title in header)
    text = "\n".join(",".join(row) for row in rows)
    for reseller in [march["ana"], march["bia"]]:
        assert reseller.cpf not in text
        assert reseller.cpf_formatted not in text
        assert reseller.cpf_encrypted not in text


@pytest.mark.parametrize("dialect", ["plain", "pt-BR"])
def test_export_neutralises_spreadsheet_formulas(admin_client, make_purchase, export, dialect):
    reseller = ResellerFactory(user__full_name='=HYPERLINK("http://x")', user__email="@evil@example.com")
    make_purchase(reseller, "10.00", date(2026, 3, 1), "-1-1")
    make_purchase(reseller, "10.00", date(2026, 3, 2), "NF-PLAIN")
    _header, *rows = read_job(export(dialect=dialect))
    by_code = {row[1]: row for row in rows}
    assert set(by_code) == {"'-1-1", "NF-PLAIN"}
    assert by_code["NF-PLAIN"][8] == '\'=HYPERLINK("http://x")'
    assert by_code["NF-PLAIN"][9] == "'@evil@example.com"


def test_export_task_reads_a_constant_number_of_queries(admin_client, make_purchase, export):
    from purchases.tasks import purchases_export_job

    make_purchase(ResellerFactory(), "10.00", date(2026, 3, 1), "FIRST")
    job = export({"month": "2026-03", "q": "NF"})

    def task_queries():
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, finished_at=None)
        with CaptureQueriesContext(connection) as queries:
            purchases_export_job(str(job.pk))
        return len(queries.captured_queries)

    one = task_queries()
    for n in range(60):
        make_purchase(value="10.00", date=date(2026, 3, 1 + n % 19), code=f"NF-{n}")
    # The API's export's queries (purchases/tests/test_api_exports.py), and
    # the changelist's own: the author's permissions, the month filter's
    # months, the reviewer filter's staff, the resellers the search names.
    assert task_queries() == one
    assert one <= 20
    assert Job.objects.get(pk=job.pk).done == 60


@pytest.mark.parametrize("method", ["get", "post"])
def test_export_with_a_bad_filter_is_not_a_server_error(admin_client, march, method):
    response = getattr(admin_client, method)(EXPORT + "?month=garbage", {"dialect": "pt-BR"})
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST + "?e=1"
    assert not Job.objects.exists()


def test_export_with_an_unknown_format_asks_again(admin_client, march):
    response = admin_client.post(EXPORT, {"dialect": "xlsx"})
    assert response.status_code == 200
    assert response.context["form"].errors["dialect"]
    assert not Job.objects.exists()


def test_export_beyond_the_limit_says_so_and_starts_nothing(admin_client, march, settings):
    settings.PURCHASE_EXPORTS_PER_USER = 1
    assert admin_client.post(EXPORT, {"dialect": "pt-BR"}).status_code == 302  # queued, not run
    response = admin_client.post(EXPORT, {"dialect": "pt-BR"})
    assert response.status_code == 200
    assert sent_messages(response)[-1] == (
        messages.ERROR,
        "Você já tem 1 exportação em andamento. Espere que ela termine.",
    )
    assert Job.objects.count() == 1


def test_export_needs_the_view_permission(client, march, django_capture_on_commit_callbacks):
    viewer = viewer_client(Client(), "view_purchase")
    assert viewer.get(EXPORT).status_code == 200
    assert viewer.post(EXPORT, {"dialect": "plain"}).status_code == 302
    no_permission = viewer_client(client)
    assert no_permission.get(EXPORT).status_code == 403
    assert no_permission.post(EXPORT, {"dialect": "plain"}).status_code == 403
    assert Job.objects.count() == 1


@pytest.mark.parametrize("who", ["anonymous", "reseller"])
def test_export_needs_a_staff_login(client, march, who):
    if who == "reseller":
        client.force_login(march["ana"].user)
    for response in (client.get(EXPORT), client.post(EXPORT, {"dialect": "plain"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert not Job.objects.exists()


def test_changelist_links_the_export_with_its_filters(admin_client, march):
    content = admin_client.get(CHANGELIST, {"month": "2026-03", "q": "ana"}).content.decode()
    assert 'href="/admin/purchases/purchase/export/?month=2026-03&amp;q=ana"' in content
    assert "Exportar CSV" in content


def test_one_resellers_purchases_say_whose_they_are(admin_client, make_purchase):
    reseller = ResellerFactory(user__full_name="Joana Prado")
    make_purchase(reseller)
    make_purchase()
    response = admin_client.get("/admin/purchases/purchase/", {"reseller__id__exact": reseller.pk})
    assert response.status_code == 200
    assert "Compras de Joana Prado" in response.content.decode()
    assert len(response.context["cl"].result_list) == 1
    for odd in ("0", "x", "\u0661"):  # no such reseller, not a number, not ASCII
        response = admin_client.get("/admin/purchases/purchase/", {"reseller__id__exact": odd})
        assert response.status_code in (200, 302)
        assert "Compras de" not in response.content.decode()
