"""The reset page in Chromium: a reseller follows the link of the e-mail,
sees the rules, trips one, then sets a new password (1366 px and a phone)."""

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW = "0utra-Senha-Forte-2025"


def emailed_url(user) -> str:
    mail.outbox.clear()
    response = APIClient().post("/api/v1/auth/password/reset/", {"email": user.email}, format="json")
    assert response.status_code == 202
    (message,) = mail.outbox
    return re.search(r"https?://\S+", message.body).group()


def test_a_reseller_resets_the_password_from_the_emailed_link(live_server, page, screenshot, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    user = UserFactory(full_name="Maria Souza")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(emailed_url(user))

    assert page.locator("h1").inner_text() == "Escolha uma nova senha"
    assert "Sua senha não pode ser inteiramente numérica." in page.locator(".rules").inner_text()
    assert page.locator("input[name=token]").input_value() != ""
    # The form is a readable column, not the width of the screen.
    assert page.locator("form").bounding_box()["width"] < 500
    screenshot(page, "reset-page-1366.png", full_page=True)

    page.fill("#id_new_password1", "12345678901")
    page.fill("#id_new_password2", "12345678901")
    page.click("button[type=submit]")
    assert "Esta senha é inteiramente numérica." in page.locator(".errorlist").first.inner_text()
    screenshot(page, "reset-page-weak.png", full_page=True)

    page.fill("#id_new_password1", NEW)
    page.fill("#id_new_password2", NEW)
    page.click("button[type=submit]")
    assert "Sua senha foi alterada." in page.locator(".success").inner_text()
    screenshot(page, "reset-page-done.png", full_page=True)
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert not user.check_password(PASSWORD)


def test_the_reset_page_fits_a_phone(live_server, page, screenshot, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(emailed_url(UserFactory()))
    # Nothing scrolls sideways; the button is whole on screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("button[type=submit]").bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 375
    screenshot(page, "reset-page-phone.png", full_page=True)

    page.goto(f"{live_server.url}/conta/redefinir-senha/?uid=MTIz&token=x")
    assert "inválido ou expirou" in page.locator(".error").inner_text()
    screenshot(page, "reset-page-invalid.png", full_page=True)
