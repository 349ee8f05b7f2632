"""The authentication's cache of each user with their reseller profile
(accounts.authentication): reused between requests, dropped by every
committed change, never holding the password hash."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.authentication import _cache_key, forget_user
from accounts.tests.factories import PASSWORD
from conftest import authenticated_client

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
PROFILE = "/api/v1/resellers/me/"


@pytest.fixture(autouse=True)
def user_cache(settings):
    settings.AUTH_USER_CACHE_SECONDS = 30


def user_queries(client, path=ME):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.json()
    return response, [q["sql"] for q in queries.captured_queries if '"accounts_user"' in q["sql"]]


def test_the_second_request_reads_no_user(reseller, reseller_client):
    first, first_queries = user_queries(reseller_client)
    second, second_queries = user_queries(reseller_client)
    assert len(first_queries) == 1
    assert second_queries == []
    assert second.json() == first.json()
    assert second.json()["reseller"]["id"] == reseller.pk


def test_a_cached_staff_user_has_no_profile(staff_client):
    user_queries(staff_client)
    response, queries = user_queries(staff_client)
    assert queries == []
    assert response.json()["reseller"] is None
    assert response.json()["is_staff"] is True


def test_the_password_hash_is_never_cached(reseller, reseller_client):
    user_queries(reseller_client)
    stored = cache.get(_cache_key(reseller.user_id))
    assert stored is not None
    assert reseller.user.password not in repr(stored)
    assert reseller.user.email in repr(stored)


def test_a_deactivated_user_is_refused_at_once(reseller, reseller_client, django_capture_on_commit_callbacks):
    user_queries(reseller_client)
    with django_capture_on_commit_callbacks(execute=True):
        reseller.user.is_active = False
        reseller.user.save()
    assert reseller_client.get(ME).status_code == 401


def test_a_deleted_user_is_refused_at_once(reseller, reseller_client, django_capture_on_commit_callbacks):
    user_queries(reseller_client)
    with django_capture_on_commit_callbacks(execute=True):
        reseller.user.delete()
    assert reseller_client.get(ME).status_code == 401


def test_a_profile_change_is_seen_by_the_next_request(reseller_client, django_capture_on_commit_callbacks):
    user_queries(reseller_client)
    with django_capture_on_commit_callbacks(execute=True):
        response = reseller_client.patch(PROFILE, {"full_name": "Maria Nova"}, format="json")
    assert response.status_code == 200
    assert user_queries(reseller_client)[0].json()["full_name"] == "Maria Nova"


def test_a_staff_flag_change_is_seen_by_the_next_request(user, django_capture_on_commit_callbacks):
    client = authenticated_client(user)
    assert user_queries(client)[0].json()["is_staff"] is False
    with django_capture_on_commit_callbacks(execute=True):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    assert user_queries(client)[0].json()["is_staff"] is True


def test_nothing_is_dropped_before_the_change_commits(
    reseller, reseller_client, django_capture_on_commit_callbacks
):
    user_queries(reseller_client)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        forget_user(reseller.user_id)
    # Until the commit runs the callback, the cached pair stays.
    assert user_queries(reseller_client)[1] == []
    for callback in callbacks:
        callback()
    assert len(user_queries(reseller_client)[1]) == 1


def test_a_cached_user_can_still_check_their_password(reseller_client):
    # The hash is read from the database when asked (it is deferred).
    user_queries(reseller_client)
    response = reseller_client.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "An0ther-Long-Passphrase"},
        format="json",
    )
    assert response.status_code == 204


def test_zero_seconds_reads_the_user_on_every_request(reseller_client, settings):
    settings.AUTH_USER_CACHE_SECONDS = 0
    user_queries(reseller_client)
    assert len(user_queries(reseller_client)[1]) == 1
