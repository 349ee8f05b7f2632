"""A list past the bound in a real browser at 1366 px: "mais de 6 compras"
(the bound lowered to six rows, pages of two: the shape of 10,000 rows of a
million), the search's count, and "select all" naming no number it did not
count. Selected with `-m browser`."""

from datetime import date

import pytest

from accounts.tests.factories import StaffFactory
from core import pagination
from purchases.admin import PurchaseAdmin
from resellers.tests.factories import ResellerFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]

CHANGELIST = "/admin/purchases/purchase/"


@pytest.fixture
def past_the_bound(monkeypatch, make_purchase):
    monkeypatch.setattr(PurchaseAdmin, "list_per_page", 2)
    monkeypatch.setattr(pagination.LargeTablePagination, "max_rows", 6)
    maria = ResellerFactory(user__full_name="Maria Aparecida dos Santos")
    for day in range(1, 10):
        make_purchase(maria, f"{100 + day}.00", date(2026, 3, day), f"NF-{day:03}")


def test_a_list_past_the_bound_reads_more_than_in_the_browser(page, log_in_admin, screenshot, past_the_bound):
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, StaffFactory(is_superuser=True), f"{CHANGELIST}?q=maria")
    page.wait_for_selector("#result_list")
    screenshot(page, "admin-purchases-past-the-bound.png", full_page=True)

    assert "mais de 6 compras" in page.locator("p.paginator").inner_text()
    assert "mais de 6 resultados" in page.locator("#changelist-search").inner_text()
    assert page.locator("p.paginator a.showall").count() == 0
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") == 0

    page.check("#action-toggle")
    question = page.locator(".actions .question")
    assert question.is_visible()
    assert question.inner_text() == "Selecionar todas as compras (mais de 6)"
    question.locator("a").click()
    assert page.locator(".actions .all").inner_text() == "Todas as compras selecionadas (mais de 6)"
