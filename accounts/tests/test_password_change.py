"""POST /api/v1/auth/password/change/: the current password, the password
rules, every session ended, throttled per account and failing closed."""

import pytest
from django.test import override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.serializers import WRONG_PASSWORD_MESSAGE, tokens_for
from accounts.tests.factories import PASSWORD
from conftest import CACHE_DOWN, EN, authenticated_client
from core.serializers import UNKNOWN_FIELD_MESSAGE

URL = "/api/v1/auth/password/change/"
LOGIN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
NEW = "0utra-Senha-Forte-2025"

pytestmark = pytest.mark.django_db


def change(client, current=PASSWORD, new=NEW, **headers):
    return client.post(URL, {"current_password": current, "new_password": new}, format="json", **headers)


def login(email, password):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json")


def test_the_password_changes_and_every_session_ends(reseller):
    user = reseller.user
    sessions = [tokens_for(user) for _ in range(3)]
    client = authenticated_client(user)

    response = change(client)

    assert response.status_code == 204
    assert login(user.email, PASSWORD).status_code == 401
    assert login(user.email, NEW).status_code == 200
    for session in sessions:  # no refresh token issued before the change renews any more
        assert APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json").status_code == 401


def test_a_wrong_current_password_changes_nothing(reseller):
    client = authenticated_client(reseller.user)
    session = tokens_for(reseller.user)
    response = change(client, current="not-the-password", **EN)
    assert response.status_code == 400
    assert response.json() == {"current_password": [str(WRONG_PASSWORD_MESSAGE)]}
    assert login(reseller.user.email, PASSWORD).status_code == 200
    assert APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("new", ["123", "12345678901234", "password", "s3nha"])
def test_the_new_password_follows_the_password_rules(reseller, new):
    response = change(authenticated_client(reseller.user), new=new)
    assert response.status_code == 400
    assert list(response.json()) == ["new_password"]
    assert login(reseller.user.email, PASSWORD).status_code == 200


def test_the_new_password_may_not_resemble_the_name_or_e_mail(reseller):
    user = reseller.user
    response = change(authenticated_client(user), new=user.email)
    assert response.status_code == 400
    assert list(response.json()) == ["new_password"]


def test_staff_change_theirs_too(staff_user):
    assert change(authenticated_client(staff_user)).status_code == 204
    assert login(staff_user.email, NEW).status_code == 200


@pytest.mark.parametrize("body", [{}, {"current_password": PASSWORD}, {"new_password": NEW}])
def test_both_fields_are_required(reseller, body):
    response = authenticated_client(reseller.user).post(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"current_password", "new_password"} - set(body)


def test_an_unknown_field_is_refused(reseller):
    response = authenticated_client(reseller.user).post(
        URL, {"current_password": PASSWORD, "new_password": NEW, "user": 1}, format="json"
    )
    assert response.json() == {"user": [str(UNKNOWN_FIELD_MESSAGE)]}
    assert login(reseller.user.email, PASSWORD).status_code == 200


def test_anonymous_is_401(api_client):
    assert change(api_client).status_code == 401


def test_changes_are_throttled_per_account(reseller, staff_user, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "password", "2/hour")
    client = authenticated_client(reseller.user)
    statuses = [change(client, current="wrong").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    # Another account has its own budget.
    assert change(authenticated_client(staff_user), current="wrong").status_code == 400


def test_it_fails_closed_when_the_throttle_store_is_down(reseller):
    client = authenticated_client(reseller.user)
    with override_settings(CACHES=CACHE_DOWN):
        response = change(client)
    assert response.status_code == 503
    assert response.json()["code"] == "throttle_unavailable"
    assert login(reseller.user.email, PASSWORD).status_code == 200


def test_the_wrong_password_message_is_in_portuguese_by_default(reseller):
    response = change(authenticated_client(reseller.user), current="wrong")
    assert response.json() == {"current_password": ["A senha atual não está correta."]}
