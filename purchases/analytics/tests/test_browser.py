"""The back office in a real browser (headless Chromium, Portuguese, a
1366 x 768 screen): the analytics page, the resellers' month columns and the
index. Selected with `-m browser`; each takes a screenshot, kept in docs/ by
`make screenshots` for people to look at."""

import csv
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from purchases.models import format_month_name
from purchases.months import current_month, format_month, shift_month

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]

SCREEN = {"width": 1366, "height": 768}


@pytest.fixture
def staff(db):
    from accounts.tests.factories import StaffFactory

    return StaffFactory(full_name="Equipe Retaguarda", is_superuser=True)


@pytest.fixture
def year_of_purchases(make_purchase):
    """Three resellers buying every month of the last year, so the chart has
    something to show; this month Ana reaches 15 % (1.200,00)."""
    from resellers.tests.factories import ResellerFactory

    this_month = current_month()
    today = timezone.localdate()
    ana = ResellerFactory(user__full_name="Ana Souza", user__email="ana@example.com")
    others = [
        ResellerFactory(user__full_name="Bia Lima", user__email="bia@example.com"),
        ResellerFactory(user__full_name="Caio Alves", user__email="caio@example.com"),
    ]
    make_purchase(ana, "700.00", date(today.year, today.month, 1), "ANA-1")
    make_purchase(ana, "500.00", today, "ANA-2")
    for back in range(1, 12):
        month = shift_month(this_month, -back)
        make_purchase(ana, f"{300 + 40 * back}.00", month, f"ANA-{month:%Y%m}")
        for number, reseller in enumerate(others):
            value = Decimal(250 + (back * 137 + number * 410) % 1400)
            make_purchase(reseller, str(value), month.replace(day=10), f"R{number}-{month:%Y%m}")
    return ana


def fits_the_screen(page) -> bool:
    """No horizontal scrolling: neither the page nor a changelist's table."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth
        && [...document.querySelectorAll('#changelist .results')].every(
            (results) => results.scrollWidth <= results.clientWidth)"""
    )


def table_rows(page) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in page.locator(".analytics-table tbody tr").all()
    ]


def test_staff_reads_the_analytics_chart_changes_the_period_and_downloads_the_csv(
    live_server,
    page,
    log_in_admin,
    screenshot,
    staff,
    year_of_purchases,
    tmp_path,
):
    page.set_viewport_size(SCREEN)
    log_in_admin(page, staff, "/admin/resellers/reseller/")
    page.wait_for_selector("#result_list")

    # From the sidebar, under the Portuguese section name.
    sidebar = page.locator("#nav-sidebar")
    assert sidebar.locator(".app-reports caption").inner_text().lower() == "relatórios"
    sidebar.get_by_role("link", name="Análise de cashback").click()
    page.wait_for_selector("svg.analytics-chart")
    assert page.title().startswith("Análise de cashback")
    assert len(table_rows(page)) == 12

    # A shorter period.
    first, last = shift_month(current_month(), -5), current_month()
    page.fill("input[name=from]", format_month(first))
    page.fill("input[name=to]", format_month(last))
    page.get_by_role("button", name="Mostrar").click()
    page.wait_for_url(f"**/admin/analytics/?from={format_month(first)}&to={format_month(last)}")

    # The value axis in reais, ending on a round number just above the tallest bar.
    ticks = page.locator("svg.analytics-chart text.tick").all_text_contents()
    assert all(tick.startswith("R$ ") for tick in ticks)
    assert ticks[0] == "R$ 0"
    rows = table_rows(page)
    assert len(rows) == 6
    with translation.override("pt-br"):
        assert rows[-1] == [format_month_name(last), "2", "1.200,00", "180,00"]
    tallest = max(Decimal(row[2].replace(".", "").replace(",", ".")) for row in rows)
    top = Decimal(ticks[-1].removeprefix("R$ ").replace(".", ""))
    assert tallest <= top < tallest * Decimal("1.5")
    # One pair of bars per table row.
    assert page.locator("svg.analytics-chart rect.value title").count() == len(rows)
    assert fits_the_screen(page)

    screenshot(page, "admin-analytics.png", full_page=True)

    # The CSV has the table's rows, with machine-readable numbers.
    with page.expect_download() as download:
        page.get_by_role("link", name="Baixar esta tabela (CSV)").click()
    assert download.value.suggested_filename == f"cashback-{format_month(first)}-{format_month(last)}.csv"
    saved = tmp_path / "analytics.csv"
    download.value.save_as(saved)
    with saved.open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.reader(file))
    assert lines[0] == ["Mês", "Compras", "Valor das compras (R$)", "Cashback (R$)"]
    assert len(lines) == 1 + len(rows)
    for line, row in zip(lines[1:], rows, strict=True):
        assert line[1] == row[1].replace(".", "")
        assert line[2] == row[2].replace(".", "").replace(",", ".")
        assert line[3] == row[3].replace(".", "").replace(",", ".")
    assert lines[-1][0] == format_month(last)


def test_a_reversed_period_shows_a_message_in_portuguese(page, log_in_admin, staff):
    page.set_viewport_size(SCREEN)
    log_in_admin(page, staff, "/admin/analytics/?from=2026-05&to=2026-01")
    page.wait_for_selector(".errornote")
    assert page.locator(".errornote").inner_text().strip() == "O primeiro mês não pode ser depois do último."
    assert page.locator("svg.analytics-chart").count() == 0


def test_the_resellers_list_shows_the_month_and_links_to_the_purchases(
    live_server,
    page,
    log_in_admin,
    screenshot,
    staff,
    year_of_purchases,
):
    page.set_viewport_size(SCREEN)
    log_in_admin(page, staff, "/admin/resellers/reseller/")
    page.wait_for_selector("#result_list")

    headers = page.locator("#result_list thead th").all_inner_texts()
    for header in ["TOTAL DO MÊS", "FAIXA", "CASHBACK DO MÊS", "COMPRAS"]:
        assert header in [text.strip().upper() for text in headers]
    ana_row = page.locator("#result_list tbody tr", has_text="ana@example.com")
    for cell in ["R$ 1.200,00", "15%", "R$ 180,00"]:
        assert ana_row.get_by_text(cell, exact=True).is_visible()
    assert ana_row.get_by_role("link", name="Ver compras").is_visible()
    assert fits_the_screen(page)

    screenshot(page, "admin-resellers.png", full_page=True)

    ana_row.get_by_role("link", name="Ver compras").click()
    page.wait_for_url(f"**/admin/purchases/purchase/?reseller__id__exact={year_of_purchases.pk}")
    page.wait_for_selector("#result_list")
    codes = page.locator("#result_list tbody th").all_inner_texts()
    assert len(codes) == 13
    assert all(code.startswith("ANA-") for code in codes)


def test_the_index_is_portuguese_and_nothing_is_missing(live_server, page, log_in_admin, staff):
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)

    page.set_viewport_size(SCREEN)
    log_in_admin(page, staff, "/admin/")
    page.wait_for_selector("#content-main")
    page.wait_for_load_state("networkidle")

    assert page.locator("#site-name").inner_text() == "Cashback de revendedores — painel administrativo"
    sections = [
        text.strip().lower() for text in page.locator("#content-main caption a.section").all_inner_texts()
    ]
    assert sections == [
        "relatórios",
        "autenticação e autorização",
        "compras",
        "contas",
        "produtos",
        "revendedores",
        "segundo plano",
    ]
    english = ["Reports", "Back office", "Token", "Accounts", "Authentication", "View site"]
    body = page.locator("body").inner_text()
    assert not [word for word in english if word.lower() in body.lower()]
    assert page.get_by_role("link", name="Ver o site").get_attribute("href") == "/"

    # The icon the pages link, and the one browsers ask for at the root.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
    assert page.goto(f"{live_server.url}/favicon.ico").status == 200
    assert failed == []


def test_the_admin_home_says_what_needs_doing(
    live_server, page, log_in_admin, screenshot, staff, year_of_purchases
):
    page.set_viewport_size(SCREEN)
    log_in_admin(page, staff, "/admin/")
    page.wait_for_selector(".home-pending")
    screenshot(page, "admin-home.png", full_page=True)
    pending = page.locator(".home-pending").inner_text()
    assert "aguarda" in pending
    month = page.locator(".home-month").inner_text()
    assert "até agora" in month
    assert "revendedores por faixa" in month.lower()  # captions are in capitals
    assert "Ana Souza" in month
    assert "R$" in month
    # The panels sit beside "Ações recentes", not over it.
    panel = page.locator(".home-month").bounding_box()
    recent = page.locator("#recent-actions-module").bounding_box()
    assert panel["x"] + panel["width"] <= recent["x"]
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]
    page.click(".home-pending a")
    page.wait_for_selector("#result_list")
    assert "status__exact=validating" in page.url
    assert "Em validação" in page.locator("#changelist-filter .selected").all_inner_texts()[0]


def test_a_resellers_page_shows_the_last_twelve_months(
    live_server, page, log_in_admin, screenshot, staff, year_of_purchases
):
    page.set_viewport_size(SCREEN)
    log_in_admin(page, staff, f"/admin/resellers/reseller/{year_of_purchases.pk}/change/")
    page.wait_for_selector("table.reseller-months")
    screenshot(page, "admin-reseller-months.png", full_page=True)
    rows = page.locator("table.reseller-months tbody tr")
    assert rows.count() == 12
    assert "R$" in rows.nth(0).inner_text()
    table = page.locator("table.reseller-months").bounding_box()
    assert table["x"] + table["width"] <= SCREEN["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]
