"""Real-browser checks: headless Debian Chromium driven by Playwright against
a live server. Selected with `-m browser`; CI installs Chromium for them."""

import re

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]


# The `page` fixture fails a test whose page asked for anything off this
# machine; each docs test waits for the network to go idle so that every
# load the page makes after rendering (fonts, logos, badges) is seen.


def test_swagger_ui_renders_operations_offline(live_server, page):
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".opblock", timeout=15_000)
    page.wait_for_load_state("networkidle")
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/purchases/" in " ".join(operations)
    assert "/api/v1/auth/token/" in " ".join(operations)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("API de cashback de revendedores")
    # Its online-validator badge (an image from swagger.io) shows only for a
    # host other than localhost, so this page cannot show it: the setting
    # that turns it off is checked instead.
    assert page.evaluate("ui.getConfigs().validatorUrl") is None


# Swagger UI's own labels, and a few of the schema's texts, in each language.
SWAGGER_TEXTS = {
    "pt-BR": [
        "API de cashback de revendedores",
        "Autorizar",
        "Compras",
        "Listar compras",
        "Parâmetros",
        "Nome",
        "Descrição",
        "(consulta)",
        "Enviar valor vazio",
        "Respostas",
        "Código",
        "Tipo de mídia",
        "Define o cabeçalho Accept.",
        "Exemplo",
        "Esquema",
        "Corpo da requisição",
        "Exemplos:",
        "Esquemas",
    ],
    "en-US": [
        "Reseller Cashback API",
        "Authorize",
        "Purchases",
        "List purchases",
        "Parameters",
        "Name",
        "Description",
        "(query)",
        "Send empty value",
        "Responses",
        "Code",
        "Media type",
        "Controls Accept header.",
        "Example Value",
        "Schema",
        "Request body",
        "Examples:",
        "Schemas",
    ],
}
TRY_IT_OUT = {"pt-BR": ("Experimentar", "Cancelar"), "en-US": ("Try it out", "Cancel")}


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_swagger_ui_reads_in_the_browser_language(live_server, browser, screenshot, locale):
    context = browser.new_context(locale=locale, viewport={"width": 1366, "height": 1400})
    page = context.new_page()
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".opblock", timeout=15_000)
    page.wait_for_load_state("networkidle")
    page.click("#operations-purchases-purchases_create .opblock-summary")
    page.click("#operations-purchases-purchases_list .opblock-summary")
    try_it_out, cancel = TRY_IT_OUT[locale]
    button = page.locator("#operations-purchases-purchases_list .try-out__btn")
    assert button.inner_text().strip() == try_it_out
    # Swagger UI still updates the labels it wrote, translated or not.
    button.click()
    assert button.inner_text().strip() == cancel

    text = page.inner_text("#swagger-ui")
    lines = {line.strip() for line in re.split(r"[\n\t]", text)}
    own, other = SWAGGER_TEXTS[locale], SWAGGER_TEXTS["en-US" if locale == "pt-BR" else "pt-BR"]
    assert set(own) <= lines, set(own) - lines
    # The labels that differ between the languages: none of the other's.
    assert not (set(other) - set(own)) & lines
    assert page.evaluate("document.documentElement.lang").lower().startswith(locale[:2].lower())
    if locale == "pt-BR":
        page.locator("#operations-tag-purchases").scroll_into_view_if_needed()
        screenshot(page, "api-docs-1366.png")

    button.click()
    assert button.inner_text().strip() == try_it_out
    context.close()


def test_redoc_renders_operations_offline(live_server, page):
    page.goto(f"{live_server.url}/api/v1/redoc/")
    page.wait_for_selector("[data-section-id^='operation/']", timeout=20_000)
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().startswith("API de cashback de revendedores")
    operations = page.locator("[data-section-id^='operation/'] h2").all_inner_texts()
    assert len(operations) > 20
    # The sidebar lists them too, and its credit shows without Redocly's logo.
    assert page.locator("[role=menuitem]").count() > 20
    assert page.get_by_text("API docs by Redocly").is_visible()
    assert page.locator("img").count() == 0
    # System fonts, never a web font.
    assert page.evaluate("document.fonts.size") == 0
    body_font = page.evaluate("getComputedStyle(document.querySelector('.api-content')).fontFamily")
    assert body_font.startswith("system-ui")


def test_staff_approves_a_purchase_with_the_admin_bulk_action(live_server, page, make_purchase):
    from accounts.tests.factories import PASSWORD, StaffFactory
    from purchases.models import Purchase

    staff = StaffFactory(is_superuser=True)
    purchase = make_purchase(value="250.00", code="BROWSER-1")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/purchases/purchase/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tbody tr", has_text="BROWSER-1")
    assert "Em validação" in row.inner_text()

    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")

    page.wait_for_selector(".messagelist")
    assert "1" in page.locator(".messagelist").inner_text()
    row = page.locator("#result_list tbody tr", has_text="BROWSER-1")
    assert "Aprovado" in row.inner_text()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.APPROVED
    assert purchase.reviewed_by == staff


@pytest.mark.django_db
def test_the_root_page_leads_a_newcomer_to_the_documentation(live_server, page):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/")
    assert page.title() == "Cashback de revendedores"
    links = page.locator("li a")
    assert links.all_inner_texts() == [
        "Documentação da API (Swagger UI)",
        "Referência da API (ReDoc)",
        "Esquema OpenAPI 3",
        "Área administrativa (equipe)",
        "Verificação de funcionamento (liveness)",
    ]
    # Nothing wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    page.get_by_role("link", name="Documentação da API (Swagger UI)").click()
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.url == f"{live_server.url}/api/v1/docs/"
