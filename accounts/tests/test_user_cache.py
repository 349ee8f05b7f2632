"""The authentication's cache of each user with their reseller profile
(accounts.authentication): reused between requests, dropped by every
committed change, never holding the password hash."""

import socket
import time

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.authentication import _cache_key, forget_user
from accounts.models import User
from accounts.serializers import tokens_for
from accounts.tests.factories import PASSWORD
from conftest import authenticated_client
from resellers.tests.factories import ResellerFactory

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


# --- Every path that deactivates or demotes drops the cached user ------------


def test_a_queryset_update_drops_every_user_it_changes(django_capture_on_commit_callbacks):
    resellers = [ResellerFactory() for _ in range(3)]
    clients = [authenticated_client(reseller.user) for reseller in resellers]
    for client in clients:
        user_queries(client)
    with django_capture_on_commit_callbacks(execute=True):
        changed = User.objects.filter(pk__in=[r.user_id for r in resellers[:2]]).update(is_active=False)
    assert changed == 2
    assert [client.get(ME).status_code for client in clients] == [401, 401, 200]


def test_a_demotion_by_queryset_update_is_seen_by_the_next_request(
    staff_client, staff_user, django_capture_on_commit_callbacks
):
    assert user_queries(staff_client)[0].json()["is_staff"] is True
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.filter(email=staff_user.email).update(is_staff=False, is_superuser=False)
    assert user_queries(staff_client)[0].json()["is_staff"] is False


def test_a_bulk_update_drops_the_users(reseller, reseller_client, django_capture_on_commit_callbacks):
    user_queries(reseller_client)
    user = User.objects.get(pk=reseller.user_id)
    user.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.bulk_update([user], ["is_active"])
    assert reseller_client.get(ME).status_code == 401


def test_an_update_drops_nothing_before_it_commits(
    reseller, reseller_client, django_capture_on_commit_callbacks
):
    user_queries(reseller_client)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        User.objects.filter(pk=reseller.user_id).update(full_name="Outro Nome")
    assert user_queries(reseller_client)[1] == []  # still the cached pair
    for callback in callbacks:
        callback()
    assert user_queries(reseller_client)[0].json()["full_name"] == "Outro Nome"


def test_the_admin_bulk_deactivation_drops_the_users(
    admin_client, admin_user, reseller, reseller_client, django_capture_on_commit_callbacks
):
    user_queries(reseller_client)
    refresh_token = tokens_for(reseller.user)["refresh"]
    admin_me = authenticated_client(admin_user)
    user_queries(admin_me)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/accounts/user/",
            {"action": "deactivate_users", "_selected_action": [reseller.user_id, admin_user.pk]},
        )
    assert response.status_code == 302
    assert reseller_client.get(ME).status_code == 401
    refresh = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh_token}, format="json")
    assert refresh.status_code == 401
    assert not User.objects.get(pk=reseller.user_id).is_active
    # Staff cannot lock themselves out by selecting their own row.
    assert User.objects.get(pk=admin_user.pk).is_active
    assert admin_me.get(ME).status_code == 200
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == ["1 usuário desativado.", "A sua própria conta continua ativa."]


def test_the_admin_change_form_deactivation_drops_the_user(
    admin_client, reseller, reseller_client, django_capture_on_commit_callbacks
):
    user_queries(reseller_client)
    user = reseller.user
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/accounts/user/{user.pk}/change/", {"email": user.email, "full_name": user.full_name}
        )
    assert response.status_code == 302
    assert not User.objects.get(pk=user.pk).is_active
    assert reseller_client.get(ME).status_code == 401


def test_the_admin_change_form_demotion_drops_the_user(
    admin_client, staff_user, django_capture_on_commit_callbacks
):
    client = authenticated_client(staff_user)
    user_queries(client)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"/admin/accounts/user/{staff_user.pk}/change/",
            {"email": staff_user.email, "full_name": staff_user.full_name, "is_active": "on"},
        )
    assert user_queries(client)[0].json()["is_staff"] is False


# --- A drop the cache could not take is retried ---------------------------------


def test_a_deactivation_while_redis_refuses_connections_is_dropped_once_it_is_back(
    reseller, reseller_client, settings, throwaway_redis, django_capture_on_commit_callbacks
):
    # (A paused Redis would run the DEL it received once resumed; one that
    # refuses connections never gets it.)
    user_queries(reseller_client)
    key = _cache_key(reseller.user_id)
    assert cache.get(key) is not None
    reachable = settings.CACHES
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nothing_listening = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    settings.CACHES = {
        alias: {**config, "LOCATION": nothing_listening} for alias, config in reachable.items()
    }
    with django_capture_on_commit_callbacks(execute=True):
        reseller.user.is_active = False
        reseller.user.save()

    settings.CACHES = reachable  # Redis is back, the stale pair in it
    # This process refuses the user at once (it knows the drop is pending),
    # and the drop lands for every other process within moments.
    assert reseller_client.get(ME).status_code == 401
    deadline = time.monotonic() + 3
    while cache.get(key) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(key) is None


def test_a_deactivation_while_redis_is_unreachable_is_dropped_once_it_answers(
    reseller, reseller_client, settings, django_capture_on_commit_callbacks, monkeypatch
):
    # Whatever the backend (local memory included): the drop raises a few times.
    from django.core.cache import caches

    user_queries(reseller_client)
    backend = type(caches["strict"])
    real_delete_many, real_delete, failures = backend.delete_many, backend.delete, {"left": 3}

    def flaky(real):
        def operation(self, *args, **kwargs):
            if failures["left"]:
                failures["left"] -= 1
                raise ConnectionError("redis down (test)")
            return real(self, *args, **kwargs)

        return operation

    monkeypatch.setattr(backend, "delete_many", flaky(real_delete_many))
    monkeypatch.setattr(backend, "delete", flaky(real_delete))
    with django_capture_on_commit_callbacks(execute=True):
        reseller.user.is_active = False
        reseller.user.save()
    assert reseller_client.get(ME).status_code == 401
    deadline = time.monotonic() + 5
    while cache.get(_cache_key(reseller.user_id)) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(_cache_key(reseller.user_id)) is None
    assert failures["left"] == 0
