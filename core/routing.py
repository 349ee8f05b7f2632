"""Read replicas: which database a read goes to.

Off unless DATABASE_REPLICA_URLS names replicas (settings, "Database").
Then the read-heavy paths, and only they, read from a replica: the views
marked with ``ReplicaReadsMixin`` (DRF) or ``replica_view`` (Django views,
the admin's changelists through ``core.admin``), and code run inside
``replica_reads()`` (commands). Everything else, every write and every read
inside a transaction on the primary, stays on the primary (``ReplicaRouter``).

A routed read goes to the primary instead when the answer must not be
older than something the replica may not have yet:

* read-your-writes: after a write by a signed-in user (any unsafe method
  answered under 400, ``ReadYourWritesMiddleware``) the primary's WAL
  position is kept in the cache as the user's *pin* for
  DATABASE_REPLICA_PIN_SECONDS; that user's routed reads use the replica
  only once its replay position has passed the pin (one query on the
  replica, at most once per request). Kept by user id, not in a cookie:
  the API's clients hold a JWT and nothing else;
* cached answers: a version bump records the primary's position with it
  (core.cache), and an answer about to be stored under that version is
  computed on the replica only if it has replayed that far
  (``caught_up_to``), so no stale answer is stored under a new version;
* health: a replica that fails (connection refused, dropped, a timeout) is
  left alone for DATABASE_REPLICA_DOWN_SECONDS, and one whose replay lags
  more than DATABASE_REPLICA_MAX_LAG_SECONDS (measured on the replica every
  DATABASE_REPLICA_CHECK_SECONDS per process) is not used until it catches
  up. A routed GET whose replica fails mid-answer is answered again from
  the primary, never with a 5xx; so is one that answered 404 from a
  replica (the row may be younger than the replica's lag).

When the cache does not answer, pins cannot be read: routed reads go to the
primary.
"""

import contextvars
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ObjectDoesNotExist
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.http import Http404
from rest_framework import exceptions

logger = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
READ_METHODS = ("GET", "HEAD")
# Read from the primary whatever the view: the admin's sessions (who is
# signed in is read before anything knows the user, so no pin can apply).
PRIMARY_ONLY_APPS = frozenset({"sessions"})
# A position no replica reaches: "the primary", when what a read needs is
# not known (the cache did not answer, a version was bumped without one).
UNKNOWN_LSN = 2**63 - 1

# Positions as integers: a pg_lsn minus '0/0' is its byte offset.
_REPLAY_LSN_SQL = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
# Lag: none when everything received is replayed; otherwise the age of the
# last transaction replayed.
_CHECK_SQL = (
    "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, "
    "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9) END"
)
_PRIMARY_LSN_SQL = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"


def replicas() -> list[str]:
    return settings.DATABASE_REPLICAS


def enabled() -> bool:
    return bool(settings.DATABASE_REPLICAS)


# --- Each replica's health, per process -----------------------------------------


@dataclass
class ReplicaHealth:
    down_until: float = 0.0
    checked_at: float = float("-inf")
    lag: float | None = None
    replay_lsn: int = 0
    failures: int = 0


_health: dict[str, ReplicaHealth] = {}
_health_lock = threading.Lock()
# Called with (alias, usable=bool, lag=seconds or None) after each measure of
# a replica and when one fails (core.metrics keeps gauges of them).
replica_listeners: list = []


def _tell(alias: str, *, usable: bool, lag: float | None) -> None:
    for listener in replica_listeners:
        listener(alias, usable=usable, lag=lag)


def health(alias: str) -> ReplicaHealth:
    try:
        return _health[alias]
    except KeyError:
        with _health_lock:
            return _health.setdefault(alias, ReplicaHealth())


def reset_health() -> None:
    """Forget what this process knows of the replicas (for tests)."""
    with _health_lock:
        _health.clear()


def replica_failed(alias: str, error: BaseException | None = None) -> None:
    """The replica did not answer: leave it alone for a while and drop this
    thread's connection to it."""
    state = health(alias)
    state.down_until = time.monotonic() + settings.DATABASE_REPLICA_DOWN_SECONDS
    state.failures += 1
    _tell(alias, usable=False, lag=None)
    logger.warning(
        "Replica %s failed (%s): reads go to the primary for %s s.",
        alias,
        type(error).__name__ if error is not None else "unusable",
        settings.DATABASE_REPLICA_DOWN_SECONDS,
    )
    _close(alias)


def _close(alias: str) -> None:
    connection = connections[alias]
    try:
        if connection.connection is not None and connection.in_atomic_block:
            return  # closed by whoever opened the transaction
        connection.close()
    except DatabaseError:
        connection.connection = None


def _query_one(alias: str, sql: str):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def _check(alias: str) -> bool:
    """Measure the replica (at most every DATABASE_REPLICA_CHECK_SECONDS):
    whether it answers, is a standby and lags less than the bound."""
    state = health(alias)
    now = time.monotonic()
    if now < state.down_until:
        return False
    if now - state.checked_at < settings.DATABASE_REPLICA_CHECK_SECONDS:
        return state.lag is not None and state.lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    state.checked_at = now
    try:
        replay_lsn, lag = _query_one(alias, _CHECK_SQL)
    except DatabaseError as error:
        replica_failed(alias, error)
        return False
    if replay_lsn is None:
        # Not in recovery: a primary, or a standby that was promoted.
        state.lag = None
        logger.error("Replica %s is not a standby (not in recovery): reads go to the primary.", alias)
        _tell(alias, usable=False, lag=None)
        return False
    state.replay_lsn = max(state.replay_lsn, int(replay_lsn))
    state.lag = float(lag)
    usable = state.lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    _tell(alias, usable=usable, lag=state.lag)
    if not usable:
        logger.warning(
            "Replica %s lags %.1f s (bound %s s): reads go to the primary.",
            alias,
            state.lag,
            settings.DATABASE_REPLICA_MAX_LAG_SECONDS,
        )
    return usable


def replica_states() -> dict[str, str]:
    """Each replica as this process finds it (measured again when the last
    measure is older than DATABASE_REPLICA_CHECK_SECONDS): "ok" (reads go
    to it), "lagging" (beyond DATABASE_REPLICA_MAX_LAG_SECONDS) or "down"
    (no answer, or not a standby). Reads skip any but "ok" replicas."""
    states = {}
    for alias in replicas():
        if _check(alias):
            states[alias] = "ok"
        else:
            state = health(alias)
            lagging = state.lag is not None and time.monotonic() >= state.down_until
            states[alias] = "lagging" if lagging else "down"
    return states


def _usable_replica() -> str | None:
    candidates = list(replicas())
    random.shuffle(candidates)
    for alias in candidates:
        if _check(alias):
            return alias
    return None


def replay_lsn(alias: str) -> int:
    """The replica's replay position now (one query on it)."""
    (value,) = _query_one(alias, _REPLAY_LSN_SQL)
    if value is None:
        raise OperationalError(f"{alias} is not a standby")
    state = health(alias)
    state.replay_lsn = max(state.replay_lsn, int(value))
    return state.replay_lsn


def primary_lsn() -> int:
    """The primary's WAL insert position now: past the end of every
    transaction committed before it is read (one query on the primary)."""
    (value,) = _query_one(PRIMARY, _PRIMARY_LSN_SQL)
    return int(value)


# --- Read-your-writes pins ------------------------------------------------------


def pin_key(user_id) -> str:
    return f"replica-pin:{user_id}"


def pin(user_id) -> None:
    """After a write by ``user_id``: their routed reads wait for a replica
    that has replayed up to now, for DATABASE_REPLICA_PIN_SECONDS."""
    if not enabled() or user_id is None:
        return
    from core.cache import set_at_least

    try:
        lsn = primary_lsn()
    except DatabaseError:
        return  # the primary is down: there was no write to see
    try:
        set_at_least(pin_key(user_id), lsn, timeout=settings.DATABASE_REPLICA_PIN_SECONDS)
    except Exception as error:
        # Unreadable too, then: reads go to the primary while it lasts.
        logger.warning("Could not pin user %s to the primary (%s).", user_id, type(error).__name__)


def _read_pin(user_id) -> int:
    from django.core.cache import caches

    try:
        value = caches["strict"].get(pin_key(user_id))
    except Exception:
        return UNKNOWN_LSN
    return int(value or 0)


# --- The request's scope ---------------------------------------------------------

_UNSET = object()


@dataclass
class Scope:
    """Where the routed reads of one request (or one ``replica_reads``
    block) go. The replica is chosen at the first routed read and kept."""

    user_id: object = None
    active: bool = False
    primary_only: bool = False
    used_replica: bool = False
    _replica: object = _UNSET
    _pin: int | None = None
    _replay: int = 0
    _replay_asked: bool = False
    _required: list[int] = field(default_factory=list)

    @property
    def replica(self) -> str | None:
        return None if self._replica is _UNSET else self._replica

    def activate(self, user_id=None) -> None:
        self.active = enabled()
        self.user_id = user_id

    def use_primary(self) -> None:
        self.primary_only = True

    def _needed(self) -> int:
        if self._pin is None:
            user_id = self.user_id() if callable(self.user_id) else self.user_id
            self._pin = 0 if user_id is None else _read_pin(user_id)
        return max(self._pin, *self._required) if self._required else self._pin

    def alias(self) -> str:
        if self.primary_only:
            return PRIMARY
        if self._replica is _UNSET:
            self._replica = _usable_replica()
        replica = self._replica
        if replica is None:
            return PRIMARY
        needed = self._needed()
        if needed > self._replay:
            self._replay = max(self._replay, health(replica).replay_lsn)
        if needed > self._replay:
            if needed == UNKNOWN_LSN or self._replay_asked:
                return PRIMARY
            self._replay_asked = True
            try:
                self._replay = replay_lsn(replica)
            except DatabaseError as error:
                replica_failed(replica, error)
                self._replica = None
                return PRIMARY
            if needed > self._replay:
                return PRIMARY
        self.used_replica = True
        return replica

    def replica_failed_in(self, error: BaseException) -> bool:
        """Whether ``error`` came from this scope's replica: then the
        replica is left alone for a while (unless it only cancelled a query
        that conflicted with replay) and the scope reads from the primary."""
        if not isinstance(error, OperationalError | InterfaceError) or not self.used_replica:
            return False
        replica = self.replica
        if replica is None or not connections[replica].errors_occurred:
            return False
        if not _recovery_conflict(error):
            replica_failed(replica, error)
        else:
            _close(replica)
        self.use_primary()
        return True


def _recovery_conflict(error: BaseException) -> bool:
    # "canceling statement due to conflict with recovery": the query met
    # the replay of a change (a vacuum on the primary), the replica is fine.
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) in ("40001", "57014")


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("replica_scope", default=None)


def current_scope() -> Scope | None:
    scope = _scope.get()
    return scope if scope is not None and scope.active else None


@contextmanager
def _entered(scope: Scope) -> Iterator[Scope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextmanager
def replica_reads(*, user_id=None) -> Iterator[Scope]:
    """Reads inside the block go to a replica (as in a routed view), for
    ``user_id``'s pin if given: for commands and tasks that only read."""
    scope = Scope()
    scope.activate(user_id)
    with _entered(scope):
        yield scope


@contextmanager
def caught_up_to(lsn: int | None) -> Iterator[None]:
    """Routed reads inside the block go to a replica only if it has replayed
    up to ``lsn`` (None: not known, so the primary): for an answer that
    will be stored under a version bumped at that position."""
    scope = current_scope()
    if scope is None:
        yield
        return
    scope._required.append(UNKNOWN_LSN if lsn is None else lsn)
    try:
        yield
    finally:
        scope._required.pop()


class ReplicaRouter:
    """Reads in a routed scope go to its replica; everything else to the
    primary (DATABASE_ROUTERS, set when replicas are configured)."""

    def db_for_read(self, model, **hints):
        scope = current_scope()
        if scope is None or model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY  # a transaction reads what it wrote
        return scope.alias()

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


# --- Pins after writes -------------------------------------------------------------


class ReadYourWritesMiddleware:
    """Pin the signed-in user after every request that may have written
    (an unsafe method answered under 400): their next reads see it. Sits
    after the authentication middleware (DRF sets ``request.user`` on the
    request it wraps, so JWT callers count too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in READ_METHODS and request.method != "OPTIONS" and response.status_code < 400:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                pin(user.pk)
        return response


# --- Routed views ---------------------------------------------------------------------


def _missing(error: BaseException) -> bool:
    return isinstance(error, Http404 | ObjectDoesNotExist | exceptions.NotFound)


class ReplicaReadsMixin:
    """For a DRF view whose GETs may read from a replica. Authentication,
    permissions and throttles run on the primary first (the user's pin is
    then known); the handler's reads are routed. A replica that fails, or a
    404 read from one, is answered again from the primary."""

    def dispatch(self, request, *args, **kwargs):
        with _entered(Scope()) as scope:
            self._replica_scope = scope
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        scope = getattr(self, "_replica_scope", None)
        if scope is not None and request.method in READ_METHODS:
            scope.activate(request.user.pk if request.user.is_authenticated else None)

    def handle_exception(self, exc):
        scope = getattr(self, "_replica_scope", None)
        if scope is not None and scope.active and not scope.primary_only:
            retry = scope.replica_failed_in(exc) or (scope.used_replica and _missing(exc))
            if retry:
                scope.use_primary()
                handler = getattr(self, self.request.method.lower(), self.http_method_not_allowed)
                try:
                    return handler(self.request, *self.args, **self.kwargs)
                except Exception as again:
                    exc = again
        return super().handle_exception(exc)


def _session_user_id(request):
    session = getattr(request, "session", None)
    return None if session is None else session.get(SESSION_KEY)


def replica_view(view):
    """For a Django view (the admin's) whose GETs may read from a replica:
    its template is rendered inside (a TemplateResponse reads its querysets
    then), and a replica that fails is answered again from the primary."""

    @wraps(view)
    def routed(request, *args, **kwargs):
        if request.method not in READ_METHODS or not enabled():
            return view(request, *args, **kwargs)
        scope = Scope()
        scope.activate(lambda: _session_user_id(request))
        with _entered(scope):
            try:
                return _rendered(view(request, *args, **kwargs))
            except (OperationalError, InterfaceError) as error:
                if not scope.replica_failed_in(error):
                    raise
            return _rendered(view(request, *args, **kwargs))

    return routed


def _rendered(response):
    render = getattr(response, "render", None)
    if callable(render) and not getattr(response, "is_rendered", True):
        render()
    return response


def stream(queryset, *, chunk_size: int) -> Iterator:
    """The queryset's rows through a server-side cursor inside a
    transaction (streamed as the scan finds them, and safe behind a
    transaction pooler), on the database it was bound to (``using``) when
    the view ran; if that is a replica that fails before the first row, on
    the primary. For answers streamed after their view returned."""
    alias = queryset.db
    started = []
    try:
        yield from _stream(queryset, chunk_size, started)
    except (OperationalError, InterfaceError) as error:
        if started or alias not in replicas():
            raise
        if not _recovery_conflict(error):
            replica_failed(alias, error)
        yield from _stream(queryset.using(PRIMARY), chunk_size, started)


def _stream(queryset, chunk_size: int, started: list) -> Iterator:
    # (Nested in another transaction, it needs no savepoint: it only reads.)
    with transaction.atomic(using=queryset.db, savepoint=False):
        for row in queryset.iterator(chunk_size=chunk_size):
            if not started:
                started.append(True)
            yield row
