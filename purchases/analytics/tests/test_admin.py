import re
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from accounts.tests.factories import StaffFactory
from conftest import EN
from purchases.analytics.admin import _nice_ceiling, build_chart
from purchases.analytics.selectors import MonthFigures
from purchases.services import purchase_reject
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

URL = "/admin/analytics/"
D = Decimal


@pytest.fixture
def staff_browser(client):
    """A staff member without superuser rights: the chart is for all staff."""
    client.force_login(StaffFactory())
    return client


def test_staff_sees_the_chart_and_the_table(staff_browser, staff_user, make_purchase):
    reseller = ResellerFactory()
    make_purchase(reseller, "1234.56", date(2026, 3, 2), "A")
    make_purchase(reseller, "100.00", date(2025, 4, 1), "B")
    rejected = make_purchase(reseller, "9999.00", date(2026, 3, 3), "C")
    purchase_reject(purchase=rejected, reviewer=staff_user, reason="Fake")

    response = staff_browser.get(URL, **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html
    # No chart library: only the admin's own scripts, nothing from elsewhere.
    assert all(src.startswith("/static/admin/js/") for src in re.findall(r'<script[^>]*src="([^"]+)"', html))
    assert "<script>" not in html
    assert "Cashback analytics" in html
    # Twelve months, April 2025 to March 2026, on the axis and in the table.
    assert html.count('class="value"') == 12 + 1  # the bars and the legend
    for label in ["Apr 2025", "Dec 2025", "Jan 2026", "Mar 2026"]:
        assert label in html
    assert "Mar 2025" not in html
    assert "1,234.56" in html  # March's value: the rejected purchase is left out
    assert "185.18" in html  # its cashback at 15 %
    assert "1,334.56" in html  # the total row
    assert "9,999.00" not in html


def test_staff_sees_amounts_written_the_brazilian_way_by_default(staff_browser, make_purchase):
    make_purchase(value="1234.56", date=date(2026, 3, 2), code="A")
    html = staff_browser.get(URL).content.decode()
    assert "1.234,56" in html
    # SVG coordinates keep dots whatever the language.
    assert not re.search(r'(x|y|width|height)="\d+,\d', html)


def test_an_empty_period_still_draws_the_chart(staff_browser):
    response = staff_browser.get(URL, **EN)
    assert response.status_code == 200
    assert "No purchases in these months yet." in response.content.decode()


def test_non_staff_are_sent_to_the_admin_login(client, reseller):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/analytics/")

    client.force_login(reseller.user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_index_links_to_the_chart(staff_browser):
    response = staff_browser.get("/admin/", **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{URL}"' in html
    assert "Cashback analytics" in html
    assert 'id="recent-actions-module"' in html  # the admin's own index is still there


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        ("0", "1"),
        ("0.5", "0.5"),
        ("1", "1"),
        ("1234.56", "2000"),
        ("2000", "2000"),
        ("2001", "2500"),
        ("7400", "10000"),
    ],
)
def test_the_axis_ends_on_a_round_number(value, ceiling):
    assert _nice_ceiling(D(value)) == D(ceiling)


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
    assert [tick.label for tick in chart["ticks"]] == ["0", "500", "1,000", "1,500", "2,000"]
