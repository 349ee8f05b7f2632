"""Redis with Sentinel under the API: the primary frozen with SIGSTOP while
the API is called, until the sentinels promote the replica; then the old
primary continued (it comes back as a replica). Run by ``bash .ci/sentinel``,
which starts a primary, a replica and three sentinels (quorum 2, the primary
down after 1 s) and points the settings at them (REDIS_SENTINELS); skipped
otherwise. Each test waits for a settled topology (a primary with a replica
in sync that every sentinel sees) and freezes whichever server is the
primary then, found through the sentinels and its ``process_id``."""

import os
import signal
import sys
import time
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.utils import timezone
from redis.sentinel import Sentinel
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD
from conftest import authenticated_client, run_together
from core.cache import BreakerSentinelConnectionPool, cache_breaker_open, cache_breakers
from products.tests.factories import ProductFactory
from resellers.tests.factories import ResellerFactory

pytestmark = [
    pytest.mark.sentinel,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]

# The promise: a write that needs Redis succeeds again this soon after the
# primary stops (down-after 1 s, then the sentinels' vote and the promotion).
WRITES_AGAIN_WITHIN = 5.0
LOGIN = "/api/v1/auth/token/"
ADDRESS = "10.30.0.1"


def sentinel() -> Sentinel:
    return Sentinel(settings.REDIS_SENTINELS, socket_timeout=0.5, socket_connect_timeout=0.5)


def primary_address() -> tuple[str, int]:
    return sentinel().discover_master(settings.REDIS_SENTINEL_MASTER)


def server(address) -> redis.Redis:
    host, port = address
    return redis.Redis(host, port, socket_timeout=0.5, socket_connect_timeout=0.5)


def wait_until(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = condition()
        except redis.exceptions.RedisError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def settled():
    """The primary's address once every sentinel agrees on it, sees the
    other two sentinels and a replica that is up, and the replica is in sync."""
    address = primary_address()
    for node in sentinel().sentinels:
        state = node.sentinel_master(settings.REDIS_SENTINEL_MASTER)
        if (state["ip"], state["port"]) != address or state["flags"] != "master":
            return None
        if state["num-other-sentinels"] != len(settings.REDIS_SENTINELS) - 1:
            return None
        replicas = node.sentinel_slaves(settings.REDIS_SENTINEL_MASTER)
        if not any(r["flags"] == "slave" and r["master-link-status"] == "ok" for r in replicas):
            return None
    info = server(address).info("replication")
    if info["connected_slaves"] < 1 or info["slave0"]["state"] != "online":
        return None
    return address


def replicated(address) -> bool:
    """Whether a replica has applied every write the primary at ``address`` took."""
    info = server(address).info("replication")
    replica = server((info["slave0"]["ip"], info["slave0"]["port"])).info("replication")
    return replica["master_repl_offset"] >= info["master_repl_offset"]


def figure(line: str, capsys) -> None:
    """A measured figure: in the run's output, and in the file SCALE_FIGURES
    names when .ci/scale runs this (it shows them at its end)."""
    with capsys.disabled():
        sys.stdout.write(f"\n{line}\n")
    path = os.environ.get("SCALE_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as figures:
            figures.write(line + "\n")


@pytest.fixture
def primary():
    """The primary of a settled topology: its address and its process."""
    address = wait_until(settled, seconds=60, what="a settled Sentinel topology")
    pid = server(address).info("server")["process_id"]
    os.kill(pid, 0)  # ours to pause: the servers of .ci/sentinel
    return address, pid


@contextmanager
def frozen(pid: int):
    os.kill(pid, signal.SIGSTOP)
    try:
        yield time.monotonic()
    finally:
        os.kill(pid, signal.SIGCONT)


def rejoined(old, new) -> bool:
    """Whether the old primary replicates the new one."""
    info = server(old).info("replication")
    return (
        info["role"] == "slave"
        and (info["master_host"], info["master_port"]) == new
        and info["master_link_status"] == "up"
    )


@pytest.fixture
def rates(monkeypatch):
    # (The root conftest's throttle_clock keeps one fixed window for the
    # whole test, whatever the clock does.)
    def set_rates(**rates):
        for scope, rate in rates.items():
            monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, scope, rate)

    return set_rates


def login_count() -> int:
    (key,) = caches["strict"].keys("throttle_login_ip:*")
    return caches["strict"].get(key)


def test_reads_go_to_the_primary_only(primary, capsys):
    # Reading a replica gives back what was just overwritten now and then
    # (replication is asynchronous): every command goes to the primary.
    address, _pid = primary
    stale = 0
    for value in range(2000):
        cache.set("counter", value)
        stale += cache.get("counter") != value
    figure(f"Redis through the sentinels: {stale} stale reads in 2,000 writes each read back at once", capsys)
    assert stale == 0
    pool = cache.client.get_client().connection_pool
    used = {(connection.host, connection.port) for connection in pool._available_connections}
    assert used == {address}


def test_the_api_rides_through_a_failover_of_the_primary(primary, rates, capsys):
    """Reads never fail; a purchase is recorded throughout (its cache
    invalidation is retried); the login, whose throttle fails closed, answers
    503 until a replica is promoted and 200 within WRITES_AGAIN_WITHIN of the
    freeze; the old primary's breaker does not outlive the failover."""
    old, pid = primary
    rates(login="1000/min", login_failures="1000/min", anon="100000/min", user="100000/min")
    reseller = ResellerFactory()
    ProductFactory()
    client = authenticated_client(reseller.user)
    anonymous = APIClient(REMOTE_ADDR=ADDRESS)
    credentials = {"email": reseller.user.email, "password": PASSWORD}
    today = timezone.localdate().isoformat()
    codes = iter(range(100_000))

    def record_purchase():
        body = {"code": f"NF-{next(codes)}", "value": "10.00", "date": today}
        return client.post("/api/v1/purchases/", body, format="json")

    routes = {
        "products (read)": lambda: client.get("/api/v1/products/"),
        "purchase list (read)": lambda: client.get("/api/v1/purchases/"),
        "me (read)": lambda: client.get("/api/v1/auth/me/"),
        "record a purchase (write)": record_purchase,
        "login (write: throttle)": lambda: anonymous.post(LOGIN, credentials, format="json"),
    }
    for name, call in routes.items():  # warm every cache
        assert call().status_code in (200, 201), name
    logins_before = login_count()
    # Another process's pool, which sends nothing while the primary is down.
    idle = redis.Redis(
        connection_pool=BreakerSentinelConnectionPool(
            settings.REDIS_SENTINEL_MASTER, sentinel(), socket_timeout=0.5, socket_connect_timeout=0.5
        )
    )
    idle.set("sentinel-test:idle", "before")
    wait_until(lambda: replicated(old), seconds=10, what="the replica to catch up")

    answers = []  # (seconds after the freeze, route, status, seconds taken)
    cache_writes = []  # (seconds after the freeze, whether the strict alias took a write)
    with frozen(pid) as frozen_at:
        while time.monotonic() - frozen_at < 20:
            for name, call in routes.items():
                started = time.monotonic()
                status = call().status_code
                answers.append((started - frozen_at, name, status, time.monotonic() - started))
            started = time.monotonic()
            try:
                caches["strict"].set("probe", started)
                cache_writes.append((started - frozen_at, True))
            except Exception:
                cache_writes.append((started - frozen_at, False))
            logins = [when for when, name, status, _ in answers if name.startswith("login") and status == 200]
            if logins and time.monotonic() - frozen_at > logins[-1] + 1.0 and len(logins) >= 3:
                break
            time.sleep(0.02)
        new = primary_address()
    continued_at = time.monotonic()
    assert new != old

    # The old primary, continued, answers as a primary until the sentinels
    # demote it; the idle pool asks them before it writes, and writes to the
    # new one.
    assert server(old).info("replication")["role"] == "master"
    idle.set("sentinel-test:idle", "after")
    assert server(new).get("sentinel-test:idle") == b"after"
    assert server(old).get("sentinel-test:idle") == b"before"
    idle.delete("sentinel-test:idle")

    first_login = min(when for when, name, status, _ in answers if name.startswith("login") and status == 200)
    first_cache_write = min(when for when, ok in cache_writes if ok)
    failures = {}
    for _when, name, status, _taken in answers:
        if status >= 500:
            failures.setdefault(name, []).append(status)
    slowest = {}
    for _when, name, _status, taken in answers:
        slowest[name] = max(slowest.get(name, 0.0), taken)
    requests = len(answers)

    # The old primary comes back as a replica of the new one.
    wait_until(lambda: rejoined(old, new), seconds=40, what="the old primary to rejoin as a replica")
    rejoined_after = time.monotonic() - continued_at

    figure(
        f"Redis primary frozen ({old[1]} to {new[1]}): {requests} requests; first successful login "
        f"{first_login:.2f} s and first cache write {first_cache_write:.2f} s after the freeze; "
        f"5xx by route { ({name: len(statuses) for name, statuses in failures.items()}) }; "
        f"slowest answer by route { ({name: round(taken, 2) for name, taken in slowest.items()}) }; "
        f"old primary a replica again {rejoined_after:.1f} s after it was continued",
        capsys,
    )
    assert first_login < WRITES_AGAIN_WITHIN
    assert first_cache_write < WRITES_AGAIN_WITHIN
    # Only the login answered 5xx: its throttle's 503 while no primary answered.
    assert set(failures) <= {"login (write: throttle)"}, failures
    assert set(failures.get("login (write: throttle)", [])) <= {503}
    after = [status for when, name, status, _ in answers if name.startswith("login") and when > first_login]
    assert set(after) == {200}  # once one got through, every one did

    # The breaker in front of the old primary is retired, not left open.
    assert not cache_breaker_open()
    assert not cache_breakers()[f"{old[0]}:{old[1]}"].is_open()
    # Every login that got through was counted, before the freeze and after.
    assert login_count() == logins_before + sum(
        1 for _, name, status, _ in answers if name.startswith("login") and status == 200
    )
    assert routes["login (write: throttle)"]().status_code == 200


def test_throttle_counts_carry_over_a_failover(primary, rates):
    """A limit is not reset by a failover (the counter was replicated), and
    the counting stays atomic on the new primary: of 20 attempts sent
    together, exactly what the limit leaves gets through."""
    old, pid = primary
    limit = 12
    rates(login=f"{limit}/min", login_failures="1000/min")
    reseller = ResellerFactory()

    def login(password=PASSWORD):
        credentials = {"email": reseller.user.email, "password": password}
        return APIClient(REMOTE_ADDR=ADDRESS).post(LOGIN, credentials, format="json").status_code

    for _ in range(4):
        assert login() == 200
    wait_until(lambda: replicated(old), seconds=10, what="the replica to catch up")

    with frozen(pid) as frozen_at:
        statuses = []
        while time.monotonic() - frozen_at < 20:
            statuses.append(login())
            if statuses[-1] != 503:
                break
            time.sleep(0.05)
        assert statuses[-1] == 200, statuses
        assert set(statuses[:-1]) <= {503}  # failing closed, never counted
        assert login_count() == 5
        assert primary_address() != old

        # Failing attempts: they count as any other, and write nothing to
        # the database (SQLite takes one writer at a time).
        results = sorted(run_together(*[lambda: login("wrong")] * 20))
    assert results == [401] * (limit - 5) + [429] * (20 - (limit - 5))
    assert login_count() == 20 + 5
