"""Sessions end with the credentials, and a refresh token works once.

Every token carries a keyed digest of the account's password hash; refresh
(and authentication) compare it with the account as it is now, so any
password change ends every session, however it is made: the API, the admin's
forms, ``manage.py changepassword`` or a ``set_password`` anywhere. The
blacklist is not what ends them (a snapshot of it misses rotations in flight).
"""

import re
import threading
import time
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.management.commands import changepassword
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken

from accounts import services
from accounts.models import User
from accounts.serializers import tokens_for
from accounts.tests.factories import PASSWORD, UserFactory
from conftest import EN, authenticated_client, committed, run_together

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"
CHANGE = "/api/v1/auth/password/change/"
RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
NEW = "0utra-Senha-Forte-2025"


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


def test_the_used_token_message_is_in_portuguese_by_default(user):
    tokens = tokens_for(user)
    assert refresh(tokens["refresh"]).status_code == 200
    assert refresh(tokens["refresh"]).json()["detail"] == "O token já foi usado ou revogado."
    english = APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json", **EN)
    assert english.json()["detail"] == "Token is blacklisted"


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


@pytest.fixture
def without_blacklisting(monkeypatch):
    """The password routes' blacklisting of outstanding tokens switched off:
    what ends the sessions must not depend on it."""
    monkeypatch.setattr(services, "user_sessions_end", lambda *, user: None)


# --- Every way of changing a password ---------------------------------------


def test_the_admins_password_form_for_a_user_ends_their_sessions(admin_client, user):
    sessions = [tokens_for(user) for _ in range(2)]
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"usable_password": "true", "password1": NEW, "password2": NEW},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == f"/admin/accounts/user/{user.pk}/change/"
    assert User.objects.get(pk=user.pk).check_password(NEW)
    for session in sessions:
        assert_invalid_token(refresh(session["refresh"]))


def test_disabling_password_login_in_the_admin_ends_the_sessions(admin_client, user):
    session = tokens_for(user)
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == f"/admin/accounts/user/{user.pk}/change/"
    assert not User.objects.get(pk=user.pk).has_usable_password()
    assert_invalid_token(refresh(session["refresh"]))


def test_the_admins_own_password_change_ends_their_api_sessions(admin_user):
    session = tokens_for(admin_user)
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/password_change/",
        {"old_password": "password", "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == "/admin/password_change/done/"
    # The admin's own session goes on (Django updates it), the API's end.
    assert client.get("/admin/").status_code == 200
    assert_invalid_token(refresh(session["refresh"]))


def test_manage_py_changepassword_ends_the_sessions(user):
    session = tokens_for(user)
    with mock.patch.object(changepassword.Command, "_get_pass", return_value=NEW):
        call_command("changepassword", user.email, stdout=StringIO())
    assert User.objects.get(pk=user.pk).check_password(NEW)
    assert_invalid_token(refresh(session["refresh"]))


def test_set_password_and_save_anywhere_ends_the_sessions(user):
    session = tokens_for(user)
    user.set_password(NEW)
    user.save()
    assert_invalid_token(refresh(session["refresh"]))


def test_a_password_written_by_a_queryset_update_ends_the_sessions(user):
    session = tokens_for(user)
    User.objects.filter(pk=user.pk).update(password=make_password(NEW))
    assert_invalid_token(refresh(session["refresh"]))


def test_setting_the_same_password_again_ends_the_sessions(user):
    # A new salt, a new hash: "log out everywhere" by re-entering the password.
    session = tokens_for(user)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    assert_invalid_token(refresh(session["refresh"]))


@pytest.mark.usefixtures("without_blacklisting")
def test_the_api_change_ends_the_sessions_without_the_blacklist(user):
    session = tokens_for(user)
    response = authenticated_client(user).post(
        CHANGE, {"current_password": PASSWORD, "new_password": NEW}, format="json"
    )
    assert response.status_code == 204
    assert_invalid_token(refresh(session["refresh"]))


@pytest.mark.usefixtures("without_blacklisting")
def test_the_api_reset_ends_the_sessions_without_the_blacklist(user):
    session = tokens_for(user)
    with committed():
        assert APIClient().post(RESET, {"email": user.email}, format="json").status_code == 202
    (message,) = mail.outbox
    url = re.search(r"https?://\S+", message.body).group()
    link = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("#")[0].split("&"))
    response = APIClient().post(
        CONFIRM, {"uid": link["uid"], "token": link["token"], "new_password": NEW}, format="json"
    )
    assert response.status_code == 204
    assert_invalid_token(refresh(session["refresh"]))


def test_a_rotation_that_read_the_account_before_a_change_gives_a_dead_token(user):
    # A refresh in flight: it read the account, then the password changed
    # (and the change blacklisted what was outstanding), then it issued the
    # new pair. That pair must not outlive the change.
    snapshot = User.objects.get(pk=user.pk)
    response = authenticated_client(user).post(
        CHANGE, {"current_password": PASSWORD, "new_password": NEW}, format="json"
    )
    assert response.status_code == 204
    late = tokens_for(snapshot)
    assert_invalid_token(refresh(late["refresh"]))


def test_the_new_password_opens_a_session_that_renews(user):
    user.set_password(NEW)
    user.save()
    login = APIClient().post(LOGIN, {"email": user.email, "password": NEW}, format="json")
    assert login.status_code == 200
    renewed = refresh(login.json()["refresh"])
    assert renewed.status_code == 200
    assert refresh(renewed.json()["refresh"]).status_code == 200


def test_a_token_without_the_credentials_claim_is_refused(user):
    # Tokens issued before the claim existed, or minted by other code.
    assert_invalid_token(refresh(str(RefreshToken.for_user(user))))


# --- Access tokens -------------------------------------------------------------


@pytest.mark.parametrize("cache_seconds", [0, 30])
def test_the_access_token_ends_with_the_password(
    user, settings, cache_seconds, django_capture_on_commit_callbacks
):
    settings.AUTH_USER_CACHE_SECONDS = cache_seconds
    client = authenticated_client(user)
    assert client.get(ME).status_code == 200
    assert client.get(ME).status_code == 200  # from the cache, when it is on
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password(NEW)
        user.save()
    assert_invalid_token(client.get(ME))


def test_the_api_change_refuses_the_callers_own_access_token_next(
    user, settings, django_capture_on_commit_callbacks
):
    settings.AUTH_USER_CACHE_SECONDS = 30
    client = authenticated_client(user)
    assert client.get(ME).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CHANGE, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 204
    assert_invalid_token(client.get(ME))


@pytest.mark.parametrize("cache_seconds", [0, 30])
def test_an_access_token_without_the_credentials_claim_is_refused(user, settings, cache_seconds):
    settings.AUTH_USER_CACHE_SECONDS = cache_seconds
    assert authenticated_client(user).get(ME).status_code == 200  # the cache is filled
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    assert_invalid_token(client.get(ME))


def test_the_access_token_check_costs_no_query_on_a_cached_request(user, settings, django_assert_num_queries):
    settings.AUTH_USER_CACHE_SECONDS = 30
    client = authenticated_client(user)
    assert client.get(ME).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(ME).status_code == 200


# --- A password change racing rotations, against PostgreSQL ------------------


def _change_through_the_api(user):
    response = authenticated_client(user).post(
        CHANGE, {"current_password": PASSWORD, "new_password": NEW}, format="json"
    )
    assert response.status_code == 204


def _change_through_the_admin(user):
    admin = User.objects.create_superuser(email="root@example.com", password=PASSWORD, full_name="Root")
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"usable_password": "true", "password1": NEW, "password2": NEW},
    )
    assert response.status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", [_change_through_the_api, _change_through_the_admin])
def test_no_rotation_chain_outlives_a_password_change(change):
    """Ten clients keep rotating their refresh tokens while the password
    changes: once the change has answered, no refresh of any chain succeeds,
    not even with a token a rotation in flight handed out during the change."""
    user = UserFactory()
    chains = [tokens_for(user)["refresh"] for _ in range(10)]
    rotations = [0] * len(chains)
    # Refreshes answered before the change began that failed, refreshes sent
    # after it answered that succeeded, and any answer but 200 or the invalid
    # token's 401.
    early_failures, late_successes, wrong_answers = [], [], []
    changing, changed, stop = threading.Event(), threading.Event(), threading.Event()
    barrier = threading.Barrier(len(chains) + 1)

    def rotate(index):
        try:
            barrier.wait()
            while not stop.is_set():
                sent_after = changed.is_set()
                response = refresh(chains[index])
                answered_before = not changing.is_set()
                if response.status_code == 200:
                    chains[index] = response.json()["refresh"]
                    rotations[index] += 1
                    if sent_after:
                        late_successes.append(index)
                    continue
                if answered_before:
                    early_failures.append((index, response.status_code))
                if response.status_code != 401 or response.json().get("code") != "token_not_valid":
                    wrong_answers.append((index, response.status_code, response.content))
                break
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate, args=(index,)) for index in range(len(chains))]
    for thread in threads:
        thread.start()
    barrier.wait()
    # Every chain is rotating before the change starts.
    deadline = time.monotonic() + 20
    while min(rotations) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    changing.set()
    change(user)
    changed.set()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert early_failures == []
    assert wrong_answers == []
    assert min(rotations) >= 2
    assert late_successes == []
    for token in chains:  # including tokens handed out while the change ran
        assert_invalid_token(refresh(token))
