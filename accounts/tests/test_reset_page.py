"""/conta/redefinir-senha/: the page the password reset e-mail links to by
default: the link's uid and token already in the form, the password rules
shown, the API's service behind it, Portuguese by default."""

import re
from html import unescape

import pytest
from django.contrib.auth import password_validation
from django.core import mail
from django.test import Client
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.forms import PASSWORD_MISMATCH_MESSAGE
from accounts.pages import PASSWORD_RESET_DONE_MESSAGE
from accounts.serializers import tokens_for
from accounts.services import INVALID_RESET_LINK_MESSAGE
from accounts.tests.factories import PASSWORD, UserFactory
from conftest import EN, committed

PAGE = "/conta/redefinir-senha/"
NEW = "0utra-Senha-Forte-2025"

pytestmark = pytest.mark.django_db


def emailed_link(user, **headers) -> str:
    """The link of the reset e-mail the API sends for ``user``, as a path."""
    mail.outbox.clear()
    with committed():
        response = APIClient().post(
            "/api/v1/auth/password/reset/", {"email": user.email}, format="json", **headers
        )
    assert response.status_code == 202
    (message,) = mail.outbox
    url = re.search(r"https?://\S+", message.body).group()
    return url.removeprefix("http://127.0.0.1:8000")  # PUBLIC_BASE_URL in the tests


def hidden(html: str, name: str) -> str:
    return unescape(re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html).group(1))


def text(response) -> str:
    return unescape(response.content.decode())


def submit(client, link_page, password=NEW, confirmation=None):
    html = link_page.content.decode()
    return client.post(
        PAGE,
        {
            "csrfmiddlewaretoken": hidden(html, "csrfmiddlewaretoken"),
            "uid": hidden(html, "uid"),
            "token": hidden(html, "token"),
            "new_password1": password,
            "new_password2": password if confirmation is None else confirmation,
        },
    )


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


def test_the_emailed_link_opens_the_page_with_uid_and_token_filled_in(user, client):
    link = emailed_link(user)
    assert link.startswith(PAGE + "?uid=")
    response = client.get(link)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    assert hidden(html, "uid") == query["uid"]
    assert hidden(html, "token") == query["token"]
    assert 'lang="pt-br"' in html
    assert "Escolha uma nova senha" in html
    assert 'name="csrfmiddlewaretoken"' in html
    # Every password rule, in Portuguese; nothing loaded from elsewhere.
    rules = password_validation.password_validators_help_texts()
    assert len(rules) == 4
    for rule in rules:
        assert rule in text(response)
    assert "Sua senha não pode ser inteiramente numérica." in text(response)
    assert "<script" not in html
    assert "src=" not in html
    assert "href=" not in html
    assert "no-cache" in response["Cache-Control"]
    assert "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'" in html


def test_the_page_is_in_english_on_request(user, client):
    response = client.get(emailed_link(user, **EN), **EN)
    assert 'lang="en"' in response.content.decode()
    assert "Choose a new password" in text(response)
    assert "Your password can’t be entirely numeric." in text(response)  # noqa: RUF001 (Django's text)


def test_a_good_password_is_set_and_every_session_ends(user, client):
    refresh = tokens_for(user)["refresh"]
    response = submit(client, client.get(emailed_link(user)))
    assert response.status_code == 200
    assert str(PASSWORD_RESET_DONE_MESSAGE) in text(response)
    assert "Sua senha foi alterada." in text(response)
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert not user.check_password(PASSWORD)
    answer = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert answer.status_code == 401


def test_the_link_works_once(user, client):
    link = client.get(emailed_link(user))
    assert str(PASSWORD_RESET_DONE_MESSAGE) in text(submit(client, link))
    again = submit(client, link, password="Terceira-Senha-2026")
    assert "Este link de redefinição de senha é inválido ou expirou. Peça um novo." in text(again)
    user.refresh_from_db()
    assert user.check_password(NEW)
    # And opening it again says so before asking for a password.
    reopened = client.get(PAGE + "?" + link.request["QUERY_STRING"])
    assert str(INVALID_RESET_LINK_MESSAGE) in text(reopened)
    assert "<form" not in reopened.content.decode()


@pytest.mark.parametrize(
    "query",
    ["", "?uid=MTIz&token=wrong", "?uid=%C3%A9&token=x", "?token=only"],
    ids=["nothing", "wrong-token", "bad-uid", "no-uid"],
)
def test_a_bad_link_shows_the_portuguese_error_and_no_form(user, client, query):
    response = client.get(PAGE + query)
    assert response.status_code == 200
    assert "Este link de redefinição de senha é inválido ou expirou. Peça um novo." in text(response)
    assert "<form" not in response.content.decode()


def test_a_tampered_token_in_the_form_shows_the_link_error(user, client):
    link = client.get(emailed_link(user))
    html = link.content.decode()
    response = client.post(
        PAGE,
        {
            "csrfmiddlewaretoken": hidden(html, "csrfmiddlewaretoken"),
            "uid": hidden(html, "uid"),
            "token": "x" + hidden(html, "token")[1:],
            "new_password1": NEW,
            "new_password2": NEW,
        },
    )
    assert str(INVALID_RESET_LINK_MESSAGE) in text(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("12345678901", "Esta senha é inteiramente numérica."),
        ("password123", "Esta senha é muito comum."),
        ("Ab1-x", "Esta senha é muito curta. Ela precisa conter pelo menos 8 caracteres."),
    ],
)
def test_a_weak_password_shows_the_portuguese_rule_and_keeps_the_link(user, client, password, error):
    link = client.get(emailed_link(user))
    response = submit(client, link, password=password)
    assert response.status_code == 200
    assert error in text(response)
    # The form again, with the link still in it, and the link still works.
    assert hidden(response.content.decode(), "token") == hidden(link.content.decode(), "token")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert str(PASSWORD_RESET_DONE_MESSAGE) in text(submit(client, response))


def test_the_two_passwords_must_match(user, client):
    response = submit(client, client.get(emailed_link(user)), confirmation=NEW + "x")
    assert str(PASSWORD_MISMATCH_MESSAGE) in text(response)
    assert "Os dois campos de senha não correspondem." in text(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_post_without_the_csrf_token_is_refused(user, client):
    link = client.get(emailed_link(user))
    html = link.content.decode()
    response = Client(enforce_csrf_checks=True).post(
        PAGE,
        {
            "uid": hidden(html, "uid"),
            "token": hidden(html, "token"),
            "new_password1": NEW,
            "new_password2": NEW,
        },
    )
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_posts_are_throttled_per_address_like_the_api(user, client, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "anon", "2/min")
    link = client.get(PAGE + "?uid=MTIz&token=x")  # a GET is not counted
    assert link.status_code == 200
    other = UserFactory()
    page = client.get(emailed_link(other))
    for _ in range(2):
        assert submit(client, page, password="1").status_code == 200
    response = submit(client, page)
    assert response.status_code == 429
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Muitas tentativas. Tente novamente em um minuto." in text(response)
    other.refresh_from_db()
    assert other.check_password(PASSWORD)
