"""The purchase admin in a real browser (headless Debian Chromium through
Playwright, against a live server), as staff use it: in Portuguese, on a
1366-pixel laptop and a 1920-pixel screen. Selected with `-m browser`.

The changelist's screenshots (admin-purchases.png at 1366 px,
admin-purchases-1920.png) and the purchase page's (admin-purchases-change.png)
go to docs/ with `make screenshots`, so a change to the layout shows in review."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from purchases.models import Purchase
from purchases.services import purchase_approve, purchase_reject
from resellers.tests.factories import ResellerFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]

CHANGELIST = "/admin/purchases/purchase/"
# The longest code the API accepts is 64 characters.
LONGEST_CODE = "NF-" + "7" * 61


@pytest.fixture
def purchases(make_purchase):
    """A month of purchases as reviewers see them: long codes, values up to
    the maximum, long names, every status. Dates are relative to today: the
    browser's session cookie must not expire, so the clock is not frozen."""
    today = timezone.localdate()
    first = today.replace(day=1)
    reviewer = StaffFactory(full_name="Equipe de Revisão")
    maria = ResellerFactory(user__full_name="Maria Aparecida dos Santos Figueiredo de Albuquerque")
    joao = ResellerFactory(user__full_name="João Pedro Oliveira")
    made = {
        "BIG": make_purchase(maria, "1202.14", today, "NF-2026-000000123456-SP"),
        "MAX": make_purchase(joao, "1000000.00", today, "NF-MAX-VALUE"),
        "LONG": make_purchase(joao, "98765.43", first, LONGEST_CODE),
        "SMALL": make_purchase(maria, "0.01", first, "A"),
    }
    for n in range(8):
        made[f"N{n}"] = make_purchase(
            maria if n % 2 else joao, f"{150 + n * 37}.90", today - timedelta(days=n), f"NF-{40_000 + n}"
        )
    purchase_approve(purchase=made["N1"], reviewer=reviewer)
    purchase_reject(purchase=made["N2"], reviewer=reviewer, reason="Nota fiscal ilegível.")
    return made


@pytest.fixture
def staff(db):
    return StaffFactory(is_superuser=True, full_name="Ana Revisora")


def horizontal_overflow(page) -> dict:
    return page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return {
                results: results.scrollWidth - results.clientWidth,
                page: document.documentElement.scrollWidth - window.innerWidth,
            };
        }"""
    )


@pytest.mark.parametrize(
    ("width", "height", "screenshot_name"),
    [(1366, 768, "admin-purchases.png"), (1920, 1080, "admin-purchases-1920.png")],
)
def test_the_purchase_list_fits_the_screen_in_portuguese(
    page, log_in_admin, screenshot, staff, purchases, width, height, screenshot_name
):
    page.set_viewport_size({"width": width, "height": height})
    log_in_admin(page, staff, CHANGELIST)
    page.wait_for_selector("#result_list")

    # Taken first, so that a failure below leaves the picture of it.
    screenshot(page, screenshot_name)

    # Every column in view, with no horizontal scrolling of the list or the page.
    headers = page.locator("#result_list thead th")
    assert [text.strip() for text in headers.all_inner_texts()][1:] == [
        "CÓDIGO", "REVENDEDOR", "VALOR", "DATA", "STATUS", "CASHBACK",
    ]  # fmt: skip
    results = page.locator("#changelist .results").bounding_box()
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box["x"] >= results["x"]
        assert box["x"] + box["width"] <= results["x"] + results["width"], headers.nth(index).inner_text()
        assert box["x"] + box["width"] <= width
    assert horizontal_overflow(page) == {"results": 0, "page": 0}

    row = page.locator("#result_list tbody tr", has_text="NF-2026-000000123456-SP")
    assert "R$ 1.202,14" in row.inner_text()
    assert timezone.localdate().strftime("%d/%m/%Y") in row.inner_text()
    assert "R$ 1.000.000,00" in page.locator("#result_list tbody tr", has_text="NF-MAX-VALUE").inner_text()
    # Codes never wrap: the longest is on one line, as tall as a short one,
    # ending in an ellipsis with the whole code in its tooltip.
    long_code = page.locator(f".purchase-code[title='{LONGEST_CODE}']")
    short_code = page.locator(".purchase-code[title='NF-MAX-VALUE']")
    assert long_code.bounding_box()["height"] == short_code.bounding_box()["height"]
    assert row.locator(".purchase-code").evaluate("code => code.scrollWidth <= code.clientWidth")
    # Money is right-aligned.
    value_cell = row.locator(".field-value_display")
    assert value_cell.evaluate("cell => getComputedStyle(cell).textAlign") == "right"

    filters = page.locator("#changelist-filter").inner_text()
    for text in ["Por status", "Por mês", "Por data"]:
        assert text in filters
    assert page.locator("#changelist-filter input[placeholder='Data inicial']").is_visible()


def test_staff_approves_on_the_purchase_page(live_server, page, log_in_admin, screenshot, staff, purchases):
    purchase = purchases["BIG"]
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, f"{CHANGELIST}{purchase.pk}/change/")
    page.wait_for_selector(".purchase-review")
    content = page.locator("#content-main").inner_text()
    assert "R$ 1.202,14" in content
    screenshot(page, "admin-purchases-change.png", full_page=True)

    page.click(".purchase-review input[name=_approve]")
    page.wait_for_selector(".messagelist")
    assert "Compra NF-2026-000000123456-SP aprovada." in page.locator(".messagelist").inner_text()
    assert page.url.endswith(CHANGELIST)  # back to the list
    page.goto(f"{live_server.url}{CHANGELIST}{purchase.pk}/change/")
    assert page.locator(".purchase-review").count() == 0  # reviewed: no more buttons
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.APPROVED
    assert purchase.reviewed_by == staff


def test_reviewing_keeps_the_lists_place_and_leaves_history(
    live_server, page, log_in_admin, screenshot, staff, purchases
):
    """From the pending purchases of the list: approve and go to the next
    pending, reject that one and go back to the list; the filter holds all
    along, and each purchase's "Histórico" shows its review."""
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, f"{CHANGELIST}?status__exact=validating")
    rows = page.locator("#result_list tbody tr")
    first_code = rows.nth(0).locator("th a, td a").first.inner_text()
    second_code = rows.nth(1).locator("th a, td a").first.inner_text()
    rows.nth(0).locator("th a, td a").first.click()
    page.wait_for_selector(".purchase-review")
    assert "_changelist_filters=status__exact%3Dvalidating" in page.url

    page.click(".purchase-review input[name=_next_pending]")
    page.wait_for_selector(".messagelist")
    assert f"Compra {first_code} aprovada." in page.locator(".messagelist").inner_text()
    assert second_code in page.locator("#content").inner_text()  # the next pending, in the list's order
    assert "_changelist_filters=status__exact%3Dvalidating" in page.url
    screenshot(page, "admin-purchases-next-pending.png", full_page=True)

    page.click(".purchase-review a.purchase-reject")
    page.fill("textarea[name=reason]", "Nota fiscal duplicada.")
    page.click("input[type=submit][value=Reprovar]")
    page.wait_for_selector(".messagelist")
    assert page.url.endswith(f"{CHANGELIST}?status__exact=validating")
    assert page.locator("#changelist-filter .selected").first.inner_text() == "Em validação"
    screenshot(page, "admin-purchases-after-review.png", full_page=True)
    assert first_code not in page.locator("#result_list").inner_text()

    reviewed = Purchase.objects.get(code=second_code)
    page.goto(f"{live_server.url}{CHANGELIST}{reviewed.pk}/history/")
    history = page.locator("#content").inner_text()
    assert "Reprovada: Nota fiscal duplicada." in history
    assert "Ana Revisora" in history or staff.email in history
    screenshot(page, "admin-purchases-history.png", full_page=True)
    page.goto(f"{live_server.url}/admin/")
    assert second_code in page.locator("#recent-actions-module").inner_text()


def test_staff_rejects_on_the_purchase_page_with_a_reason(live_server, page, log_in_admin, staff, purchases):
    purchase = purchases["MAX"]
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, f"{CHANGELIST}{purchase.pk}/change/")
    page.click(".purchase-review a.purchase-reject")
    page.wait_for_selector("textarea[name=reason]")
    assert "R$ 1.000.000,00" in page.locator("#content").inner_text()

    page.click("input[type=submit][value=Reprovar]")  # no reason: the form says it is required
    assert page.locator("textarea[name=reason]").is_visible()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.VALIDATING

    page.fill("textarea[name=reason]", "Valor acima do limite da nota.")
    page.click("input[type=submit][value=Reprovar]")
    page.wait_for_selector(".messagelist")
    assert "Compra NF-MAX-VALUE reprovada." in page.locator(".messagelist").inner_text()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REJECTED
    assert purchase.rejection_reason == "Valor acima do limite da nota."


def test_staff_filters_by_dates_and_exports_the_filtered_list(
    live_server, page, log_in_admin, staff, purchases
):
    today = timezone.localdate()
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, CHANGELIST)
    page.wait_for_selector("#result_list")

    page.fill("#changelist-filter input[placeholder='Data inicial']", today.strftime("%d/%m/%Y"))
    page.fill("#changelist-filter input[placeholder='Data final']", today.strftime("%d/%m/%Y"))
    page.click("#changelist-filter .admindatefilter input[type=submit]")
    page.wait_for_url("**date__range__gte=*")
    shown = sorted(page.locator("#result_list tbody .field-code_display").all_inner_texts())
    expected = sorted(p.code for p in purchases.values() if p.date == today)
    assert shown == expected

    # The export's page: the format (a Brazilian spreadsheet unless changed),
    # then the job's page, where the file's link appears once it is written.
    page.click("a.purchase-export")
    page.wait_for_selector("input[name=dialect]")
    assert page.locator("input[name=dialect][value=pt-BR]").is_checked()
    page.click("input[type=submit][value=Exportar]")
    page.wait_for_url("**/admin/core/job/*/change/")
    with page.expect_download() as download_info:
        page.click(".field-file_link a")
    download = download_info.value
    assert download.suggested_filename.startswith(f"compras-{today.isoformat()}-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header[:4] == ["Id", "Código", "Data", "Valor"]
    assert sorted(row[1] for row in rows) == expected
    assert next(row for row in rows if row[1] == "NF-MAX-VALUE")[3] == "1000000,00"
