"""Read replicas (core.routing) without a real standby: the "replica" is the
test database under a second alias, and what the replica would answer
(its replay position, its lag, an error) is played by ``FakeReplica``.
The same paths against a real primary and standby: config/tests/test_replicas.py
(marked scale, run by .ci/scale)."""

import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.db import OperationalError, connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from core import cache as answer_cache
from core import routing
from core.routing import PRIMARY, ReplicaRouter, caught_up_to, replica_reads

REPLICA = "replica1"


class FakeReplica:
    """What the replica's and the primary's position queries answer."""

    def __init__(self):
        self.replay_lsn = 1000
        self.lag = 0.0
        self.primary_lsn = 1000
        self.error: Exception | None = None
        self.standby = True
        self.asked: list[str] = []

    def query_one(self, alias, sql):
        if alias == PRIMARY:
            self.asked.append("primary")
            return (self.primary_lsn,)
        self.asked.append("check" if sql == routing._CHECK_SQL else "replay")
        if self.error is not None:
            raise self.error
        replay = self.replay_lsn if self.standby else None
        return (replay, self.lag) if sql == routing._CHECK_SQL else (replay,)


@pytest.fixture
def replica(settings, monkeypatch):
    """A replica alias on the test database, its answers faked."""
    settings.DATABASE_REPLICAS = [REPLICA]
    settings.DATABASE_ROUTERS = ["core.routing.ReplicaRouter"]
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0
    # As config/settings/base.py sets it up when there are replicas.
    authentication = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: authentication + 1],
        "core.routing.ReadYourWritesMiddleware",
        *settings.MIDDLEWARE[authentication + 1 :],
    ]
    fake = FakeReplica()
    monkeypatch.setattr(routing, "_query_one", fake.query_one)
    connections[REPLICA] = connections[PRIMARY]
    yield fake
    del connections[REPLICA]


@pytest.fixture
def reads(monkeypatch):
    """The alias each read was sent to."""
    chosen = []
    original = ReplicaRouter.db_for_read

    def recording(self, model, **hints):
        alias = original(self, model, **hints)
        chosen.append((model._meta.label, alias))
        return alias

    monkeypatch.setattr(ReplicaRouter, "db_for_read", recording)
    return chosen


def read_alias(user_id=None):
    from purchases.models import Purchase

    with replica_reads(user_id=user_id):
        return ReplicaRouter().db_for_read(Purchase)


# --- The router --------------------------------------------------------------------


def test_without_replicas_every_read_is_the_primarys(settings):
    from purchases.models import Purchase

    settings.DATABASE_REPLICAS = []
    with replica_reads():
        assert ReplicaRouter().db_for_read(Purchase) == PRIMARY


def test_reads_outside_a_routed_scope_and_all_writes_go_to_the_primary(replica):
    from purchases.models import Purchase

    router = ReplicaRouter()
    assert router.db_for_read(Purchase) == PRIMARY
    with replica_reads():
        assert router.db_for_write(Purchase) == PRIMARY
        assert router.db_for_read(Purchase) == REPLICA
    assert router.allow_migrate(PRIMARY, "purchases") is True
    assert router.allow_migrate(REPLICA, "purchases") is False
    assert router.allow_relation(object(), object()) is True


def test_sessions_and_reads_inside_a_transaction_stay_on_the_primary(replica, transactional_db):
    from django.contrib.sessions.models import Session

    from purchases.models import Purchase

    router = ReplicaRouter()
    with replica_reads():
        assert router.db_for_read(Session) == PRIMARY
        with transaction.atomic():
            assert router.db_for_read(Purchase) == PRIMARY
        assert router.db_for_read(Purchase) == REPLICA


def test_a_pinned_user_reads_the_primary_until_the_replica_replays_the_pin(replica):
    answer_cache.set_at_least(routing.pin_key(7), 2000, timeout=10)
    replica.replay_lsn = 1999
    assert read_alias(user_id=7) == PRIMARY
    assert read_alias(user_id=8) == REPLICA  # another user is not pinned
    replica.replay_lsn = 2000
    assert read_alias(user_id=7) == REPLICA


def test_the_replay_position_is_asked_at_most_once_per_request(replica):
    from purchases.models import Purchase

    answer_cache.set_at_least(routing.pin_key(7), 2000, timeout=10)
    replica.replay_lsn = 1500
    with replica_reads(user_id=7):
        router = ReplicaRouter()
        assert [router.db_for_read(Purchase) for _ in range(5)] == [PRIMARY] * 5
    assert replica.asked == ["check", "replay"]


def test_a_pin_expires(replica, settings):
    answer_cache.set_at_least(routing.pin_key(7), 2000, timeout=0.05)
    replica.replay_lsn = 1500
    assert read_alias(user_id=7) == PRIMARY
    time.sleep(0.1)
    assert read_alias(user_id=7) == REPLICA


def test_pins_keep_the_largest_position():
    answer_cache.set_at_least("k", 5, timeout=10)
    answer_cache.set_at_least("k", 3, timeout=10)
    assert caches["strict"].get("k") == 5
    answer_cache.set_at_least("k", 9, timeout=10)
    assert caches["strict"].get("k") == 9


def test_without_the_cache_pins_cannot_be_read_so_reads_go_to_the_primary(replica, cache_down):
    assert read_alias(user_id=7) == PRIMARY
    assert read_alias() == REPLICA  # no user: nothing to pin


def test_a_replica_that_fails_is_left_alone_for_a_while(replica, settings):
    settings.DATABASE_REPLICA_DOWN_SECONDS = 0.2
    replica.error = OperationalError("connection refused")
    assert read_alias() == PRIMARY
    replica.error = None
    assert read_alias() == PRIMARY  # not even asked
    assert replica.asked == ["check"]
    time.sleep(0.25)
    assert read_alias() == REPLICA


def test_a_replica_lagging_beyond_the_bound_is_not_read(replica, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 5
    replica.lag = 6.0
    assert read_alias() == PRIMARY
    replica.lag = 1.0
    assert read_alias() == REPLICA


def test_a_server_that_is_not_a_standby_is_not_read(replica):
    replica.standby = False
    assert read_alias() == PRIMARY


def test_health_is_checked_at_most_every_few_seconds(replica, settings):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 60
    for _ in range(3):
        assert read_alias() == REPLICA
    assert replica.asked == ["check"]


@pytest.mark.django_db
def test_readiness_says_how_each_replica_is_and_never_fails_for_one(replica, settings, client):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 5
    settings.DATABASE_REPLICA_DOWN_SECONDS = 60
    body = client.get("/health/ready").json()
    assert (body["status"], body["replicas"]) == ("ok", {REPLICA: "ok"})
    replica.lag = 6.0
    assert client.get("/health/ready").json()["replicas"] == {REPLICA: "lagging"}
    replica.error = OperationalError("connection refused")
    response = client.get("/health/ready")
    assert (response.status_code, response.json()["replicas"]) == (200, {REPLICA: "down"})
    replica.error = None
    # Left alone for DATABASE_REPLICA_DOWN_SECONDS: still down, not asked again.
    asked = len(replica.asked)
    assert routing.replica_states() == {REPLICA: "down"}
    assert len(replica.asked) == asked


def test_readiness_without_replicas_says_nothing_of_them(client):
    assert "replicas" not in client.get("/health/ready").json()


# --- Cached answers ----------------------------------------------------------------


def test_an_answer_is_computed_on_the_replica_only_if_it_replayed_the_bump(replica, reads, routed_db):
    from purchases.models import Purchase

    def compute():
        return Purchase.objects.count()

    replica.primary_lsn = 5000
    answer_cache.bump_version(answer_cache.ANALYTICS)
    replica.replay_lsn = 4999
    with replica_reads():
        answer_cache.VersionedAnswer((answer_cache.ANALYTICS,), "a").get_or_set(compute, timeout=60)
    assert reads[-1] == ("purchases.Purchase", PRIMARY)

    replica.replay_lsn = 5000
    with replica_reads():
        answer_cache.VersionedAnswer((answer_cache.ANALYTICS,), "b").get_or_set(compute, timeout=60)
    assert reads[-1] == ("purchases.Purchase", REPLICA)


def test_a_version_without_a_known_position_is_computed_on_the_primary(replica, reads, routed_db):
    from purchases.models import Purchase

    reads.clear()
    with replica_reads():
        answer_cache.VersionedAnswer(("never-bumped",), "a").get_or_set(Purchase.objects.count, timeout=60)
    assert reads == [("purchases.Purchase", PRIMARY)]


def test_caught_up_to_outside_a_routed_scope_changes_nothing(replica):
    from purchases.models import Purchase

    with caught_up_to(None):
        assert ReplicaRouter().db_for_read(Purchase) == PRIMARY


# --- Pins after writes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status", "pinned"),
    [
        ("POST", 201, True),
        ("PATCH", 200, True),
        ("DELETE", 204, True),
        ("POST", 302, True),
        ("POST", 400, False),
        ("POST", 409, False),
        ("GET", 200, False),
        ("HEAD", 200, False),
    ],
)
def test_a_users_writes_pin_them(replica, user, method, status, pinned):
    replica.primary_lsn = 4242
    request = RequestFactory().generic(method, "/")
    request.user = user
    routing.ReadYourWritesMiddleware(lambda request: HttpResponse(status=status))(request)
    assert caches["strict"].get(routing.pin_key(user.pk)) == (4242 if pinned else None)


def test_anonymous_writes_pin_nobody(replica):
    request = RequestFactory().post("/")
    request.user = AnonymousUser()
    routing.ReadYourWritesMiddleware(lambda request: HttpResponse(status=201))(request)
    assert replica.asked == []


# --- Routed views ------------------------------------------------------------------


@pytest.fixture
def routed_db(transactional_db, default_cashback_policy):
    """Routed reads need the primary outside a transaction, as in production
    (a test's own transaction would keep them on the primary)."""


def test_a_resellers_list_summary_and_purchase_are_read_from_the_replica(
    replica, reads, routed_db, reseller, reseller_client, make_purchase
):
    purchase = make_purchase(reseller)
    for url in (
        reverse("purchase-list"),
        reverse("purchase-detail", args=[purchase.pk]),
        reverse("reseller-me-summary"),
    ):
        reads.clear()
        assert reseller_client.get(url).status_code == 200
        assert reads
        assert {alias for label, alias in reads if label != "accounts.User"} == {REPLICA}


def test_staff_analytics_are_read_from_the_replica(replica, reads, routed_db, staff_client, make_purchase):
    make_purchase()
    replica.replay_lsn = replica.primary_lsn
    reads.clear()
    assert staff_client.get(reverse("analytics-summary")).status_code == 200
    # The maintained figures (purchases.MonthTotals...), never the primary.
    assert ("purchases.MonthTotals", REPLICA) in reads
    assert not [label for label, alias in reads if label.startswith("purchases.") and alias == PRIMARY]


def test_after_a_write_the_writer_reads_the_primary(replica, reads, routed_db, reseller, reseller_client):
    replica.primary_lsn, replica.replay_lsn = 9000, 8000
    created = reseller_client.post(
        reverse("purchase-list"), {"code": "X-1", "value": "10.00", "date": "2026-03-01"}
    )
    assert created.status_code == 201
    assert caches["strict"].get(routing.pin_key(reseller.user.pk)) == 9000
    reads.clear()
    detail = reseller_client.get(reverse("purchase-detail", args=[created.json()["id"]]))
    assert detail.status_code == 200
    assert {alias for _label, alias in reads} == {PRIMARY}


def test_a_replica_failing_mid_answer_is_answered_again_from_the_primary(
    replica, routed_db, reseller, reseller_client, make_purchase
):
    make_purchase(reseller)
    failed = []

    def fail_once(execute, sql, params, many, context):
        # The first read of the purchases (the user is read before, on the primary).
        if not failed and "purchases_purchase" in sql:
            failed.append(sql)
            context["connection"].errors_occurred = True
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connections[PRIMARY].execute_wrapper(fail_once):
        response = reseller_client.get(reverse("purchase-list"))
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert failed
    assert routing.health(REPLICA).down_until > time.monotonic()


def test_a_404_read_from_the_replica_is_asked_again_of_the_primary(
    replica, reads, routed_db, reseller_client
):
    response = reseller_client.get(reverse("purchase-detail", args=[999999]))
    assert response.status_code == 404
    aliases = [alias for label, alias in reads if label == "purchases.Purchase"]
    assert aliases[0] == REPLICA
    assert aliases[-1] == PRIMARY


def test_the_admin_changelist_and_export_read_from_the_replica(
    replica, reads, routed_db, admin_client, make_purchase
):
    make_purchase()
    assert admin_client.get(reverse("admin:purchases_purchase_changelist")).status_code == 200
    assert ("purchases.Purchase", REPLICA) in reads
    reads.clear()
    # The export is a job (run in-process here): its task reads the replica.
    response = admin_client.post(reverse("admin:purchases_purchase_export"), {"dialect": "plain"})
    assert response.status_code == 302
    assert ("purchases.Purchase", REPLICA) in reads


def test_an_export_whose_replica_fails_before_the_first_row_is_read_from_the_primary(
    replica, routed_db, make_purchase
):
    from purchases.models import Purchase

    make_purchase()
    failed = []

    def fail_once(execute, sql, params, many, context):
        if not failed and "purchases_purchase" in sql:
            failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    rows = Purchase.objects.values_list("code", flat=True).using(REPLICA)
    with connections[PRIMARY].execute_wrapper(fail_once):
        assert list(routing.stream(rows, chunk_size=10)) == ["P-1"]
    assert failed
