"""Abuse of the credential routes: refresh after the account changed, the
admin login's brute-force limit, registration per address, and identifiers
that cannot be text."""

import jwt
import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.serializers import tokens_for
from accounts.tests.factories import PASSWORD, StaffFactory, UserFactory
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_refresh_of_a_deleted_user_is_401(api_client):
    user = UserFactory()
    refresh = tokens_for(user)["refresh"]
    user.delete()
    response = api_client.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_refresh_of_a_deactivated_user_is_401(api_client):
    user = UserFactory()
    refresh = tokens_for(user)["refresh"]
    user.is_active = False
    user.save()
    assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 401


def test_refresh_reads_is_staff_again(api_client):
    staff = StaffFactory()
    refresh = tokens_for(staff)["refresh"]
    assert _claims(refresh)["is_staff"] is True
    staff.is_staff = False
    staff.save()

    response = api_client.post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert _claims(response.json()["access"])["is_staff"] is False
    assert _claims(response.json()["refresh"])["is_staff"] is False
    # The old refresh token was rotated out.
    assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 401


def test_admin_login_has_the_api_logins_brute_force_limit(settings):
    staff = StaffFactory()
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_failures"].split("/")[0])
    client = Client()
    for _ in range(rate):
        response = client.post("/admin/login/", {"username": staff.email, "password": "wrong"})
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
    # The right password no longer opens the admin from this address...
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    # ...nor the API: one budget for both doors.
    api = APIClient()
    assert api.post(LOGIN, {"email": staff.email, "password": PASSWORD}, format="json").status_code == 429
    # Another address is not locked out.
    other = Client(REMOTE_ADDR="10.9.9.9")
    other.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert "_auth_user_id" in other.session


def test_failures_from_other_addresses_do_not_lock_the_owner_out(api_client, settings):
    reseller = ResellerFactory(cpf="15350946056")
    for index in range(30):
        api_client.post(
            LOGIN, {"cpf": "15350946056", "password": "x"}, format="json", REMOTE_ADDR=f"10.1.{index}.1"
        )
    response = api_client.post(
        LOGIN, {"email": reseller.user.email, "password": PASSWORD}, format="json", REMOTE_ADDR="10.2.0.1"
    )
    assert response.status_code == 200


def test_registration_is_throttled_per_address(api_client, settings):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["registration"].split("/")[0])
    for index in range(rate):
        body = {"full_name": "Ana", "cpf": "1", "email": f"a{index}@example.com", "password": "x"}
        assert api_client.post("/api/v1/resellers/", body, format="json").status_code == 400
    response = api_client.post("/api/v1/resellers/", {}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    other = api_client.post("/api/v1/resellers/", {}, format="json", REMOTE_ADDR="10.3.0.1")
    assert other.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        '{"email": "a\\ud800@example.com", "password": "x"}',
        '{"cpf": "153.509.460-5\\udfff", "password": "x"}',
        '{"email": "a\\u0000@example.com", "password": "x"}',
    ],
)
def test_login_identifiers_that_are_not_text_are_400(body):
    response = APIClient().post(LOGIN, body, content_type="application/json")
    assert response.status_code == 400
