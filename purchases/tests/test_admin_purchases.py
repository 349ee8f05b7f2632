from datetime import date
from decimal import Decimal

import pytest
from django.contrib import messages
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import StaffFactory, UserFactory
from conftest import EN
from products.models import Category, Product
from purchases.admin import PurchaseMonthFilter
from purchases.models import Purchase
from purchases.services import ItemInput, purchase_approve, purchase_reject
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
    for text in ["NF-REJ", "Ana Souza", "300.00", "Rejected", "0.00"]:
        assert text in content


def test_changelist_lists_newest_first(admin_client, march):
    response = admin_client.get(CHANGELIST)
    assert [p.code for p in response.context["cl"].result_list] == ["NF-REJ", "NF-APR", "NF-VAL", "NF-FEB"]


def test_month_filter_offers_the_latest_twelve_months_with_purchases(admin_client, make_purchase):
    reseller = ResellerFactory()
    for months_back in range(14):
        year, month = divmod(2026 * 12 + 2 - months_back, 12)
        make_purchase(reseller, "10.00", date(year, month + 1, 5), f"M{months_back}")
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
    # aggregates), one COUNT (the full count is off; then cached), the page
    # (one query joining reseller and user).
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50
    assert len(one.captured_queries) <= 5


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


def test_review_actions_need_the_change_permission(client, march):
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_purchase"))
    client.force_login(viewer)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action this user may run
    client.post(CHANGELIST, action("approve_selected", [march["NF-VAL"]], index=0))
    assert Purchase.objects.get(pk=march["NF-VAL"].pk).status == Purchase.Status.VALIDATING


# --- Reject ---------------------------------------------------------------------


def test_reject_action_first_asks_for_the_reason(admin_client, march):
    selected = [march["NF-VAL"], march["NF-APR"]]
    response = admin_client.post(CHANGELIST, action("reject_selected", selected, index=0))
    assert response.status_code == 200
    assert "admin/purchases/purchase/reject_reason.html" in [t.name for t in response.templates]
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
    # "Select all" sends select_across: the page lists every filtered purchase's id.
    response = admin_client.post(
        CHANGELIST + "?month=2026-03",
        {
            "action": "reject_selected",
            "_selected_action": [march["NF-VAL"].pk],
            "select_across": "1",
            "index": 0,
        },
    )
    assert sorted(response.context["selected_ids"]) == sorted(
        march[code].pk for code in ["NF-VAL", "NF-APR", "NF-REJ"]
    )


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
