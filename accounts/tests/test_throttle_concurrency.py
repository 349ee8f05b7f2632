"""Credential throttles hold under concurrency: of 20 attempts sent together,
exactly the limit gets through, never one more, on the local-memory cache and
on Redis (the Redis cases run when REDIS_URL is set)."""

from types import SimpleNamespace

import pytest
from django.core.cache import caches
from django.test import Client, override_settings
from django.utils import translation
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, StaffFactory
from accounts.throttles import TOO_MANY_ATTEMPTS_MESSAGE
from conftest import EN, authenticated_client, run_together
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPTS = 20
LIMIT = 5
ADDRESS = "10.20.0.1"
LOGIN = "/api/v1/auth/token/"
RESET = "/api/v1/auth/password/reset/"

LOCAL_MEMORY = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "throttle-concurrency",
}


@pytest.fixture(autouse=True, params=["local-memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request):
    """The throttles' cache: local memory, or the Redis of REDIS_URL."""
    if request.param == "redis":
        yield
        return
    with override_settings(CACHES={"default": LOCAL_MEMORY, "strict": LOCAL_MEMORY}):
        caches["default"].clear()
        yield
        caches["default"].clear()


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**rates):
        for scope, rate in rates.items():
            monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, scope, rate)

    return set_rates


def burst(call):
    """``call(index)`` for every attempt, all released at once; the statuses."""
    responses = run_together(*(lambda index=index: call(index) for index in range(ATTEMPTS)))
    return sorted(response.status_code for response in responses)


def test_logins_from_one_address(rates):
    rates(login=f"{LIMIT}/min", login_failures="100/min")
    statuses = burst(
        lambda i: APIClient(REMOTE_ADDR=ADDRESS).post(
            LOGIN, {"email": f"nobody{i}@example.com", "password": "x"}, format="json"
        )
    )
    assert statuses == [401] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_failed_logins_against_one_account(rates):
    rates(login="100/min", login_failures=f"{LIMIT}/min")
    user = ResellerFactory().user
    statuses = burst(
        lambda i: APIClient(REMOTE_ADDR=ADDRESS).post(
            LOGIN, {"email": user.email, "password": "wrong"}, format="json"
        )
    )
    assert statuses == [401] * LIMIT + [429] * (ATTEMPTS - LIMIT)
    right = APIClient(REMOTE_ADDR=ADDRESS).post(
        LOGIN, {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert right.status_code == 429


def test_failed_admin_logins_against_one_account(rates):
    rates(login="100/min", login_failures=f"{LIMIT}/min")
    staff = StaffFactory()
    with translation.override("en"):
        refused = str(TOO_MANY_ATTEMPTS_MESSAGE)

    def attempt(index):
        response = Client(REMOTE_ADDR=ADDRESS).post(
            "/admin/login/", {"username": staff.email, "password": "wrong"}, **EN
        )
        assert response.status_code == 200
        return SimpleNamespace(status_code=429 if refused in response.content.decode() else 401)

    statuses = burst(attempt)
    assert statuses == [401] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_registrations_from_one_address(rates):
    rates(registration=f"{LIMIT}/hour")
    statuses = burst(lambda i: APIClient(REMOTE_ADDR=ADDRESS).post("/api/v1/resellers/", {}, format="json"))
    assert statuses == [400] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_password_changes_of_one_account(rates):
    rates(password=f"{LIMIT}/hour")
    user = ResellerFactory().user
    clients = [authenticated_client(user) for _ in range(ATTEMPTS)]
    body = {"current_password": "wrong", "new_password": "0utra-Senha-2025"}
    statuses = burst(lambda i: clients[i].post("/api/v1/auth/password/change/", body, format="json"))
    assert statuses == [400] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_reset_requests_from_one_address(rates):
    rates(password_reset=f"{LIMIT}/hour")
    statuses = burst(
        lambda i: APIClient(REMOTE_ADDR=ADDRESS).post(
            RESET, {"email": f"nobody{i}@example.com"}, format="json"
        )
    )
    assert statuses == [202] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_reset_requests_for_one_email(rates):
    rates(password_reset=f"{LIMIT}/hour")
    statuses = burst(
        lambda i: APIClient(REMOTE_ADDR=f"10.21.0.{i}").post(
            RESET, {"email": "nobody@example.com"}, format="json"
        )
    )
    assert statuses == [202] * LIMIT + [429] * (ATTEMPTS - LIMIT)
