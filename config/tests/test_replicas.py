"""Read replicas against a real PostgreSQL primary and a hot standby that
replays 500 ms behind it (recovery_min_apply_delay), with Redis: started
by .ci/scale, which sets DATABASE_REPLICA_URLS (skipped otherwise). The
tests' figures are appended to the file SCALE_FIGURES names (.ci/scale
shows them at the end)."""

import os
import statistics
import subprocess
import time
from datetime import date

import pytest
from django.db import connections
from django.urls import reverse

from conftest import authenticated_client
from core import routing
from purchases.models import Purchase

pytestmark = [
    pytest.mark.scale,
    pytest.mark.django_db(transaction=True, databases=["default", "replica1"]),
    pytest.mark.usefixtures("default_cashback_policy", "frozen_today"),
]

REPLICA = "replica1"
MONTH = "2026-03"


class Counter:
    """Queries sent through one alias's connection in this thread."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)


def figure(line: str) -> None:
    path = os.environ.get("SCALE_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as figures:
            figures.write(line + "\n")


def counting(alias):
    counter = Counter()
    return counter, connections[alias].execute_wrapper(counter)


def _query(alias: str, sql: str):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def wait_for_replay(timeout: float = 20.0) -> float:
    """Until the standby has replayed everything the primary has written
    (its connection retried: the test database may not be there yet)."""
    target = routing.primary_lsn()
    started = time.monotonic()
    while True:
        try:
            if routing.replay_lsn(REPLICA) >= target:
                return time.monotonic() - started
        except Exception:
            connections[REPLICA].close()
            if time.monotonic() - started > timeout:
                raise
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def replica_settings(settings):
    # The production default: the user is read once, then from the cache.
    settings.AUTH_USER_CACHE_SECONDS = 30
    settings.DATABASE_REPLICA_CHECK_SECONDS = 1
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 30
    wait_for_replay()
    routing.reset_health()


def create_purchase(client, index: int) -> dict:
    response = client.post(
        reverse("purchase-list"),
        {"code": f"S-{index}", "value": "100.00", "date": "2026-03-10"},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_routed_gets_make_no_query_on_the_primary(reseller, make_purchase, staff_user):
    for index in range(3):
        make_purchase(reseller, "250.00", date(2026, 3, 5 + index))
    purchase = Purchase.objects.filter(reseller=reseller).first()
    wait_for_replay()
    reseller_client, staff_client = authenticated_client(reseller.user), authenticated_client(staff_user)
    routes = [
        (reseller_client, reverse("purchase-list")),
        (reseller_client, reverse("purchase-detail", args=[purchase.pk])),
        (reseller_client, f"{reverse('reseller-me-summary')}?month={MONTH}"),
        (staff_client, reverse("purchase-list")),
        (staff_client, f"{reverse('analytics-summary')}?month={MONTH}"),
        (staff_client, f"{reverse('analytics-monthly')}?from=2026-01&to={MONTH}"),
        (staff_client, f"{reverse('analytics-top-resellers')}?month={MONTH}"),
        (staff_client, f"{reverse('analytics-top-products')}?month={MONTH}"),
    ]
    for client, _url in routes:  # the users read once, then from the cache
        client.get(reverse("purchase-list"))
    primary, on_primary = counting("default")
    replica, on_replica = counting(REPLICA)
    with on_primary, on_replica:
        for client, url in routes:
            response = client.get(url)
            assert response.status_code == 200, (url, response.content)
    figure(
        f"{len(routes)} routed GETs: {len(primary.statements)} queries on the primary, "
        f"{len(replica.statements)} on the replica"
    )
    assert primary.statements == []
    assert len(replica.statements) >= len(routes)


def test_a_resellers_own_writes_are_read_fresh(reseller, settings):
    client = authenticated_client(reseller.user)
    client.get(reverse("purchase-list"))
    summary_url = f"{reverse('reseller-me-summary')}?month={MONTH}"
    fresh_purchase = fresh_summary = replica_missed = 0
    for index in range(200):
        created = create_purchase(client, index)
        detail = client.get(reverse("purchase-detail", args=[created["id"]]))
        fresh_purchase += detail.status_code == 200 and detail.json()["code"] == created["code"]
        summary = client.get(summary_url).json()
        fresh_summary += summary["purchase_count"] == index + 1
        # What a read of the replica alone would have answered just now.
        replica_missed += not Purchase.objects.using(REPLICA).filter(pk=created["id"]).exists()
    figure(
        f"POST then GET: purchase fresh {fresh_purchase}/200, month summary fresh {fresh_summary}/200; "
        f"the replica alone lacked the new purchase {replica_missed}/200 times"
    )
    assert fresh_purchase == 200
    assert fresh_summary == 200
    assert replica_missed > 100  # the 500 ms delay is real: the pins did the work

    # Once the replica has replayed the writes, the reseller reads it again.
    wait_for_replay()
    replica, on_replica = counting(REPLICA)
    primary, on_primary = counting("default")
    with on_primary, on_replica:
        assert client.get(summary_url).json()["purchase_count"] == 200
    assert primary.statements == []
    assert replica.statements


def test_analytics_are_fresh_after_a_staff_approval(reseller, make_purchase, staff_user):
    from accounts.tests.factories import StaffFactory

    purchases = [make_purchase(reseller, "100.00", date(2026, 3, 2), code=f"A-{i}") for i in range(20)]
    wait_for_replay()
    reviewer = authenticated_client(staff_user)
    # Another staff member, who writes nothing (never pinned), reads analytics.
    reader = authenticated_client(StaffFactory(is_superuser=True))
    url = f"{reverse('analytics-summary')}?month={MONTH}"
    assert reader.get(url).json()["by_status"]["approved"]["purchase_count"] == 0
    stale = 0
    for approved, purchase in enumerate(purchases, start=1):
        response = reviewer.post(reverse("purchase-approve", args=[purchase.pk]))
        assert response.status_code == 200
        for client in (reader, reviewer):
            stale += client.get(url).json()["by_status"]["approved"]["purchase_count"] != approved
    # Nothing stale was stored either: the cached answer, read later, is right.
    time.sleep(0.7)
    cached = reader.get(url).json()["by_status"]["approved"]["purchase_count"]
    figure(f"analytics after 20 approvals, read by the reviewer and another staff member: {stale}/40 stale")
    assert stale == 0
    assert cached == 20


def test_a_replica_lagging_beyond_the_bound_is_left_for_the_primary(reseller, make_purchase, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0.2
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0
    client = authenticated_client(reseller.user)
    client.get(reverse("purchase-list"))
    time.sleep(0.3)
    make_purchase(reseller)  # not through the API: nobody is pinned
    # The standby has the write's WAL, and waits to replay it.
    target = routing.primary_lsn()
    while _query(REPLICA, "SELECT (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint") < target:
        time.sleep(0.005)
    primary, on_primary = counting("default")
    with on_primary:
        assert client.get(reverse("purchase-list")).json()["count"] == 1
    assert primary.statements, "a replica lagging beyond the bound was read"


def _standby(action: str) -> None:
    command = [os.environ["SCALE_STANDBY_CTL"], "-D", os.environ["SCALE_STANDBY_DATA"], "-w"]
    command += ["stop", "-m", "fast"] if action == "stop" else ["start", "-l", os.devnull]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 (fixed binaries)


@pytest.mark.skipif("SCALE_STANDBY_DATA" not in os.environ, reason="needs .ci/scale's standby to stop")
def test_with_the_standby_stopped_every_read_is_answered_from_the_primary(
    reseller, staff_user, make_purchase
):
    for index in range(3):
        make_purchase(reseller, "300.00", date(2026, 3, 3 + index))
    wait_for_replay()
    reseller_client, staff_client = authenticated_client(reseller.user), authenticated_client(staff_user)
    urls = [
        (reseller_client, reverse("purchase-list")),
        (reseller_client, f"{reverse('reseller-me-summary')}?month={MONTH}"),
        (staff_client, reverse("purchase-list")),
        (staff_client, f"{reverse('analytics-top-resellers')}?month={MONTH}"),
    ]
    for client, url in urls:
        assert client.get(url).status_code == 200  # connections to the replica are open
    _standby("stop")
    try:
        statuses, timings = [], []
        for _round in range(25):
            for client, url in urls:
                started = time.perf_counter()
                statuses.append(client.get(url).status_code)
                timings.append(time.perf_counter() - started)
        errors = sum(status >= 500 for status in statuses)
        figure(
            f"standby stopped: {len(statuses)} GETs, {errors} 5xx; "
            f"first answer {timings[0] * 1000:.0f} ms, slowest {max(timings) * 1000:.0f} ms, "
            f"median {statistics.median(timings) * 1000:.1f} ms"
        )
        assert errors == 0
        assert set(statuses) == {200}
        assert routing.health(REPLICA).down_until > 0
    finally:
        _standby("start")
        for alias in (REPLICA,):
            connections[alias].close()
    # Back: once its down time is over, the replica is read again.
    wait_for_replay(timeout=60)
    routing.reset_health()
    replica, on_replica = counting(REPLICA)
    with on_replica:
        assert reseller_client.get(reverse("purchase-list")).status_code == 200
    assert replica.statements
