"""The circuit breaker in front of Redis (core.cache): a paused Redis costs a
few socket timeouts, then the cache is skipped and answers come from the
database, the credential throttles answer 503 at once, and everything comes
back by itself. Each test runs a redis-server of its own (``throwaway_redis``)
that it may pause with SIGSTOP; the machine's shared Redis is never paused."""

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager

import pytest
from django.core.cache import cache, caches
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from conftest import authenticated_client, run_together
from core.cache import CacheBreaker, CacheUnavailable, cache_breaker_open, cache_breakers
from products.tests.factories import ProductFactory
from resellers.tests.factories import ResellerFactory

# Comfortably above a request served from the database on a busy machine,
# and under two socket timeouts (0.5 s each): only the breaker keeps a
# request under it.
FAST = 1.0
COOL_DOWN = 1.5


@pytest.fixture
def breaker_settings(settings, throwaway_redis):
    settings.CACHE_BREAKER_FAILURES = 3
    settings.CACHE_BREAKER_SECONDS = COOL_DOWN
    settings.AUTH_USER_CACHE_SECONDS = 30  # the authentication's cache in the path too
    return throwaway_redis


@contextmanager
def paused(server):
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def listed_codes(client) -> set[str]:
    """Every code the reseller's list shows, page after page."""
    codes, page = set(), 1
    while True:
        body = client.get("/api/v1/purchases/", {"page_size": 100, "page": page}).json()
        codes |= {row["code"] for row in body["results"]}
        if not body["next"]:
            return codes
        page += 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("default_cashback_policy")
def test_a_paused_redis_costs_little_and_the_app_recovers_by_itself(breaker_settings, api_client):
    reseller = ResellerFactory()
    ProductFactory()
    client = authenticated_client(reseller.user)
    login = {"email": reseller.user.email, "password": PASSWORD}
    today = timezone.localdate().isoformat()
    created = iter(range(1000))

    def create():
        body = {"code": f"NF-{next(created)}", "value": "10.00", "date": today}
        return client.post("/api/v1/purchases/", body, format="json")

    routes = {
        "login": lambda: api_client.post("/api/v1/auth/token/", login, format="json"),
        "purchase list": lambda: client.get("/api/v1/purchases/"),
        "create": create,
        "me": lambda: client.get("/api/v1/auth/me/"),
        "products": lambda: client.get("/api/v1/products/"),
        "cashback": lambda: client.get("/api/v1/resellers/me/cashback/"),
    }
    for name, call in routes.items():  # warm every cache
        assert call().status_code in (200, 201), name
    # What each route costs with Redis answering, on this machine now: a
    # busy machine (CI beside other work) slows every request, Redis or not.
    usual = {name: max(timed(call)[1] for _ in range(3)) for name, call in routes.items()}

    with paused(breaker_settings):
        # Before the breaker opens, each cache call waits out its timeout.
        for _ in range(5):
            client.get("/api/v1/purchases/")
            if cache_breaker_open():
                break
        assert cache_breaker_open()

        # Then every route answers fast, for longer than a cool-down (so
        # trial calls are among them), and correctly.
        slowest = {name: 0.0 for name in routes}
        deadline = time.monotonic() + 2.5 * COOL_DOWN
        rounds = 0
        while time.monotonic() < deadline:
            rounds += 1
            for name, call in routes.items():
                response, elapsed = timed(call)
                slowest[name] = max(slowest[name], elapsed)
                if name == "login":
                    assert response.status_code == 503, response.content  # fails closed
                    assert response.json()["code"] == "throttle_unavailable"
                else:
                    assert response.status_code in (200, 201), (name, response.content)
        slow = {name: elapsed for name, elapsed in slowest.items() if elapsed >= FAST + 3 * usual[name]}
        assert not slow, (slow, usual)
        created_codes = {f"NF-{n}" for n in range(rounds + 1)}
        assert created_codes <= listed_codes(client)  # served from the database

    # Redis is back: within a cool-down the trial succeeds and the cache is used again.
    deadline = time.monotonic() + COOL_DOWN + 3
    while time.monotonic() < deadline:
        if routes["login"]().status_code == 200 and not cache_breaker_open():
            break
        time.sleep(0.1)
    assert not cache_breaker_open()
    assert routes["login"]().status_code == 200
    cache.set("after", "yes")
    assert cache.get("after") == "yes"
    # The version bumps the creates could not make are retried as soon as
    # Redis answers: the list cached before the pause is not served again.
    deadline = time.monotonic() + 2
    while not created_codes <= listed_codes(client) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert created_codes <= listed_codes(client)


def test_the_strict_alias_fails_at_once_while_open(breaker_settings):
    with paused(breaker_settings):
        for _ in range(3):
            cache.get("key")
        assert cache_breaker_open()
        started = time.monotonic()
        with pytest.raises(CacheUnavailable):
            caches["strict"].incr("key")
        assert cache.get("key") is None
        assert time.monotonic() - started < 0.25  # not a socket timeout (0.5 s)


def test_half_open_lets_exactly_one_trial_through_under_concurrency(breaker_settings, settings, monkeypatch):
    settings.CACHE_BREAKER_SECONDS = 0.5
    with paused(breaker_settings):
        for _ in range(3):
            cache.get("key")
        assert cache_breaker_open()
        time.sleep(0.6)  # half-open

        # What the gate answered each thread: whether its command went out.
        # (Timing the refused calls would judge the machine's load: 24
        # threads share one interpreter lock on a CI runner.)
        answers = []
        allows = CacheBreaker.allows

        def recorded(breaker, **kwargs):
            allowed = allows(breaker, **kwargs)
            answers.append((threading.get_ident(), allowed))
            return allowed

        monkeypatch.setattr(CacheBreaker, "allows", recorded)
        # Once the trial fails the breaker stays open long enough that no
        # thread the machine runs late finds it half-open again.
        settings.CACHE_BREAKER_SECONDS = 30

        def call():
            started = time.monotonic()
            cache.get("key")
            return threading.get_ident(), time.monotonic() - started

        results = run_together(*[call] * 24)

    through = {thread for thread, allowed in answers if allowed}
    refused = {thread for thread, allowed in answers if not allowed}
    # One trial went out and waited out the socket timeout (0.5 s); the 23
    # others were refused without a command sent.
    assert len(through) == 1, answers
    assert refused == {thread for thread, _ in results} - through, answers
    (trial,) = through
    assert dict(results)[trial] >= 0.45, results
    assert cache_breaker_open()  # the trial failed: open again


def test_a_successful_trial_closes_the_breaker(breaker_settings, settings):
    settings.CACHE_BREAKER_SECONDS = 0.3
    with paused(breaker_settings):
        for _ in range(3):
            cache.get("key")
    assert cache_breaker_open()
    time.sleep(0.4)
    cache.set("key", 1)
    assert not cache_breaker_open()
    assert cache.get("key") == 1


def test_an_error_reply_is_an_answer(breaker_settings):
    cache.set("text", "not a number")
    for _ in range(5):
        with pytest.raises(Exception, match="not an integer"):
            caches["strict"].client.get_client().incr(caches["strict"].make_key("text"))
    assert not cache_breaker_open()


def test_skipped_calls_are_not_logged_one_by_one(breaker_settings, caplog):
    with paused(breaker_settings):
        for _ in range(3):
            cache.get("key")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="core.cache"):
            for _ in range(50):
                cache.get("key")
    assert caplog.records == []
    assert cache_breakers()[f"127.0.0.1:{breaker_settings.port}"].times_opened == 1
