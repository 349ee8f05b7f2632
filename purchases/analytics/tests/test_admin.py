import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from accounts.tests.factories import StaffFactory
from conftest import EN
from purchases.analytics.admin import MAX_MONTHS, axis_scale, build_chart
from purchases.analytics.selectors import MonthFigures
from purchases.months import shift_month
from purchases.services import purchase_reject
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

URL = "/admin/analytics/"
CSV_URL = "/admin/analytics/csv/"
D = Decimal


@pytest.fixture
def staff_browser(client):
    """A staff member without superuser rights, holding the analytics
    permission alone: the chart needs nothing else."""
    client.force_login(StaffFactory(permissions=["purchases.view_analytics"]))
    return client


@pytest.fixture
def staff_without_analytics(client):
    """Staff with every permission of the purchases and resellers but the analytics one."""
    client.force_login(
        StaffFactory(
            permissions=[
                "purchases.view_purchase",
                "purchases.review_purchase",
                "resellers.view_reseller",
                "resellers.view_reseller_cpf",
            ]
        )
    )
    return client


@pytest.fixture
def march_and_april(make_purchase, staff_user):
    """March 2026: 1,234.56 (15 %) and a rejected 9,999.00; April 2025: 100.00."""
    reseller = ResellerFactory()
    make_purchase(reseller, "1234.56", date(2026, 3, 2), "A")
    make_purchase(reseller, "100.00", date(2025, 4, 1), "B")
    rejected = make_purchase(reseller, "9999.00", date(2026, 3, 3), "C")
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Fake")


def table_rows(html: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- The page -------------------------------------------------------------------


@pytest.mark.usefixtures("march_and_april")
def test_staff_sees_the_chart_and_the_table_of_the_last_twelve_months(staff_browser):
    response = staff_browser.get(URL, **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html
    assert "Cashback analytics" in html
    # Twelve months, April 2025 to March 2026: two bars each (and the legend's two).
    assert html.count('<rect class="value"') == 12 + 1
    assert html.count('<rect class="cashback"') == 12 + 1
    rows = table_rows(html)
    assert [row[0] for row in rows][:2] == ["April 2025", "May 2025"]
    assert rows[-1] == ["March 2026", "1", "1,234.56", "185.18"]  # the rejected purchase left out
    assert rows[0] == ["April 2025", "1", "100.00", "10.00"]
    assert len(rows) == 12
    assert "1,334.56" in html  # the total row
    assert "9,999.00" not in html


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script_of_its_own(staff_browser):
    html = staff_browser.get(URL).content.decode()
    assert all(src.startswith("/static/") for src in re.findall(r'<script[^>]*src="([^"]+)"', html))
    assert "<script>" not in html
    for address in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert address.startswith(("/", "#")), address


@pytest.mark.usefixtures("march_and_april")
def test_amounts_and_months_are_written_the_brazilian_way_by_default(staff_browser):
    html = staff_browser.get(URL).content.decode()
    assert ["Março de 2026", "1", "1.234,56", "185,18"] in table_rows(html)
    assert "1.334,56" in html
    # SVG coordinates keep dots whatever the language.
    assert not re.search(r'(x|y|width|height)="\d+,\d', html)


@pytest.mark.usefixtures("march_and_april")
def test_the_value_axis_is_in_reais_and_ends_just_above_the_tallest_bar(staff_browser):
    html = staff_browser.get(URL).content.decode()
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', html)
    # The tallest bar is 1.234,56: the axis ends at 1.250, not 2.000.
    assert ticks == ["R$ 0", "R$ 250", "R$ 500", "R$ 750", "R$ 1.000", "R$ 1.250"]


def test_an_empty_period_still_draws_the_chart(staff_browser):
    response = staff_browser.get(URL, **EN)
    assert response.status_code == 200
    assert "No purchases in these months yet." in response.content.decode()


# --- The period -----------------------------------------------------------------


@pytest.mark.usefixtures("march_and_april")
def test_the_period_picker_chooses_the_months(staff_browser):
    response = staff_browser.get(URL, {"from": "2025-12", "to": "2026-03"}, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert [row[0] for row in table_rows(html)] == [
        "December 2025",
        "January 2026",
        "February 2026",
        "March 2026",
    ]
    assert 'type="month" name="from" value="2025-12"' in html
    assert 'type="month" name="to" value="2026-03"' in html
    assert f'href="{CSV_URL}?from=2025-12&amp;to=2026-03"' in html


def test_one_end_of_the_period_defaults_from_the_other(staff_browser):
    html = staff_browser.get(URL, {"to": "2025-06"}, **EN).content.decode()
    months = [row[0] for row in table_rows(html)]
    assert (months[0], months[-1], len(months)) == ("July 2024", "June 2025", 12)

    html = staff_browser.get(URL, {"from": "2026-01", "to": ""}, **EN).content.decode()
    assert [row[0] for row in table_rows(html)] == ["January 2026", "February 2026", "March 2026"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-13"}, "Enter a month as YYYY-MM"),
        ({"from": "março"}, "Enter a month as YYYY-MM"),
        ({"to": "2026-3"}, "Enter a month as YYYY-MM"),
        ({"to": "\uff12\uff10\uff12\uff16-\uff10\uff13"}, "Enter a month as YYYY-MM"),  # fullwidth digits
        ({"from": "1999-12"}, "Enter a month as YYYY-MM"),
        ({"from": "2026-03-01"}, "Ensure this value has at most 7 characters"),
        ({"from": "2026-03", "to": "2026-01"}, "The first month must not be after the last month."),
        ({"from": "2023-03", "to": "2026-03"}, f"Choose at most {MAX_MONTHS} months."),
        ({"from": "\x00"}, "Null characters are not allowed."),
    ],
)
def test_a_bad_period_is_a_form_error_not_a_server_error(staff_browser, params, message):
    response = staff_browser.get(URL, params, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "errornote" in html
    assert '<svg class="analytics-chart"' not in html  # no chart for a period that is not one

    # The CSV address sends a hand-made bad period to the page, which says why.
    response = staff_browser.get(CSV_URL, params)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{URL}?")


def test_the_widest_period_allowed_is_drawn(staff_browser):
    response = staff_browser.get(URL, {"from": "2023-04", "to": "2026-03"}, **EN)
    assert response.status_code == 200
    assert len(table_rows(response.content.decode())) == MAX_MONTHS


def test_the_page_costs_the_same_queries_for_any_period_and_caches_the_figures(
    staff_browser, make_purchase, django_assert_num_queries
):
    make_purchase(value="10.00", date=date(2026, 3, 1))
    # Session, user, the user's and their groups' permissions (the sidebar
    # lists what they may see), then one aggregate over the month rows.
    with django_assert_num_queries(5):
        staff_browser.get(URL, {"from": "2026-03", "to": "2026-03"})
    with django_assert_num_queries(5):
        staff_browser.get(URL, {"from": "2023-04", "to": "2026-03"})
    # The same period again: the figures come from the cache.
    with django_assert_num_queries(4):
        staff_browser.get(URL, {"from": "2023-04", "to": "2026-03"})


def test_a_new_purchase_shows_at_once(staff_browser, make_purchase, django_capture_on_commit_callbacks):
    params = {"from": "2026-03", "to": "2026-03"}
    assert table_rows(staff_browser.get(URL, params, **EN).content.decode())[0][1] == "0"
    # Its commit drops the cached figures.
    with django_capture_on_commit_callbacks(execute=True):
        make_purchase(value="10.00", date=date(2026, 3, 1))
    assert table_rows(staff_browser.get(URL, params, **EN).content.decode())[0][1] == "1"


# --- The CSV --------------------------------------------------------------------


@pytest.mark.usefixtures("march_and_april")
def test_the_csv_holds_the_tables_months_with_machine_readable_numbers(staff_browser):
    response = staff_browser.get(CSV_URL, {"from": "2026-01", "to": "2026-03"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="cashback-2026-01-2026-03.csv"'
    assert response.content.startswith("\ufeff".encode())  # spreadsheets read the accents
    assert read_csv(response) == [
        ["Mês", "Compras", "Valor das compras (R$)", "Cashback (R$)"],
        ["2026-01", "0", "0.00", "0.00"],
        ["2026-02", "0", "0.00", "0.00"],
        ["2026-03", "1", "1234.56", "185.18"],
    ]
    # Every field quoted, as in every CSV the project writes.
    assert response.content.decode("utf-8-sig").splitlines()[3] == '"2026-03","1","1234.56","185.18"'


@pytest.mark.usefixtures("march_and_april")
def test_the_csv_header_follows_the_language_and_the_default_period_is_the_pages(staff_browser):
    rows = read_csv(staff_browser.get(CSV_URL, **EN))
    assert rows[0] == ["Month", "Purchases", "Purchase value (R$)", "Cashback (R$)"]
    assert [row[0] for row in rows[1:]] == [f"2025-{month:02d}" for month in range(4, 13)] + [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert rows[1] == ["2025-04", "1", "100.00", "10.00"]


def test_the_page_links_its_csv_and_shows_the_default_period_in_the_pickers(staff_browser):
    html = staff_browser.get(URL).content.decode()
    assert 'type="month" name="from" value="2025-04"' in html
    assert 'type="month" name="to" value="2026-03"' in html
    assert f'href="{CSV_URL}?from=2025-04&amp;to=2026-03"' in html
    assert "Baixar esta tabela (CSV)" in html


# --- Access and navigation ------------------------------------------------------


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_non_staff_are_sent_to_the_admin_login(client, reseller, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/admin/login/?next={url}")

    client.force_login(reseller.user)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_index_lists_the_chart_under_reports(staff_browser):
    response = staff_browser.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    reports = re.search(r'<div class="app-reports module[^"]*">(.*?)</div>', html, re.S).group(1)
    assert "Relatórios" in reports
    assert f'href="{URL}"' in reports
    assert "Análise de cashback" in reports
    assert 'id="recent-actions-module"' in html  # the admin's own index is still there
    # The CSV download is a route, not a page of its own.
    assert CSV_URL not in html


def test_the_sidebar_lists_the_chart_and_marks_it_current(staff_browser):
    html = staff_browser.get(URL).content.decode()
    sidebar = re.search(r'<nav class="sticky" id="nav-sidebar".*?</nav>', html, re.S).group(0)
    assert "Relatórios" in sidebar
    assert f'<a href="{URL}" aria-current="page">Análise de cashback</a>' in sidebar


@pytest.mark.usefixtures("march_and_april")
@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_the_page_and_its_csv_need_the_analytics_permission(staff_without_analytics, url):
    response = staff_without_analytics.get(url)
    assert response.status_code == 403
    assert "1234" not in response.content.decode()


def test_without_the_analytics_permission_no_report_is_listed(staff_without_analytics):
    html = staff_without_analytics.get("/admin/").content.decode()
    assert "app-reports" not in html
    assert f'href="{URL}"' not in html
    assert 'href="/admin/purchases/purchase/"' in html  # the rest of the index is there


# --- The chart's geometry -------------------------------------------------------


@pytest.mark.parametrize(
    ("largest", "top", "intervals"),
    [
        ("0", "1000", 4),  # nothing to show: a plain scale
        ("0.5", "3", 3),
        ("1234.56", "1250", 5),
        ("2000", "2000", 4),
        ("2001", "2500", 5),
        ("7400", "7500", 3),
        ("9999", "10000", 4),
        ("60114110.66", "75000000", 3),  # a month at full size
    ],
)
def test_the_axis_ends_on_the_first_round_number_above_the_tallest_bar(largest, top, intervals):
    assert axis_scale(D(largest)) == (D(top), intervals)


def test_the_axis_never_goes_far_beyond_the_tallest_bar():
    for largest in [D(n) * 10**e for n in range(3, 100) for e in range(0, 7)]:
        top, intervals = axis_scale(largest)
        assert largest <= top < largest * D("1.5"), largest
        assert 3 <= intervals <= 6
        assert (top / intervals) == (top / intervals).to_integral_value()


def test_the_tallest_bar_fills_the_plot_and_cashback_is_on_the_same_scale():
    rows = [
        MonthFigures(
            month=date(2026, 2, 1), purchase_count=1, total_value=D("2000.00"), cashback_value=D("400.00")
        ),
        MonthFigures(
            month=date(2026, 3, 1), purchase_count=0, total_value=D("0.00"), cashback_value=D("0.00")
        ),
    ]
    with translation.override("en"):
        chart = build_chart(rows)
    february, march = chart["months"]
    assert float(february.value_bar.height) == pytest.approx(5 * float(february.cashback_bar.height))
    assert float(february.value_bar.y) == pytest.approx(float(chart["ticks"][-1].y))
    assert float(march.value_bar.height) == 0
    assert [tick.label for tick in chart["ticks"]] == ["R$ 0", "R$ 500", "R$ 1,000", "R$ 1,500", "R$ 2,000"]
    assert (february.label, february.year, march.label, march.year) == ("Feb", "2026", "Mar", "")


def test_long_periods_name_every_other_month_and_each_year():
    rows = [
        MonthFigures(
            month=date(2024 + (m - 1) // 12, (m - 1) % 12 + 1, 1),
            purchase_count=0,
            total_value=D(0),
            cashback_value=D(0),
        )
        for m in range(1, 25)
    ]
    with translation.override("en"):
        months = build_chart(rows)["months"]
    assert [month.label for month in months[:4]] == ["Jan", "", "Mar", ""]
    assert [month.year for month in months if month.year] == ["2024", "2025"]


def test_three_years_from_december_name_every_third_month_and_each_year_once():
    first = date(2023, 12, 1)
    rows = [
        MonthFigures(month=shift_month(first, n), purchase_count=0, total_value=D(0), cashback_value=D(0))
        for n in range(MAX_MONTHS)
    ]
    with translation.override("en"):
        months = build_chart(rows)["months"]
    assert [month.label for month in months if month.label][:5] == ["Dec", "Mar", "Jun", "Sep", "Dec"]
    assert [(month.label, month.year) for month in months if month.year] == [
        ("Dec", "2023"),
        ("Mar", "2024"),
        ("Mar", "2025"),
        ("Mar", "2026"),
    ]
