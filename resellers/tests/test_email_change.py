"""PATCH /api/v1/resellers/me/ with a new e-mail address: an access token
alone is not enough (the current password is checked, under the password
change's throttle), and the previous address is told, after the change
commits, with the time and a way to take the account back."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.emails import masked_email
from accounts.models import User
from accounts.serializers import WRONG_PASSWORD_MESSAGE
from accounts.tests.factories import PASSWORD
from conftest import CACHE_DOWN, EN, authenticated_client
from resellers.serializers import EMAIL_CHANGE_NEEDS_PASSWORD_MESSAGE
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/resellers/me/"
NEW_EMAIL = "maria.nova@example.org"
# 15:04 UTC is 12:04 in São Paulo (UTC-3).
CHANGED_AT = "2026-03-20 15:04:05+00:00"


@pytest.fixture(autouse=True)
def clock():
    # Autouse, so the tokens of the clients are issued at this time too.
    with time_machine.travel(CHANGED_AT, tick=False):
        yield


def patch(client, body, **headers):
    return client.patch(ME, body, format="json", **headers)


def stored(user) -> dict:
    return User.objects.values().get(pk=user.pk)


@pytest.fixture
def change(reseller, reseller_client, django_capture_on_commit_callbacks):
    """PATCH as the reseller, running what waits for the commit."""

    def run(body, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return patch(reseller_client, body, **headers)

    return run


# --- The password ------------------------------------------------------------


def test_a_new_address_without_the_current_password_is_refused(reseller, change):
    before = stored(reseller.user)
    response = change({"email": NEW_EMAIL}, **EN)
    assert response.status_code == 400
    assert response.json() == {"current_password": [str(EMAIL_CHANGE_NEEDS_PASSWORD_MESSAGE)]}
    assert response.json()["current_password"][0].startswith("Send the current password")
    assert stored(reseller.user) == before
    assert mail.outbox == []


def test_the_missing_password_message_is_in_portuguese_by_default(change):
    response = change({"email": NEW_EMAIL, "full_name": "Maria Nova"})
    assert response.json() == {"current_password": ["Envie a senha atual para mudar o endereço de e-mail."]}


@pytest.mark.parametrize("password", ["wrong", "", PASSWORD.upper(), f" {PASSWORD}"])
def test_a_wrong_current_password_changes_nothing(reseller, change, password):
    before = stored(reseller.user)
    response = change({"email": NEW_EMAIL, "full_name": "Maria Nova", "current_password": password})
    assert response.status_code == 400
    assert list(response.json()) == ["current_password"]
    assert stored(reseller.user) == before
    assert mail.outbox == []


def test_the_wrong_password_message_is_the_password_change_one(change):
    response = change({"email": NEW_EMAIL, "current_password": "wrong"}, **EN)
    assert response.json() == {"current_password": [str(WRONG_PASSWORD_MESSAGE)]}


@pytest.mark.parametrize("password", [None, 42, ["x"], "x" * 129])
def test_a_current_password_that_is_not_a_short_string_is_a_400(reseller, change, password):
    before = stored(reseller.user)
    response = change({"email": NEW_EMAIL, "current_password": password})
    assert response.status_code == 400
    assert list(response.json()) == ["current_password"]
    assert stored(reseller.user) == before


def test_the_right_password_changes_the_address(reseller, change):
    response = change({"email": " Maria.Nova@Example.ORG ", "current_password": PASSWORD})
    assert response.status_code == 200, response.json()
    assert response.json()["email"] == NEW_EMAIL
    assert "current_password" not in response.json()
    assert stored(reseller.user)["email"] == NEW_EMAIL
    # The account signs in with the new address and the same password.
    login = APIClient().post("/api/v1/auth/token/", {"email": NEW_EMAIL, "password": PASSWORD}, format="json")
    assert login.status_code == 200


def test_the_name_alone_needs_no_password_and_tells_nobody(reseller, change):
    response = change({"full_name": "Maria Nova"})
    assert response.status_code == 200
    assert stored(reseller.user)["full_name"] == "Maria Nova"
    assert mail.outbox == []


@pytest.mark.parametrize("body", [{}, {"current_password": PASSWORD}])
def test_the_same_address_is_no_change_and_no_message(reseller, change, body):
    before = stored(reseller.user)
    response = change({"email": f"  {reseller.user.email.upper()}", **body})
    assert response.status_code == 200
    assert response.json()["email"] == reseller.user.email
    assert stored(reseller.user) == before
    assert mail.outbox == []


def test_an_address_in_use_is_refused_and_tells_nobody(reseller, change):
    other = ResellerFactory()
    response = change({"email": other.user.email, "current_password": PASSWORD})
    assert response.status_code == 400
    assert list(response.json()) == ["email"]
    assert mail.outbox == []


# --- The message to the previous address -------------------------------------


def notice(reseller, change, **headers):
    old = reseller.user.email
    response = change({"email": NEW_EMAIL, "current_password": PASSWORD}, **headers)
    assert response.status_code == 200, response.json()
    (message,) = mail.outbox
    assert message.to == [old]
    return message


def test_the_previous_address_is_told_in_portuguese(reseller, change):
    message = notice(reseller, change)
    assert message.subject == "O e-mail da sua conta foi alterado — Cashback de revendedores"
    body = message.body
    assert "20/03/2026 às 12:04 (horário de Brasília)" in body
    assert "m***@example.org" in body
    assert NEW_EMAIL not in body
    assert "Se não foi você" in body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert 'lang="pt-br"' in html
    assert "20/03/2026 às 12:04" in html
    assert "m***@example.org" in html
    assert NEW_EMAIL not in html


def test_the_previous_address_is_told_in_the_request_language(reseller, change):
    message = notice(reseller, change, **EN)
    assert message.subject == "The e-mail address of your account was changed — Reseller cashback"
    assert "20/03/2026 at 12:04 (Brasília time)" in message.body
    assert "m***@example.org" in message.body
    assert "If it was not you" in message.body


def test_the_message_leaves_only_after_the_change_commits(reseller, reseller_client):
    response = patch(reseller_client, {"email": NEW_EMAIL, "current_password": PASSWORD})
    assert response.status_code == 200
    # The test's transaction never commits: nothing was sent.
    assert mail.outbox == []


def test_the_message_carries_a_reset_link_that_takes_the_account_back(reseller, change, settings):
    settings.PUBLIC_BASE_URL = "https://cashback.example.com"
    message = notice(reseller, change)
    url = re.search(r"https?://\S+", message.body).group()
    assert url.startswith("https://cashback.example.com/conta/redefinir-senha/?uid=")
    query = parse_qs(urlsplit(url).query)
    new_password = "0utra-Senha-Forte-2025"
    confirm = APIClient().post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": query["uid"][0], "token": query["token"][0], "new_password": new_password},
        format="json",
    )
    assert confirm.status_code == 204
    assert User.objects.get(pk=reseller.user_id).check_password(new_password)


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("maria.nova@example.org", "m***@example.org"),
        ("m@example.org", "m***@example.org"),
        ("ana+loja@mail.example.com.br", "a***@mail.example.com.br"),
    ],
)
def test_the_new_address_is_masked(address, masked):
    assert masked_email(address) == masked


# --- Guessing the password through this route -----------------------------------


def test_password_checks_share_the_password_change_budget(reseller, reseller_client, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "password", "2/hour")
    wrong = {"email": NEW_EMAIL, "current_password": "wrong"}
    assert [patch(reseller_client, wrong).status_code for _ in range(2)] == [400, 400]
    refused = patch(reseller_client, {"email": NEW_EMAIL, "current_password": PASSWORD})
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert stored(reseller.user)["email"] == reseller.user.email
    # The password change route draws on the same budget.
    change_password = reseller_client.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "0utra-Senha-Forte-2025"},
        format="json",
    )
    assert change_password.status_code == 429
    # What checks no password is not counted, nor refused.
    assert patch(reseller_client, {"full_name": "Maria Nova"}).status_code == 200
    assert patch(reseller_client, {"email": NEW_EMAIL}).status_code == 400
    # Another account has its own budget.
    other = authenticated_client(ResellerFactory().user)
    assert patch(other, wrong).status_code == 400


def test_requests_without_a_password_do_not_use_the_budget(reseller_client, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "password", "1/hour")
    for _ in range(3):
        assert patch(reseller_client, {"full_name": "Maria Nova"}).status_code == 200
        assert patch(reseller_client, {"email": NEW_EMAIL}).status_code == 400
    assert patch(reseller_client, {"email": NEW_EMAIL, "current_password": PASSWORD}).status_code == 200


def test_a_password_check_fails_closed_when_the_throttle_store_is_down(reseller, reseller_client):
    with override_settings(CACHES=CACHE_DOWN):
        response = patch(reseller_client, {"email": NEW_EMAIL, "current_password": PASSWORD})
    assert response.status_code == 503
    assert response.json()["code"] == "throttle_unavailable"
    assert stored(reseller.user)["email"] == reseller.user.email


# --- The schema ----------------------------------------------------------------


def test_the_schema_documents_the_write_only_current_password():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/resellers/me/"]["patch"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    field = request["properties"]["current_password"]
    assert field["writeOnly"] is True
    assert "e-mail" in field["description"]
    assert "current_password" not in request.get("required", [])
    output = schema["components"]["schemas"]["ResellerOutput"]
    assert "current_password" not in output["properties"]
