"""The resellers' and users' lists on a 1366-pixel laptop, in Portuguese:
every column in view, no horizontal scrolling, and CPFs, e-mails and dates
never broken across lines. Selected with `-m browser`; the screenshots go to
docs/ with `make screenshots`."""

import pytest

from accounts.tests.factories import StaffFactory, UserFactory
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAMES = [
    "Maria Aparecida dos Santos Figueiredo de Albuquerque",
    "João Pedro Oliveira",
    "Ana Beatriz Cavalcanti de Vasconcelos Rodrigues",
]


@pytest.fixture
def staff(db):
    return StaffFactory(is_superuser=True, full_name="Ana Revisora")


def wrapped_cells(page, selector: str) -> list[str]:
    """The texts of the cells matching ``selector`` that take more than one line."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].filter((cell) => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
            return tops.size > 1;
        }).map((cell) => cell.innerText)""",
        selector,
    )


def overflow(page) -> dict:
    return page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return {
                results: results.scrollWidth - results.clientWidth,
                page: document.documentElement.scrollWidth - window.innerWidth,
            };
        }"""
    )


def test_the_resellers_list_fits_1366_without_breaking_values(page, log_in_admin, screenshot, staff):
    for index, name in enumerate(LONG_NAMES):
        ResellerFactory(
            user__full_name=name,
            user__email=f"{name.split()[0].lower()}.{index}.revendas@exemplo-de-dominio.com.br",
        )
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, "/admin/resellers/reseller/")
    page.wait_for_selector("#result_list")
    screenshot(page, "admin-resellers-1366.png")

    assert overflow(page) == {"results": 0, "page": 0}
    for column in ("field-email", "field-cpf_display", "field-created_on"):
        cells = page.locator(f"#result_list td.{column}")
        assert cells.count() == len(LONG_NAMES), column
        assert wrapped_cells(page, f"#result_list td.{column}") == [], column


def test_the_users_list_fits_1366_without_cutting_dates(page, log_in_admin, screenshot, staff):
    for index, name in enumerate(LONG_NAMES):
        UserFactory(
            full_name=name, email=f"{name.split()[0].lower()}.{index}.contato@exemplo-de-dominio.com.br"
        )
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, "/admin/accounts/user/")
    page.wait_for_selector("#result_list")
    screenshot(page, "admin-users.png")

    assert overflow(page) == {"results": 0, "page": 0}
    headers = [text.strip() for text in page.locator("#result_list thead th").all_inner_texts()]
    assert "DATA DE CADASTRO" in headers
    for column in ("field-email", "field-joined_on"):
        assert wrapped_cells(page, f"#result_list td.{column}") == [], column
    # The day in the Brazilian form, whole.
    dates = page.locator("#result_list td.field-joined_on").all_inner_texts()
    assert all(len(text.strip()) == 10 and text.count("/") == 2 for text in dates), dates
