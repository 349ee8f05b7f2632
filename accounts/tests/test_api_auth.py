from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.serializers import INVALID_CREDENTIALS_MESSAGE, tokens_for
from accounts.tests.factories import PASSWORD, StaffFactory, UserFactory
from conftest import authenticated_client
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"


def login(client, **data):
    return client.post(LOGIN, data, format="json")


def test_login_with_email_in_any_case(api_client):
    ResellerFactory(user__email="maria@example.com")
    response = login(api_client, email="MARIA@example.com", password=PASSWORD)
    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"access", "refresh"}


@pytest.mark.parametrize("cpf", ["153.509.460-56", "15350946056"])
def test_login_with_cpf(api_client, cpf):
    ResellerFactory(cpf="15350946056")
    response = login(api_client, cpf=cpf, password=PASSWORD)
    assert response.status_code == 200, response.json()


def test_access_token_authenticates(api_client):
    reseller = ResellerFactory()
    access = login(api_client, email=reseller.user.email, password=PASSWORD).json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api_client.get(ME).status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "maria@example.com", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"cpf": "15350946056", "password": "wrong-password"},
        {"cpf": "529.982.247-25", "password": PASSWORD},  # valid, unregistered
        {"cpf": "12345", "password": PASSWORD},  # malformed
    ],
)
def test_wrong_credentials_get_one_generic_401(api_client, credentials):
    ResellerFactory(user__email="maria@example.com", cpf="15350946056")
    response = login(api_client, **credentials)
    assert response.status_code == 401
    assert response.json()["detail"] == str(INVALID_CREDENTIALS_MESSAGE)


def test_inactive_user_cannot_log_in(api_client):
    user = UserFactory(is_active=False)
    response = login(api_client, email=user.email, password=PASSWORD)
    assert response.status_code == 401
    assert response.json()["detail"] == str(INVALID_CREDENTIALS_MESSAGE)


@pytest.mark.parametrize(
    "data",
    [
        {"password": PASSWORD},
        {"email": "a@example.com", "cpf": "15350946056", "password": PASSWORD},
        {"email": "a@example.com"},
        {"email": "not-an-email", "password": PASSWORD},
    ],
)
def test_login_bad_shape_is_400(api_client, data):
    assert login(api_client, **data).status_code == 400


def test_login_failures_are_throttled_per_account_and_address(api_client, settings):
    # The e-mail and the CPF of one account share one budget of failures.
    reseller = ResellerFactory(cpf="15350946056")
    email = reseller.user.email
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_failures"].split("/")[0])
    for index in range(rate):
        identifier = {"email": email.upper()} if index % 2 else {"cpf": "153.509.460-56"}
        response = api_client.post(
            LOGIN, {**identifier, "password": "x"}, format="json", REMOTE_ADDR="10.0.1.1"
        )
        assert response.status_code == 401
    response = api_client.post(
        LOGIN, {"cpf": "15350946056", "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.1.1"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    # Failures from that address do not lock the owner out elsewhere.
    response = api_client.post(
        LOGIN, {"email": email, "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.2.2"
    )
    assert response.status_code == 200


def test_login_is_throttled_per_address(api_client, settings):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    for index in range(rate):
        response = login(api_client, email=f"user{index}@example.com", password="x")
        assert response.status_code == 401
    assert login(api_client, email="another@example.com", password="x").status_code == 429


def test_login_throttle_keys_never_hold_the_cpf(api_client):
    ResellerFactory(cpf="15350946056")
    login(api_client, cpf="153.509.460-56", password="x")
    keys = cache.keys("*") if hasattr(cache, "keys") else list(cache._cache.keys())
    assert keys
    assert not any("15350946056" in str(key) or "153.509" in str(key) for key in keys)


def test_refresh_rotates_and_blacklists_the_old_token(api_client):
    user = UserFactory()
    refresh = tokens_for(user)["refresh"]

    response = api_client.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != refresh

    reuse = api_client.post(REFRESH, {"refresh": refresh}, format="json")
    assert reuse.status_code == 401
    assert api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("token", ["garbage", "", "a.b.c"])
def test_refresh_rejects_invalid_tokens(api_client, token):
    response = api_client.post(REFRESH, {"refresh": token}, format="json")
    assert response.status_code in (400, 401)
    assert response.json()


def test_refresh_rejects_expired_token(api_client):
    user = UserFactory()
    with time_machine.travel("2026-01-01 12:00:00+00:00", tick=False):
        refresh = tokens_for(user)["refresh"]
    with time_machine.travel("2026-01-08 12:00:01+00:00", tick=False):
        assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 401


def test_access_token_expires_after_15_minutes():
    user = UserFactory()
    with time_machine.travel("2026-01-01 12:00:00+00:00", tick=False):
        client = authenticated_client(user)
    with time_machine.travel("2026-01-01 12:14:59+00:00", tick=False):
        assert client.get(ME).status_code == 200
    with time_machine.travel("2026-01-01 12:15:01+00:00", tick=False):
        response = client.get(ME)
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"


def test_token_lifetimes_follow_the_spec():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=15)
    assert settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] == timedelta(days=7)


def test_logout_blacklists_the_refresh_token():
    user = UserFactory()
    tokens = tokens_for(user)
    client = authenticated_client(user)

    response = client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204

    again = client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_logout_refuses_someone_elses_token():
    victim, attacker = UserFactory(), UserFactory()
    victim_refresh = tokens_for(victim)["refresh"]
    response = authenticated_client(attacker).post(LOGOUT, {"refresh": victim_refresh}, format="json")
    assert response.status_code == 401
    assert RefreshToken(victim_refresh)  # still valid: not blacklisted


def test_logout_requires_authentication(api_client):
    user = UserFactory()
    response = api_client.post(LOGOUT, {"refresh": tokens_for(user)["refresh"]}, format="json")
    assert response.status_code == 401


def test_logout_requires_the_refresh_field():
    client = authenticated_client(UserFactory())
    response = client.post(LOGOUT, {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()


def test_me_for_a_reseller(reseller, reseller_client):
    body = reseller_client.get(ME).json()
    assert body == {
        "id": reseller.user.id,
        "email": reseller.user.email,
        "full_name": reseller.user.full_name,
        "is_staff": False,
        "reseller": {
            "id": reseller.id,
            "full_name": reseller.user.full_name,
            "cpf": reseller.cpf_formatted,
            "email": reseller.user.email,
            "created_at": body["reseller"]["created_at"],
        },
    }


def test_me_for_staff(staff_client, staff_user):
    body = staff_client.get(ME).json()
    assert body["is_staff"] is True
    assert body["reseller"] is None
    assert body["id"] == staff_user.id


def test_me_requires_authentication(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_deactivated_user_token_stops_working():
    user = StaffFactory()
    client = authenticated_client(user)
    user.is_active = False
    user.save()
    assert client.get(ME).status_code == 401
