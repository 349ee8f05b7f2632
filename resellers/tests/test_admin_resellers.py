import re
from datetime import date
from html import unescape as html_unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import StaffFactory, UserFactory
from conftest import EN
from purchases.services import purchase_reject
from resellers import admin as reseller_admin
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.selectors import reseller_cpf_condition, reseller_get_by_cpf
from resellers.tests.factories import ResellerFactory, make_cpf

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/resellers/reseller/"
ADD = f"{CHANGELIST}add/"


@pytest.fixture
def ana(db):
    return ResellerFactory(user__email="ana@example.com", user__full_name="Ana Souza")


@pytest.fixture
def bia(db):
    return ResellerFactory(user__email="bia@example.com", user__full_name="Bia Lima")


def change_url(reseller):
    return f"{CHANGELIST}{reseller.pk}/change/"


def found(response):
    return sorted(reseller.user.email for reseller in response.context["cl"].result_list)


def cpf_errors(response):
    return response.context["adminform"].form.errors.get("cpf")


# --- The search helper ----------------------------------------------------------


def test_cpf_condition_accepts_either_format_and_nothing_else():
    digits = make_cpf(7)
    index = cpf_codec.blind_index(digits)
    assert reseller_cpf_condition(digits).children == [("cpf_index", index)]
    assert reseller_cpf_condition(cpf_codec.format_cpf(digits), lookup="reseller__cpf_index").children == [
        ("reseller__cpf_index", index)
    ]
    wrong_check_digit = digits[:10] + str((int(digits[10]) + 1) % 10)
    for term in ["", "ana", digits[:9], cpf_codec.format_cpf(digits)[:7], "11111111111", wrong_check_digit]:
        assert reseller_cpf_condition(term) is None


# --- Changelist -----------------------------------------------------------------


def test_changelist_shows_formatted_cpfs_and_never_the_ciphertext(admin_client, ana, bia):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    for reseller in [ana, bia]:
        assert reseller.cpf_formatted in content
        assert reseller.user.email in content
        assert reseller.user.full_name in content
        assert reseller.cpf_encrypted not in content
        assert reseller.cpf_index not in content


def test_search_by_name_email_and_exact_cpf(admin_client, ana, bia):
    assert found(admin_client.get(CHANGELIST, {"q": "souza"})) == ["ana@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": "bia@"})) == ["bia@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": "example.com"})) == ["ana@example.com", "bia@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf})) == ["bia@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf_formatted})) == ["bia@example.com"]


def test_a_partial_cpf_finds_nothing(admin_client, ana, bia):
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf[:8]})) == []
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf_formatted[:11]})) == []


def test_changelist_has_no_n_plus_one(admin_client, django_assert_max_num_queries):
    ResellerFactory()
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(CHANGELIST).status_code == 200
    ResellerFactory.create_batch(49)
    # session, user, COUNT, full COUNT, the page (one query joining the user
    # and the month's aggregate row); the first time, the month's cashback
    # policy and its tiers too (cached then).
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50
    assert len(one.captured_queries) <= 7


# --- Change form ----------------------------------------------------------------


def test_change_form_shows_the_formatted_cpf_only(admin_client, ana):
    response = admin_client.get(change_url(ana))
    assert response.status_code == 200
    assert response.context["adminform"].form["cpf"].value() == ana.cpf_formatted
    content = response.content.decode()
    assert ana.cpf_encrypted not in content
    assert ana.cpf_index not in content
    assert 'name="cpf_encrypted"' not in content
    assert 'name="cpf_index"' not in content


@pytest.mark.parametrize(
    "value", ["", "123", "111.111.111-11", "153.509.460-57", "1535094605a", "153509460-56"]
)
def test_change_form_refuses_an_invalid_cpf(admin_client, ana, value):
    before = (ana.cpf_encrypted, ana.cpf_index)
    response = admin_client.post(change_url(ana), {"cpf": value})
    assert response.status_code == 200
    assert cpf_errors(response)
    ana.refresh_from_db()
    assert (ana.cpf_encrypted, ana.cpf_index) == before


@pytest.mark.parametrize("formatted", [True, False])
def test_change_form_refuses_another_resellers_cpf(admin_client, ana, bia, formatted):
    response = admin_client.post(change_url(ana), {"cpf": bia.cpf_formatted if formatted else bia.cpf})
    assert response.status_code == 200
    assert cpf_errors(response)
    ana.refresh_from_db()
    assert ana.cpf != bia.cpf


def test_change_form_saves_a_new_cpf_through_the_blind_index(admin_client, ana):
    old, new = ana.cpf, make_cpf(999_999)
    response = admin_client.post(change_url(ana), {"cpf": cpf_codec.format_cpf(new)})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.cpf == new
    assert ana.cpf_index == cpf_codec.blind_index(new)
    assert new not in ana.cpf_encrypted
    assert reseller_get_by_cpf(cpf=new) == ana
    assert reseller_get_by_cpf(cpf=old) is None


def test_change_form_keeps_the_own_cpf(admin_client, ana):
    cpf = ana.cpf
    assert admin_client.post(change_url(ana), {"cpf": ana.cpf_formatted}).status_code == 302
    ana.refresh_from_db()
    assert ana.cpf == cpf
    assert ana.user.email == "ana@example.com"


def test_a_cpf_taken_between_validation_and_save_is_a_form_error(admin_client, ana, bia, monkeypatch):
    # Simulate the race: the first uniqueness check misses a concurrent save.
    real = reseller_admin.reseller_cpf_taken
    calls = []

    def racy(*, cpf_index, exclude_pk=None):
        calls.append(cpf_index)
        return False if len(calls) == 1 else real(cpf_index=cpf_index, exclude_pk=exclude_pk)

    monkeypatch.setattr(reseller_admin, "reseller_cpf_taken", racy)
    response = admin_client.post(change_url(ana), {"cpf": bia.cpf})
    assert response.status_code == 200
    assert cpf_errors(response)
    assert len(calls) == 2
    ana.refresh_from_db()
    assert ana.cpf != bia.cpf


# --- Add form -------------------------------------------------------------------


def test_add_form_creates_a_reseller_for_an_existing_user(admin_client):
    assert admin_client.get(ADD).status_code == 200
    user, cpf = UserFactory(), make_cpf(123_456)
    response = admin_client.post(ADD, {"user": user.pk, "cpf": cpf_codec.format_cpf(cpf)})
    assert response.status_code == 302
    reseller = reseller_get_by_cpf(cpf=cpf)
    assert reseller.user == user
    assert reseller.cpf == cpf


def test_add_form_refuses_a_taken_user_or_cpf(admin_client, ana):
    response = admin_client.post(ADD, {"user": ana.user.pk, "cpf": make_cpf(123_456)})
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors

    response = admin_client.post(ADD, {"user": UserFactory().pk, "cpf": ana.cpf_formatted})
    assert response.status_code == 200
    assert cpf_errors(response)
    assert Reseller.objects.count() == 1


# --- Access ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "reseller", "user"])
def test_only_staff_reach_the_resellers_admin(client, ana, who):
    if who == "reseller":
        client.force_login(ana.user)
    elif who == "user":
        client.force_login(UserFactory())
    for url in [CHANGELIST, change_url(ana), ADD]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert client.post(change_url(ana), {"cpf": make_cpf(5)}).status_code == 302
    ana.refresh_from_db()
    assert ana.cpf != make_cpf(5)


# --- The CPF, to staff: only with its own permission ------------------------------


def staff_client(client, *permissions):
    client.force_login(StaffFactory(permissions=permissions))
    return client


def test_without_the_cpf_permission_the_list_leaves_the_cpf_out(client, ana, bia):
    response = staff_client(client, "resellers.view_reseller").get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    for reseller in [ana, bia]:
        assert reseller.user.email in content
        assert reseller.cpf_formatted not in content
        assert reseller.cpf not in content


def test_with_the_cpf_permission_the_list_shows_it(client, ana):
    response = staff_client(client, "resellers.view_reseller", "resellers.view_reseller_cpf").get(CHANGELIST)
    assert ana.cpf_formatted in response.content.decode()


@pytest.mark.parametrize(
    "permissions",
    [["resellers.view_reseller"], ["resellers.view_reseller", "resellers.change_reseller"]],
    ids=["view", "view-change"],
)
def test_without_the_cpf_permission_the_page_hides_it_and_changes_nothing(client, ana, permissions):
    client = staff_client(client, *permissions)
    response = client.get(change_url(ana))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    content = response.content.decode()
    assert ana.user.email in content
    assert ana.cpf_formatted not in content
    assert ana.cpf not in content
    assert client.post(change_url(ana), {"cpf": make_cpf(5)}).status_code == 403
    ana.refresh_from_db()
    assert ana.cpf != make_cpf(5)


def test_with_the_cpf_permission_the_page_edits_it(client, ana):
    client = staff_client(
        client, "resellers.view_reseller", "resellers.change_reseller", "resellers.view_reseller_cpf"
    )
    response = client.get(change_url(ana))
    assert response.context["adminform"].form["cpf"].value() == ana.cpf_formatted
    assert client.post(change_url(ana), {"cpf": make_cpf(5)}).status_code == 302
    ana.refresh_from_db()
    assert ana.cpf == make_cpf(5)


# --- The current month (the list's columns and the page's summary) ---------------
# Added by purchases (purchases/analytics/reseller_admin.py), which owns the
# month aggregates; the registered admin is that one.


def month_cells(response, reseller) -> list[str]:
    """The month total, tier and cashback cells of the reseller's row."""
    html = response.content.decode()
    row = next(row for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if reseller.user.email in row)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return cells[-4:-1]


@pytest.fixture
def ana_in_march(ana, make_purchase, staff_user):
    """Ana's March 2026 (TODAY's month): 1,234.56 counted (15 %), a rejected
    purchase, and February's, which the month columns leave out."""
    make_purchase(ana, "1000.00", date(2026, 3, 2), "A")
    make_purchase(ana, "234.56", date(2026, 3, 10), "B")
    make_purchase(ana, "2000.00", date(2026, 2, 10), "C")
    purchase_reject(
        purchase=make_purchase(ana, "5000.00", date(2026, 3, 11), "D"), reviewer=staff_user, reason="x"
    )
    return ana


@pytest.mark.usefixtures("frozen_today")
def test_changelist_shows_the_current_months_total_tier_and_cashback(admin_client, ana_in_march, bia):
    response = admin_client.get(CHANGELIST)

    html = response.content.decode()
    for header in [
        "Total do mês",
        "Faixa",
        "Cashback do mês",
        "Total, faixa e cashback do mês atual: Março de 2026.",
    ]:
        assert header in html
    assert month_cells(response, ana_in_march) == ["R$ 1.234,56", "15%", "R$ 185,18"]
    # Nothing bought this month: nothing earned, the first tier.
    assert month_cells(response, bia) == ["R$ 0,00", "10%", "R$ 0,00"]


@pytest.mark.usefixtures("frozen_today")
def test_changelist_month_columns_in_english(admin_client, ana_in_march):
    response = admin_client.get(CHANGELIST, **EN)
    assert "Total, tier and cashback of the current month: March 2026." in response.content.decode()
    assert month_cells(response, ana_in_march) == ["R$ 1,234.56", "15%", "R$ 185.18"]


@pytest.mark.usefixtures("frozen_today")
def test_changelist_sorts_by_the_month_total(admin_client, ana_in_march, bia, make_purchase):
    make_purchase(bia, "300.00", date(2026, 3, 5), "X")
    column = reseller_admin_registered().list_display.index("month_total") + 1
    descending = admin_client.get(CHANGELIST, {"o": f"-{column}"})
    assert [r.pk for r in descending.context["cl"].result_list] == [ana_in_march.pk, bia.pk]
    ascending = admin_client.get(CHANGELIST, {"o": str(column)})
    assert [r.pk for r in ascending.context["cl"].result_list] == [bia.pk, ana_in_march.pk]


@pytest.mark.usefixtures("frozen_today")
def test_month_columns_cost_the_same_queries_for_one_reseller_or_a_full_page(
    admin_client, make_purchase, django_assert_num_queries
):
    make_purchase(value="700.00")
    admin_client.get(CHANGELIST)  # the month's policy is cached from here on
    # session, user, COUNT, full COUNT, the page joined to the users and the
    # month's aggregate rows.
    with django_assert_num_queries(5):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 1

    for _ in range(40):
        make_purchase(value="1100.00")
    ResellerFactory.create_batch(20)  # and some without purchases
    with django_assert_num_queries(5):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 61


@pytest.mark.usefixtures("frozen_today")
def test_the_purchases_link_opens_the_resellers_purchases_only(
    admin_client, ana_in_march, bia, make_purchase
):
    make_purchase(bia, "50.00", date(2026, 3, 5), "BIA-1")
    response = admin_client.get(CHANGELIST)
    links = re.findall(r'<a href="([^"]+)">Ver compras</a>', response.content.decode())
    ana_link = html_unescape(next(link for link in links if link.endswith(f"={ana_in_march.pk}")))
    assert ana_link == f"/admin/purchases/purchase/?reseller__id__exact={ana_in_march.pk}"

    # The purchase admin accepts the lookup (a field of its own model).
    purchases = admin_client.get(ana_link)
    assert purchases.status_code == 200
    assert sorted(p.code for p in purchases.context["cl"].result_list) == ["A", "B", "C", "D"]


@pytest.mark.usefixtures("frozen_today")
def test_change_page_shows_the_month_summary_and_the_purchases_link(admin_client, ana_in_march):
    response = admin_client.get(change_url(ana_in_march))
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "Março de 2026 — total: R$ 1.234,56; compras em validação ou aprovadas: 2; "
        "faixa: 15%; cashback: R$ 185,18."
    ) in html
    assert "Faltam R$ 265,45 neste mês para a faixa de 20%." in html
    assert f'href="/admin/purchases/purchase/?reseller__id__exact={ana_in_march.pk}"' in html

    # Saving the page still works with the read-only summary on it.
    assert admin_client.post(change_url(ana_in_march), {"cpf": ana_in_march.cpf_formatted}).status_code == 302


def month_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="reseller-months">(.*?)</table>', html, re.S).group(1)
    body = table.split("<tbody>")[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


@pytest.mark.usefixtures("frozen_today")
def test_change_page_shows_the_last_twelve_months_and_the_accumulated_cashback(
    admin_client, ana_in_march, staff_user
):
    from purchases.models import Purchase
    from purchases.services import purchase_approve

    purchase_approve(purchase=Purchase.objects.get(reseller=ana_in_march, code="C"), reviewer=staff_user)
    html = admin_client.get(change_url(ana_in_march)).content.decode()
    rows = month_rows(html)
    assert len(rows) == 12
    assert rows[0] == ["Março de 2026", "R$ 1.234,56", "2", "15%", "R$ 185,18"]  # the rejected one left out
    assert rows[1] == ["Fevereiro de 2026", "R$ 2.000,00", "1", "20%", "R$ 400,00"]
    assert rows[2] == ["Janeiro de 2026", "R$ 0,00", "0", "—", "R$ 0,00"]
    assert rows[11][0] == "Abril de 2025"
    month_link = f"/admin/purchases/purchase/?reseller__id__exact={ana_in_march.pk}&amp;month=2026-02"
    assert f'href="{month_link}"' in html
    # Accumulated: the cashback of approved purchases only (February's).
    assert re.search(r"Cashback acumulado:.*?R\$ 400,00", html, re.S)


@pytest.mark.usefixtures("frozen_today")
def test_the_reseller_page_reads_a_constant_number_of_queries(admin_client, ana_in_march, make_purchase):
    with CaptureQueriesContext(connection) as few:
        admin_client.get(change_url(ana_in_march))
    for month in range(1, 13):
        make_purchase(ana_in_march, "10.00", date(2025, month, 5), f"Y-{month}")
    with CaptureQueriesContext(connection) as many:
        admin_client.get(change_url(ana_in_march))
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.usefixtures("frozen_today")
def test_change_page_of_a_reseller_without_purchases(admin_client, bia):
    html = admin_client.get(change_url(bia), **EN).content.decode()
    assert (
        "March 2026 — total: R$ 0.00; purchases in validation or approved: 0; tier: 10%; cashback: R$ 0.00."
        in html
    )
    assert "R$ 1,000.01 more this month reach the 15% tier." in html


def test_the_add_page_has_no_month_summary(admin_client):
    html = admin_client.get(ADD).content.decode()
    assert "month_summary" not in html
    assert "Ver compras" not in html


def reseller_admin_registered():
    from django.contrib import admin

    return admin.site.get_model_admin(Reseller)


# --- CSV export ---------------------------------------------------------------


def export(client, resellers=(), **extra):
    data = {"action": "export_selected", "_selected_action": [r.pk for r in resellers], **extra}
    response = client.post(CHANGELIST, data)
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    import csv
    import io

    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.usefixtures("frozen_today")
def test_export_streams_the_selected_resellers_with_their_month_and_no_cpf(admin_client, ana_in_march, bia):
    rows = export(admin_client, [ana_in_march])
    assert rows[0] == [
        "Id", "Nome", "E-mail", "Cadastrado em", "Total do mês", "Faixa", "Cashback do mês",
    ]  # fmt: skip
    assert len(rows) == 2
    pk, name, email, registered, total, percent, cashback_value = rows[1]
    assert (pk, name, email) == (str(ana_in_march.pk), ana_in_march.user.full_name, ana_in_march.user.email)
    assert (total, percent, cashback_value) == ("1234.56", "15.00", "185.18")
    assert registered == "2026-03-20"
    text = str(rows)
    for cpf in (ana_in_march.cpf_formatted, ana_in_march.cpf_formatted.replace(".", "").replace("-", "")):
        assert cpf not in text


@pytest.mark.usefixtures("frozen_today")
def test_export_of_every_reseller_with_select_across(admin_client, ana_in_march, bia):
    rows = export(admin_client, [ana_in_march], select_across="1")
    assert sorted(row[0] for row in rows[1:]) == sorted([str(ana_in_march.pk), str(bia.pk)])


@pytest.mark.usefixtures("frozen_today")
def test_export_neutralises_spreadsheet_formulas(admin_client):
    evil = ResellerFactory(user__full_name='=HYPERLINK("http://x")')
    rows = export(admin_client, [evil])
    assert rows[1][1] == '\'=HYPERLINK("http://x")'


def test_export_needs_the_view_permission(client, bia):
    client.force_login(StaffFactory(permissions=["resellers.view_reseller"]))
    assert export(client, [bia])[1][0] == str(bia.pk)
    client.force_login(StaffFactory(permissions=[]))
    response = client.post(CHANGELIST, {"action": "export_selected", "_selected_action": [bia.pk]})
    assert response.status_code == 403
