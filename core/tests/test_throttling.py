"""The default throttles count requests per fixed window."""

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from core.throttling import AnonRateThrottle, UserRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "user", "3/min")
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "anon", "2/min")


def allowed(throttle_class, request, at: float) -> bool:
    throttle = throttle_class()
    throttle.timer = lambda: at
    return throttle.allow_request(request, None)


def test_the_rate_holds_within_a_window_and_resets_with_the_next(rates, user):
    request = APIRequestFactory().get("/")
    request.user = user
    assert [allowed(UserRateThrottle, request, 60.0 + second) for second in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert allowed(UserRateThrottle, request, 120.0)


def test_the_wait_is_the_rest_of_the_window(rates, user):
    request = APIRequestFactory().get("/")
    request.user = user
    throttle = UserRateThrottle()
    throttle.timer = lambda: 130.0
    for _ in range(4):
        throttle.allow_request(request, None)
    assert throttle.wait() == 50.0


def test_each_client_has_its_own_count(rates, user, staff_user):
    factory = APIRequestFactory()
    first, second = factory.get("/"), factory.get("/")
    first.user, second.user = user, staff_user
    for _ in range(3):
        assert allowed(UserRateThrottle, first, 10.0)
    assert not allowed(UserRateThrottle, first, 10.0)
    assert allowed(UserRateThrottle, second, 10.0)


def test_anonymous_clients_count_by_address(rates):
    from django.contrib.auth.models import AnonymousUser

    factory = APIRequestFactory()
    one, other = factory.get("/", REMOTE_ADDR="10.0.0.1"), factory.get("/", REMOTE_ADDR="10.0.0.2")
    one.user = other.user = AnonymousUser()
    assert [allowed(AnonRateThrottle, one, 5.0) for _ in range(3)] == [True, True, False]
    assert allowed(AnonRateThrottle, other, 5.0)


def test_a_cache_that_swallows_errors_lets_requests_through(rates, user, monkeypatch):
    request = APIRequestFactory().get("/")
    request.user = user
    monkeypatch.setattr(cache, "incr", lambda *args, **kwargs: None)
    assert all(allowed(UserRateThrottle, request, 10.0) for _ in range(5))


def test_the_api_answers_429_with_retry_after(rates, reseller_client):
    statuses = [reseller_client.get("/api/v1/resellers/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = reseller_client.get("/api/v1/resellers/me/")
    assert 0 < int(response["Retry-After"]) <= 60
