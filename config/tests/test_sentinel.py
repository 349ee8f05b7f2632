"""Redis with Sentinel: the settings (REDIS_SENTINELS, REDIS_SENTINEL_MASTER),
read in a fresh interpreter, and the connection pool they select
(core.cache.BreakerSentinelConnectionPool) against two redis-servers of the
test's own, with the sentinels played by a stub that names either one as the
primary. The failover itself, with real sentinels, is in
test_sentinel_failover.py (``bash .ci/sentinel``)."""

import json
import logging
import os
import shutil
import signal
import time

import pytest
import redis
from redis.sentinel import MasterNotFoundError

from conftest import ThrowawayRedis
from core.cache import (
    NAMESPACES,
    BreakerSentinelConnectionPool,
    CacheUnavailable,
    cache_breaker_open,
    cache_breakers,
    get_version,
    retry_pending,
)
from core.tests.settings_process import import_settings

# --- Settings ---------------------------------------------------------------------

SENTINEL_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.test",
    "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381",
    "REDIS_SENTINEL_MASTER": "cashback",
}
PRINT_CACHES = """
import json
from django.conf import settings
caches = settings.CACHES.items()
print(json.dumps({alias: {"LOCATION": c["LOCATION"], "OPTIONS": c["OPTIONS"]} for alias, c in caches}))
"""
# The machine's own settings of what these tests set.
_SERVERS = ("REDIS_", "ALLOW_LOCAL_CACHE", "ALLOW_IN_PROCESS_JOBS", "CELERY_BROKER_URL", "DJANGO_SETTINGS")


def load(program: str, **env: str):
    return import_settings(program, unset=lambda name: name.startswith(_SERVERS), env=env)


def test_sentinel_settings_send_every_command_to_the_primary_through_the_breaker():
    result = load(
        PRINT_CACHES,
        **SENTINEL_ENV,
        REDIS_SENTINEL_DB="2",
        REDIS_PASSWORD="server-secret",
        REDIS_SENTINEL_PASSWORD="sentinel-secret",
    )
    assert result.returncode == 0, result.stderr
    caches = json.loads(result.stdout)
    default, strict = caches["default"], caches["strict"]
    assert default["LOCATION"] == strict["LOCATION"] == "redis://cashback/2?is_master=1"
    options = default["OPTIONS"]
    # Not django-redis's SentinelClient, which reads replicas.
    assert options["CLIENT_CLASS"] == "django_redis.client.DefaultClient"
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["CONNECTION_POOL_CLASS"] == "core.cache.BreakerSentinelConnectionPool"
    assert options["SENTINELS"] == [["10.0.0.1", 26379], ["10.0.0.2", 26380], ["::1", 26381]]
    assert options["PASSWORD"] == "server-secret"
    assert options["SENTINEL_KWARGS"] == {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "password": "sentinel-secret",
    }
    assert options["IGNORE_EXCEPTIONS"] is True
    assert strict["OPTIONS"] == {**options, "IGNORE_EXCEPTIONS": False}


def test_django_redis_builds_the_breaker_pool_from_the_sentinel_settings():
    # Nothing is connected: building the client asks no sentinel.
    program = """
import json, django
django.setup()
from django.core.cache import caches
pool = caches["default"].client.get_client(write=False).connection_pool
print(json.dumps({
    "pool": type(pool).__name__,
    "connection": pool.connection_class.__name__,
    "service": pool.service_name,
    "is_master": pool.is_master,
    "db": pool.connection_kwargs["db"],
    "sentinels": [s.connection_pool.connection_kwargs["port"] for s in pool.sentinel_manager.sentinels],
    "same_pool": caches["strict"].client.get_client(write=True).connection_pool is pool,
}))
"""
    result = load(program, **SENTINEL_ENV, REDIS_SENTINEL_DB="3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "pool": "BreakerSentinelConnectionPool",
        "connection": "BreakerSentinelManagedConnection",
        "service": "cashback",
        "is_master": True,
        "db": 3,
        "sentinels": [26379, 26380, 26381],
        "same_pool": True,
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_SENTINEL_MASTER": ""}, "Set the REDIS_SENTINEL_MASTER environment variable"),
        ({"REDIS_SENTINELS": "10.0.0.1"}, "REDIS_SENTINELS: '10.0.0.1' is not host:port."),
        ({"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2"}, "REDIS_SENTINELS: '10.0.0.2' is not host:port."),
        ({"REDIS_SENTINELS": "10.0.0.1:sentinel"}, "REDIS_SENTINELS: '10.0.0.1:sentinel' is not host:port."),
        ({"REDIS_SENTINELS": ":26379"}, "REDIS_SENTINELS: ':26379' is not host:port."),
        ({"REDIS_SENTINELS": "10.0.0.1:0"}, "REDIS_SENTINELS: '10.0.0.1:0' is not host:port."),
        ({"REDIS_SENTINELS": "10.0.0.1:65536"}, "REDIS_SENTINELS: '10.0.0.1:65536' is not host:port."),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "Set REDIS_URL or REDIS_SENTINELS, not both."),
        # django-redis reads the name from a URL's host, in lower case.
        ({"REDIS_SENTINEL_MASTER": "MyPrimary"}, "REDIS_SENTINEL_MASTER: 'MyPrimary' is not a name"),
        ({"REDIS_SENTINEL_MASTER": "cash back"}, "REDIS_SENTINEL_MASTER: 'cash back' is not a name"),
    ],
)
def test_sentinel_settings_refuse_to_start_half_configured(env, message):
    result = load(PRINT_CACHES, **{**SENTINEL_ENV, **env})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_without_sentinels_the_redis_url_is_used_as_before():
    result = load(
        PRINT_CACHES, DJANGO_SETTINGS_MODULE="config.settings.test", REDIS_URL="redis://127.0.0.1:6379/4"
    )
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout)["default"]["OPTIONS"]
    assert json.loads(result.stdout)["default"]["LOCATION"] == "redis://127.0.0.1:6379/4"
    assert options["CONNECTION_POOL_CLASS"] == "core.cache.BreakerConnectionPool"
    assert "CONNECTION_FACTORY" not in options
    assert "PASSWORD" not in options


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 64,
    "ALLOWED_HOSTS": "api.example.com",
    "CPF_ENCRYPTION_KEYS": "bmQD2eQ8bvmITRj7Vly_arLCubDqhWp7xEkEFXiIed8=",
    "CPF_BLIND_INDEX_KEY": "y" * 32,
    "PUBLIC_BASE_URL": "https://api.example.com",
    "CELERY_BROKER_URL": "amqp://cashback:secret@rabbitmq:5672/cashback",
}


def test_production_starts_with_sentinels_instead_of_a_redis_url():
    program = "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    sentinels = {key: value for key, value in SENTINEL_ENV.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = load(program, **PRODUCTION, **sentinels)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django_redis.cache.RedisCache"


def test_production_without_redis_names_both_ways_to_set_it():
    result = load("import config.settings.production", **PRODUCTION)
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set the REDIS_URL environment variable" in result.stderr
    assert "REDIS_SENTINELS and REDIS_SENTINEL_MASTER" in result.stderr


# --- The pool, with the sentinels played by a stub ----------------------------------


class Sentinels:
    """What the pool asks the sentinels: the primary's address (None: no
    primary named, as during a failover)."""

    def __init__(self, address):
        self.address = address
        self.asked = 0

    def discover_master(self, service_name):
        self.asked += 1
        if self.address is None:
            raise MasterNotFoundError(f"No master found for {service_name!r}")
        return self.address


@pytest.fixture
def servers(tmp_path, settings):
    settings.CACHE_BREAKER_FAILURES = 3
    # Long: only the failover may close the old primary's breaker in these tests.
    settings.CACHE_BREAKER_SECONDS = 60
    settings.REDIS_SENTINEL_RECHECK_SECONDS = 0.2
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary")
    started = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            started.append(ThrowawayRedis(tmp_path / name))
        yield started
    finally:
        for server in started:
            os.kill(server.process.pid, signal.SIGCONT)
            server.stop()


def address(server) -> tuple[str, int]:
    return ("127.0.0.1", server.port)


def client(sentinels) -> redis.Redis:
    timeouts = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    return redis.Redis(connection_pool=BreakerSentinelConnectionPool("cashback", sentinels, **timeouts))


def direct(server) -> redis.Redis:
    return redis.Redis(*address(server))


def wait_for_bumps():
    deadline = time.monotonic() + 5
    names = [f"cache version bump of {namespace!r}" for namespace in NAMESPACES]
    while any(retry_pending(name) for name in names) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_after_a_failover_commands_go_to_the_new_primary_through_a_closed_breaker(servers, caplog):
    old, new = servers
    sentinels = Sentinels(address(old))
    store = client(sentinels)
    store.set("key", "old")
    os.kill(old.process.pid, signal.SIGSTOP)
    for _ in range(3):
        with pytest.raises(redis.exceptions.TimeoutError):
            store.get("key")
    assert cache_breakers()[f"127.0.0.1:{old.port}"].is_open()
    with pytest.raises(redis.exceptions.ConnectionError):
        store.get("key")  # refused at once while the primary is still named

    sentinels.address = None  # the sentinels see it down, nothing promoted yet
    caplog.clear()
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="core.cache"):
        for _ in range(20):
            with pytest.raises(CacheUnavailable):
                store.get("key")
    assert time.monotonic() - started < 0.25
    # Once, not once per call.
    assert [r.getMessage() for r in caplog.records] == [
        "Redis Sentinel names no primary of 'cashback': the cache is skipped until it does."
    ]

    sentinels.address = address(new)  # the replica promoted
    started = time.monotonic()
    store.set("key", "new")
    assert time.monotonic() - started < 0.25  # no cool-down to wait out
    assert store.get("key") == b"new"
    assert direct(new).get("key") == b"new"
    # The old primary's breaker is retired (closed), not left to report an outage.
    assert not cache_breakers()[f"127.0.0.1:{old.port}"].is_open()
    assert not cache_breaker_open()
    wait_for_bumps()


def test_a_failover_makes_every_cached_answer_unreachable(servers):
    # The bumps go to the project's cache (here the suite's own): on a real
    # deployment that is the new primary.
    old, new = servers
    before = {namespace: get_version(namespace) for namespace in NAMESPACES}
    sentinels = Sentinels(address(old))
    store = client(sentinels)
    store.ping()
    sentinels.address = address(new)
    time.sleep(0.25)  # past REDIS_SENTINEL_RECHECK_SECONDS
    store.ping()
    wait_for_bumps()
    after = {namespace: get_version(namespace) for namespace in NAMESPACES}
    assert all(after[namespace] > before[namespace] for namespace in NAMESPACES), (before, after)


def test_a_pool_that_was_idle_asks_the_sentinels_again_before_it_writes(servers):
    # Another process's pool sent nothing while the primary was paused and
    # the replica promoted: its connection still reaches the old primary,
    # which answers as a primary again once continued.
    old, new = servers
    sentinels = Sentinels(address(old))
    store = client(sentinels)
    store.set("key", "before")
    asked = sentinels.asked
    store.set("key", "soon after")  # within REDIS_SENTINEL_RECHECK_SECONDS: not asked
    assert sentinels.asked == asked
    sentinels.address = address(new)
    time.sleep(0.25)
    store.set("key", "after")
    assert direct(new).get("key") == b"after"
    assert direct(old).get("key") == b"soon after"
    wait_for_bumps()


def test_a_primary_named_again_is_used_again(servers):
    # Sentinel unreachable for a moment: the check is skipped, nothing fails.
    old, _new = servers
    sentinels = Sentinels(address(old))
    store = client(sentinels)
    store.set("key", "1")
    sentinels.address = None
    time.sleep(0.25)
    assert store.get("key") == b"1"  # the pooled connection to the primary
    sentinels.address = address(old)
    assert store.incr("count") == 1
