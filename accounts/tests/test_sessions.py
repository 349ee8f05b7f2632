"""A refresh token works once: a rotation or a logout spends it, and of
concurrent uses exactly one succeeds; the others get the 401 of a
blacklisted token."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import BlacklistMixin

from accounts.serializers import tokens_for
from accounts.tests.factories import UserFactory
from conftest import run_together

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def assert_invalid_token(response):
    """The answer to a token that no longer renews: 401 ``{detail, code}``,
    as for a blacklisted one."""
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "token_not_valid"
    assert isinstance(body["detail"], str)
    assert body["detail"]


# --- A refresh token works once --------------------------------------------------


def test_a_used_refresh_token_is_a_401_with_detail_and_code(user):
    tokens = tokens_for(user)
    assert refresh(tokens["refresh"]).status_code == 200
    assert_invalid_token(refresh(tokens["refresh"]))


def test_a_refresh_that_loses_the_race_is_a_401(user, monkeypatch):
    # Both requests passed the blacklist check before either blacklisted the
    # token: the second to blacklist it loses. Simulated by skipping the check.
    tokens = tokens_for(user)
    assert refresh(tokens["refresh"]).status_code == 200
    monkeypatch.setattr(BlacklistMixin, "check_blacklist", lambda self: None)
    assert_invalid_token(refresh(tokens["refresh"]))


def test_logout_of_a_used_refresh_token_is_a_401(user):
    tokens = tokens_for(user)
    renewed = refresh(tokens["refresh"]).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {renewed['access']}")
    assert_invalid_token(client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json"))


def test_logout_that_loses_the_race_with_a_refresh_is_a_401(user, monkeypatch):
    tokens = tokens_for(user)
    renewed = refresh(tokens["refresh"]).json()
    monkeypatch.setattr(BlacklistMixin, "check_blacklist", lambda self: None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {renewed['access']}")
    assert_invalid_token(client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json"))
    # The renewed session is untouched.
    assert refresh(renewed["refresh"]).status_code == 200


# --- One token, concurrent uses, against PostgreSQL --------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_twenty_concurrent_refreshes_of_one_token_exactly_one_wins():
    user = UserFactory()
    token = tokens_for(user)["refresh"]

    responses = run_together(*(lambda: refresh(token) for _ in range(20)))

    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200] + [401] * 19
    for response in responses:
        if response.status_code == 401:
            assert_invalid_token(response)
    winner = responses[statuses.index(200)].json()
    assert refresh(winner["refresh"]).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_concurrent_logouts_and_refreshes_of_one_token_exactly_one_succeeds():
    user = UserFactory()
    token = tokens_for(user)["refresh"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user)['access']}")

    def log_out():
        return client.post(LOGOUT, {"refresh": token}, format="json")

    responses = run_together(*([lambda: refresh(token)] * 10 + [log_out] * 10))

    successes = [response for response in responses if response.status_code in (200, 204)]
    assert len(successes) == 1
    for response in responses:
        if response not in successes:
            assert_invalid_token(response)
