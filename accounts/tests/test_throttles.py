"""The credential throttles: a body they cannot read is the client's error
(415 or 400); they fail closed on a store error, and only then (a bug is a
500 logged as one, not an outage); and they count in fixed windows (their
concurrency: test_throttle_concurrency.py)."""

import logging

import pytest
import redis.exceptions
from django.core.cache import caches
from django.test import Client
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, StaffFactory
from conftest import authenticated_client

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
RESET = "/api/v1/auth/password/reset/"
REGISTER = "/api/v1/resellers/"
CHANGE = "/api/v1/auth/password/change/"


# --- Bodies the throttles read ----------------------------------------------


def post(path, body: bytes, charset: str, client=None):
    client = client or APIClient()
    return client.post(path, data=body, content_type=f"application/json; charset={charset}")


@pytest.mark.parametrize("charset", ["undefined", "punycode", "latin-1", "utf-16"])
@pytest.mark.parametrize("path", [LOGIN, RESET])
def test_a_foreign_charset_on_login_and_reset_is_a_415_not_a_throttle_outage(path, charset):
    response = post(path, b'{"email": "a@example.com", "password": "x"}', charset)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", [LOGIN, RESET])
def test_a_body_the_throttle_cannot_parse_is_a_400(path):
    response = APIClient().post(path, data=b'{"email": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- Store errors, and only them, are an outage -------------------------------


@pytest.fixture
def strict_cache_raises(monkeypatch):
    """Make every counter operation of the throttles' store raise ``error``
    (the strict alias only: the default cache, on the same backend class,
    swallows store errors)."""
    strict = caches["strict"]

    def install(error):
        def fail(self, *args, **kwargs):
            raise error

        for operation in ("incr", "add", "decr", "get", "set"):
            monkeypatch.setattr(strict, operation, fail.__get__(strict))

    return install


STORE_ERRORS = [
    redis.exceptions.ConnectionError("connection refused (test)"),
    redis.exceptions.TimeoutError("timed out (test)"),
    redis.exceptions.ReadOnlyError("replica (test)"),
    TimeoutError("socket timed out (test)"),
]


@pytest.mark.parametrize("error", STORE_ERRORS, ids=lambda error: type(error).__name__)
def test_a_store_error_is_a_503(strict_cache_raises, reseller, error):
    strict_cache_raises(error)
    responses = [
        APIClient().post(LOGIN, {"email": reseller.user.email, "password": PASSWORD}, format="json"),
        APIClient().post(RESET, {"email": reseller.user.email}, format="json"),
        APIClient().post(REGISTER, {}, format="json"),
        authenticated_client(reseller.user).post(
            CHANGE, {"current_password": PASSWORD, "new_password": "0utra-Senha-2025"}, format="json"
        ),
    ]
    for response in responses:
        assert response.status_code == 503
        assert response.json()["code"] == "throttle_unavailable"


@pytest.mark.parametrize("error", [RuntimeError("a bug (test)"), TypeError("a bug (test)"), KeyError("bug")])
def test_an_unrelated_error_in_a_throttle_is_not_disguised_as_an_outage(strict_cache_raises, error, caplog):
    strict_cache_raises(error)
    client = APIClient(raise_request_exception=False)
    with caplog.at_level(logging.WARNING):
        response = client.post(LOGIN, {"email": "a@example.com", "password": "x"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "Throttle store unavailable" not in caplog.text
    # Logged as the error it is, with its traceback.
    assert any(record.exc_info and record.exc_info[0] is type(error) for record in caplog.records)


# --- Counting -----------------------------------------------------------------


def test_successful_logins_use_no_failure_budget(reseller, monkeypatch):
    # Each attempt takes a slot while it is checked and gives it back when it
    # succeeds (or is refused, or is not about credentials at all).
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "login", "100/min")
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "login_failures", "2/min")
    client, email = APIClient(), reseller.user.email
    for _ in range(3):
        assert client.post(LOGIN, {"email": email, "password": PASSWORD}, format="json").status_code == 200
        assert client.post(LOGIN, {"email": email, "cpf": "1"}, format="json").status_code == 400
    assert client.post(LOGIN, {"email": email, "password": "x"}, format="json").status_code == 401
    assert client.post(LOGIN, {"email": email, "password": PASSWORD}, format="json").status_code == 200
    assert client.post(LOGIN, {"email": email, "password": "x"}, format="json").status_code == 401
    for _ in range(2):
        assert client.post(LOGIN, {"email": email, "password": PASSWORD}, format="json").status_code == 429
    assert client.post(LOGIN, {"email": email, "password": "x"}, format="json").status_code == 429


def test_successful_admin_logins_use_no_failure_budget(monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "login", "100/min")
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "login_failures", "1/min")
    staff = StaffFactory()
    for _ in range(3):
        client = Client()
        client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
        assert "_auth_user_id" in client.session
    client = Client()
    client.post("/admin/login/", {"username": staff.email, "password": "wrong"})
    client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("scope", "rate", "path", "body", "retry_after"),
    [
        ("login", "1/min", LOGIN, {"email": "a@example.com", "password": "x"}, 30),
        ("login_failures", "1/min", LOGIN, {"email": "a@example.com", "password": "x"}, 30),
        ("password_reset", "1/hour", RESET, {"email": "a@example.com"}, 3570),
        ("registration", "1/hour", REGISTER, {}, 3570),
    ],
)
def test_a_refusal_says_when_the_window_ends(monkeypatch, scope, rate, path, body, retry_after):
    # The throttles' clock stands half a minute into a minute and into an
    # hour (the root conftest's throttle_clock).
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, scope, rate)
    client = APIClient()
    client.post(path, body, format="json")
    response = client.post(path, body, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response["Retry-After"] == str(retry_after)


def test_a_login_succeeds_when_the_store_fails_after_the_check(monkeypatch, reseller):
    # The attempt was counted; giving its slot back is best effort.
    def fail(*args, **kwargs):
        raise redis.exceptions.ConnectionError("gone (test)")

    monkeypatch.setattr(caches["strict"], "decr", fail)
    response = APIClient().post(LOGIN, {"email": reseller.user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200
