"""Versioned cache namespaces.

A namespace (``"products"``, ``"analytics"``) has a version number stored in
the cache; every cached answer is stored with the versions it was computed
under and served only while they are current (``VersionedAnswer``). Bumping
the version after a change makes every older answer unreachable at once
(they expire on their own), which is cheaper and safer than hunting keys
down. This module declares every namespace and what invalidates it
(below), ``invalidate`` (on commit, so readers never cache data of a
transaction that is rolled back) and the one get-or-compute
(``get_or_set``).
"""

import contextlib
import hashlib
import logging
import threading
import time
from urllib.parse import urlencode

import redis
import redis.exceptions
import redis.sentinel
from django.conf import settings
from django.core.cache import cache, caches
from django.db import DatabaseError, transaction

from core import routing

logger = logging.getLogger(__name__)

# What the strict alias raises when the store does not answer: django-redis
# re-raises redis-py's error (connection refused or dropped, a timeout, a
# server refusing commands: a replica after a failover, out of memory, still
# loading) or the socket's own timeout. Anything else is a bug and is left to
# surface as one.
STORE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ResponseError,
    ConnectionError,
    TimeoutError,
)


def _fresh_version() -> int:
    # Time-based, so a version key lost to eviction restarts above every
    # version a reader could have used before: old answers stay unreachable.
    return time.time_ns() // 1000


def _version_key(namespace: str) -> str:
    return f"{namespace}:version"


def _lsn_key(namespace: str) -> str:
    # With read replicas: the primary's WAL position at the namespace's
    # latest bump (core.routing).
    return f"{namespace}:lsn"


def get_version(namespace: str) -> int:
    version = cache.get(_version_key(namespace))
    if version is None:
        # add() keeps a concurrent first reader's value; a cache outage leaves
        # version 0, which only means answers are not reused.
        cache.add(_version_key(namespace), _fresh_version(), timeout=None)
        version = cache.get(_version_key(namespace)) or 0
    return int(version)


def _bump(namespace: str, lsn: int | None = None) -> None:
    # The strict alias raises when the store is down, where the default one
    # would silently do nothing and leave every old answer reachable.
    strict = caches["strict"]
    if routing.enabled():
        # Before the version: whoever reads the new version reads this too.
        # A position not known is no position: the next answers are then
        # computed on the primary, until a bump records one.
        if lsn is None:
            strict.delete(_lsn_key(namespace))
        else:
            set_at_least(_lsn_key(namespace), lsn, timeout=None)
    key = _version_key(namespace)
    try:
        strict.incr(key)
    except ValueError:
        # Missing (evicted or never set): a fresh time-based version is past
        # anything a reader could hold.
        strict.set(key, _fresh_version(), timeout=None)


def bump_version(namespace: str) -> None:
    """Make every cached answer of the namespace unreachable. If the store
    does not answer, the bump is retried in the background until it lands
    or every answer cached before it has expired anyway, so a brief outage
    cannot leave a stale answer served for its whole TTL.

    With read replicas, the primary's position is recorded with the bump:
    an answer is stored under the new version only if computed on the
    primary or on a replica that has replayed that far (``_get_or_set``)."""
    lsn = _primary_lsn() if routing.enabled() else None
    try:
        _bump(namespace, lsn)
    except Exception as exc:
        retrying = retry_in_background(
            f"cache version bump of {namespace!r}",
            lambda: _bump(namespace, lsn),
            give_up_after=max(
                settings.PRODUCTS_CACHE_SECONDS,
                settings.ANALYTICS_CACHE_SECONDS,
            ),
        )
        if retrying:
            logger.warning("Cache version bump of %r failed (%s); retrying.", namespace, type(exc).__name__)


def _primary_lsn() -> int | None:
    try:
        return routing.primary_lsn()
    except DatabaseError:
        return None  # not known: see _bump


_SET_AT_LEAST = """
local value = ARGV[1]
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) and tonumber(current) >= tonumber(value) then value = current end
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], value)
else
  redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
end
return 1
"""
_local_lock = threading.Lock()


def set_at_least(key: str, value: int, *, timeout: float | None) -> None:
    """Set the integer ``key`` to ``value`` unless it holds a larger one,
    in one step (concurrent writers keep the largest), its expiry renewed
    to ``timeout`` seconds (None: none). Through the strict alias: raises
    when the store does not answer."""
    strict = caches["strict"]
    client = getattr(strict, "client", None)
    if client is not None and hasattr(client, "get_client"):
        milliseconds = 0 if timeout is None else max(1, int(timeout * 1000))
        client.get_client(write=True).eval(_SET_AT_LEAST, 1, client.make_key(key), int(value), milliseconds)
        return
    with _local_lock:  # one process's memory
        current = strict.get(key)
        strict.set(key, value if current is None else max(int(current), value), timeout=timeout)


# --- Cache writes that must land, retried in the background -------------------

_RETRY_FIRST_DELAY = 0.2
_RETRY_MAX_DELAY = 5.0


class _Retry:
    def __init__(self, name: str, operation, deadline: float):
        self.name = name
        self.operation = operation
        self.deadline = deadline
        self.delay = _RETRY_FIRST_DELAY
        self.running = False
        self.timer: threading.Timer | None = None


# The writes being retried by this process, by name.
_pending: dict[str, _Retry] = {}
_pending_lock = threading.Lock()


def retry_in_background(name: str, operation, *, give_up_after: float) -> bool:
    """Call ``operation`` (which raises while the store does not answer)
    again in the background, backing off from 0.2 s up to 5 s, until it
    succeeds or ``give_up_after`` seconds have passed (when what it guards
    has expired anyway), and at once when a breaker of the cache closes.
    One retry per ``name``: a second request while one is pending is the
    same write (False is returned)."""
    with _pending_lock:
        if name in _pending:
            return False
        retry = _pending[name] = _Retry(name, operation, time.monotonic() + give_up_after)
        _schedule(retry, retry.delay)
    return True


def _schedule(retry: _Retry, delay: float) -> None:
    # Called with _pending_lock held.
    retry.timer = threading.Timer(delay, _attempt, args=(retry,))
    retry.timer.daemon = True
    retry.timer.start()


def _attempt(retry: _Retry) -> None:
    with _pending_lock:
        if _pending.get(retry.name) is not retry or retry.running:
            return  # done already, or being tried by another timer
        retry.running = True
    try:
        retry.operation()
    except Exception:
        with _pending_lock:
            retry.running = False
            if time.monotonic() < retry.deadline:
                retry.delay = min(retry.delay * 2, _RETRY_MAX_DELAY)
                _schedule(retry, retry.delay)
                return
            del _pending[retry.name]
        logger.error("The %s was abandoned: what it guarded has expired by now.", retry.name)
        return
    with _pending_lock:
        _pending.pop(retry.name, None)
    logger.info("The %s was done after a retry.", retry.name)


def retry_pending(name: str) -> bool:
    """Whether the write ``name`` is waiting for a retry in this process."""
    return name in _pending


def _retry_now() -> None:
    """The store answers again: every pending write is tried now."""
    with _pending_lock:
        for retry in _pending.values():
            if not retry.running:
                retry.timer.cancel()
                _schedule(retry, 0)


# --- Every namespace, and the writes that invalidate it ------------------------
# The one list of what is cached under a version. Each write that changes
# what a namespace's answers show calls ``invalidate`` with it: the services
# do, and the admin and the seed go through the same services or call
# ``invalidate`` with the same namespaces (config/tests/test_cache_freshness.py
# walks the write paths and reads again).

# The catalogue's answers (product list and detail): any product or category
# write (products.services, the catalogue admin, the seed).
CATALOGUE = "products"
# The staff's analytics: any purchase write or review (purchases.services),
# the seed.
ANALYTICS = "analytics"
NAMESPACES = (CATALOGUE, ANALYTICS)
# The purchase lists are not cached: on the mixed load test (random resellers,
# filters, orderings and pages) not one answer was asked for twice within a
# minute, so a cache only added its round trips (docs/performance.md).


def invalidate(*namespaces: str) -> None:
    """Make every answer cached under these namespaces unreachable once the
    current transaction commits (at once outside one), so that no reader
    caches data of a transaction that is rolled back."""
    transaction.on_commit(lambda: [bump_version(namespace) for namespace in namespaces])


class CachedAnswer:
    """A cached answer under a key made of ``parts`` alone: served until it
    expires, however the data changed meanwhile (for figures that may be a
    few seconds old). The interface of ``VersionedAnswer``."""

    def __init__(self, *parts: object):
        text = "|".join(str(part) for part in parts)
        self.key = "answer:" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def get(self):
        return cache.get(self.key)

    def set(self, data, *, timeout: int) -> None:
        cache.set(self.key, data, timeout=timeout)

    def get_or_set(self, compute, *, timeout: int):
        return _get_or_set(self, compute, timeout)


class VersionedAnswer:
    """One cached answer under the current versions of its namespaces, read
    with them in a single round trip: the answer is stored together with
    the versions read before it was computed, and served only while they are
    still the current ones. A bump therefore makes every older answer
    unreachable, including one computed while the write was committing (it
    carries the versions read before). Without a cache that answers,
    nothing is served or stored.

        answer = VersionedAnswer(("products",), "member", url)
        data = answer.get()
        if data is None:
            data = compute()
            answer.set(data, timeout=300)
    """

    def __init__(self, namespaces: tuple[str, ...], *parts: object):
        self.namespaces = namespaces
        text = "|".join(str(part) for part in (*namespaces, *parts))
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        self.key = f"{namespaces[0]}:answer:{digest}"
        self.versions: tuple[int, ...] | None = None
        # With read replicas: how far a replica must have replayed to
        # compute the answer (None: unknown, the primary computes it).
        self.lsn: int | None = None

    def get(self):
        version_keys = [_version_key(namespace) for namespace in self.namespaces]
        lsn_keys = [_lsn_key(namespace) for namespace in self.namespaces] if routing.enabled() else []
        found = cache.get_many([*version_keys, *lsn_keys, self.key])
        if lsn_keys:
            positions = [found.get(key) for key in lsn_keys]
            self.lsn = None if None in positions else max(int(position) for position in positions)
        versions = tuple(
            int(found.get(key) or get_version(namespace))
            for key, namespace in zip(version_keys, self.namespaces, strict=True)
        )
        # Version 0: the cache did not answer (see get_version).
        self.versions = versions if all(versions) else None
        stored = found.get(self.key)
        if self.versions is not None and stored is not None and stored[0] == self.versions:
            return stored[1]
        return None

    def set(self, data, *, timeout: int) -> None:
        if self.versions is not None:
            cache.set(self.key, (self.versions, data), timeout=timeout)

    def get_or_set(self, compute, *, timeout: int):
        return _get_or_set(self, compute, timeout)


def _get_or_set(answer, compute, timeout: int):
    """The one get-or-compute: the stored answer, or ``compute()``'s, stored
    for ``timeout`` seconds (0 or less: computed every time, nothing kept)."""
    if timeout <= 0:
        return compute()
    data = answer.get()
    if data is None:
        if isinstance(answer, VersionedAnswer):
            with routing.caught_up_to(answer.lsn):
                data = compute()
        else:
            data = compute()
        answer.set(data, timeout=timeout)
    return data


def canonical_url(request) -> str:
    """The request's absolute URL with its query parameters sorted by name
    (each parameter's own values keep their order): the same question asked
    with the parameters in another order is the same cached answer, and the
    host is part of it because paginated answers carry absolute links."""
    query = urlencode(sorted(request.query_params.lists()), doseq=True)
    url = request.build_absolute_uri(request.path)
    return f"{url}?{query}" if query else url


# --- A circuit breaker in front of Redis --------------------------------------
#
# A paused or unreachable Redis makes every cache call wait out the socket
# timeout (REDIS_SOCKET_TIMEOUT, 0.5 s): a request making ten calls would take
# five seconds to get answers the database gives in milliseconds. The
# connection pool of both cache aliases (BreakerConnectionPool, set in
# settings) puts every command, whoever sends it (Django's cache API,
# django-redis's raw client, scripts, pipelines), through one breaker per Redis
# server, kept in this process's memory:
#
# * closed: commands go out; CACHE_BREAKER_FAILURES consecutive timeouts or
#   connection errors open it (an answer, even an error reply, is a success);
# * open, for CACHE_BREAKER_SECONDS: no command is sent. Each one fails at
#   once with CacheUnavailable (a redis ConnectionError), which the callers
#   already handle as an outage: the default alias answers "not cached" and
#   the request is served from the database; the strict alias raises, so the
#   credential throttles answer 503 at once (failing closed), and a version
#   bump or an auth-cache drop is retried in the background;
# * then half-open: one thread's commands go out as the trial; an answer
#   closes it, a failure opens it again.
#
# A connection is behind the breaker of the server it connects to, chosen when
# it connects: with Sentinel (BreakerSentinelConnectionPool) that is whichever
# server the sentinels name as the primary at that moment, so once a failover
# has promoted a replica, new connections go to it through a breaker of its
# own, however long the old primary's stays open.


class CacheUnavailable(redis.exceptions.ConnectionError):
    """Raised instead of sending a command while the breaker is open."""


class CacheBreaker:
    def __init__(self, server: str):
        self.server = server
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.failures = 0
        self.open_until = 0.0
        self.trial_thread: int | None = None
        self.trial_until = 0.0
        self.times_opened = 0

    def allows(self, *, trial_seconds: float) -> bool:
        threshold = settings.CACHE_BREAKER_FAILURES
        if self.failures < threshold or threshold <= 0:
            return True  # closed: read without the lock, the common case
        with self.lock:
            now = time.monotonic()
            if self.failures < threshold:
                return True
            if now < self.open_until:
                return False
            # Half-open: the first thread to come is the trial (until it
            # reports, or fails to within trial_seconds).
            thread = threading.get_ident()
            if self.trial_thread in (None, thread) or now > self.trial_until:
                self.trial_thread, self.trial_until = thread, now + trial_seconds
                return True
            return False

    def succeeded(self) -> None:
        if not self.failures:
            return
        with self.lock:
            was_open = self.failures >= settings.CACHE_BREAKER_FAILURES
            self.failures, self.open_until, self.trial_thread = 0, 0.0, None
        if was_open:
            logger.warning("Redis at %s answers again: the cache is used again.", self.server)
            _notify(self.server, is_open=False)
        _retry_now()

    def failed(self) -> None:
        threshold = settings.CACHE_BREAKER_FAILURES
        with self.lock:
            now = time.monotonic()
            opens = False
            if self.failures < threshold:
                self.failures += 1
                if self.failures < threshold:
                    return
                self.times_opened += 1
                opens = True
            elif self.trial_thread != threading.get_ident():
                return  # a call sent before the circuit opened
            self.open_until = now + settings.CACHE_BREAKER_SECONDS
            self.trial_thread = None
        if opens:
            logger.warning(
                "Redis at %s failed %s times in a row: the cache is skipped for %s s.",
                self.server,
                threshold,
                settings.CACHE_BREAKER_SECONDS,
            )
            _notify(self.server, is_open=True)

    def is_open(self) -> bool:
        """Whether commands are refused now (open, or half-open with a trial out)."""
        threshold = settings.CACHE_BREAKER_FAILURES
        return 0 < threshold <= self.failures

    def retire(self) -> None:
        """Close it for good: the server is no longer the one used (Sentinel
        promoted another), so its failures say nothing about the cache."""
        with self.lock:
            was_open = self.is_open()
            self.failures, self.open_until, self.trial_thread = 0, 0.0, None
        if was_open:
            _notify(self.server, is_open=False)


_breakers: dict[str, CacheBreaker] = {}
_breakers_lock = threading.Lock()

# Called with (server, is_open=...) when a breaker opens or closes
# (core.metrics adds one when metrics are enabled).
breaker_listeners: list = []


def _notify(server: str, *, is_open: bool) -> None:
    for listener in breaker_listeners:
        try:
            listener(server, is_open=is_open)
        except Exception:
            logger.exception("A cache breaker listener failed.")


def _breaker(server: str) -> CacheBreaker:
    try:
        return _breakers[server]
    except KeyError:
        with _breakers_lock:
            return _breakers.setdefault(server, CacheBreaker(server))


def cache_breaker_open() -> bool:
    """Whether the cache is being skipped (a breaker is open or half-open):
    for callers that would rather not even try, such as a throttle that
    must answer 503 at once."""
    return any(breaker.is_open() for breaker in list(_breakers.values()))


def cache_breakers() -> dict[str, CacheBreaker]:
    """The breakers of this process, by server."""
    return dict(_breakers)


def reset_cache_breakers() -> None:
    """Close every breaker (for tests)."""
    for breaker in list(_breakers.values()):
        with breaker.lock:
            breaker.reset()


_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _server_name(address) -> str:
    host, port = address
    return f"{host}:{port}"


class _BreakerConnection:
    """Mixed into the pool's connection class (see BreakerConnectionPool)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The breaker of the server it connects to, chosen when it connects
        # (a Sentinel-managed connection learns the server only then).
        self._breaker: CacheBreaker | None = None
        # How long a trial may take: a connection and a command.
        self._trial_seconds = (self.socket_connect_timeout or 1) + (self.socket_timeout or 1) + 1

    def _gate(self) -> None:
        if not self._breaker.allows(trial_seconds=self._trial_seconds):
            raise CacheUnavailable(f"Redis at {self._breaker.server} is skipped (circuit open)")

    def _outage(self, error: BaseException) -> None:
        if self._breaker is None or isinstance(error, CacheUnavailable):
            return
        if not getattr(error, "_breaker_counted", False):
            error._breaker_counted = True
            self._breaker.failed()

    def connect_check_health(self, *args, **kwargs):
        if self._sock is None:
            address = (getattr(self, "host", ""), getattr(self, "port", ""))
            self._breaker = _breaker(getattr(self, "path", "") or _server_name(address))
            self._gate()
        try:
            return super().connect_check_health(*args, **kwargs)
        except _OUTAGES as error:
            self._outage(error)
            raise

    def send_packed_command(self, *args, **kwargs):
        if self._sock is not None:
            self._gate()  # else the connection is made first, behind the gate
        try:
            return super().send_packed_command(*args, **kwargs)
        except _OUTAGES as error:
            self._outage(error)
            raise

    def read_response(self, *args, **kwargs):
        try:
            response = super().read_response(*args, **kwargs)
        except _OUTAGES as error:
            self._outage(error)
            raise
        except redis.exceptions.ResponseError:
            self._breaker.succeeded()  # an error reply is still an answer
            raise
        self._breaker.succeeded()
        return response


_breaker_classes: dict[type, type] = {}


def _with_breaker(connection_class: type) -> type:
    if issubclass(connection_class, _BreakerConnection):
        return connection_class
    if connection_class not in _breaker_classes:
        _breaker_classes[connection_class] = type(
            f"Breaker{connection_class.__name__}", (_BreakerConnection, connection_class), {}
        )
    return _breaker_classes[connection_class]


class BreakerConnectionPool(redis.ConnectionPool):
    """redis-py's pool, its connections (TCP, TLS or Unix socket) behind the
    breaker of their server. Set as django-redis's CONNECTION_POOL_CLASS."""

    def __init__(self, connection_class=redis.Connection, **kwargs):
        super().__init__(connection_class=_with_breaker(connection_class), **kwargs)


# --- Redis with Sentinel --------------------------------------------------------
#
# With REDIS_SENTINELS, django-redis's SentinelConnectionFactory builds this
# pool for the primary only (is_master): every read and write goes to the one
# server the sentinels name as the primary, never to a replica that may lag
# (reading replicas gave stale reads). redis-py asks the sentinels when a
# connection is made, drops the idle connections once the answer changes, and
# turns a READONLY reply (the old primary demoted) into a reconnection. Until a
# replica is promoted, commands fail as in any outage (the breaker of the
# frozen primary opens; while the sentinels name no healthy primary each new
# connection fails at once); the first connection made after the promotion
# goes to the new primary through its own breaker.


class BreakerSentinelConnectionPool(redis.sentinel.SentinelConnectionPool):
    """redis-py's Sentinel pool, its connections behind the breaker of the
    server they reach; a move of the primary retires the old one's breaker
    and makes every cached answer unreachable (``_primary_moved``).
    Set as CONNECTION_POOL_CLASS with django-redis's SentinelConnectionFactory.

    redis-py asks the sentinels only when it makes a connection, so a
    process that sent nothing while the primary was down would go on using
    its pooled connections to the old primary. If that one was only paused,
    it answers again as a primary, and keeps taking writes that are lost when
    the sentinels demote it (about ten seconds later, at their next check):
    counts of the throttles, version bumps. Before handing out a connection
    the pool therefore asks the sentinels again when it last did more than
    REDIS_SENTINEL_RECHECK_SECONDS ago (one short round trip)."""

    def __init__(self, service_name, sentinel_manager, **kwargs):
        # A rediss:// URL names redis-py's TLS connection class.
        tls = issubclass(kwargs.pop("connection_class", redis.Connection), redis.SSLConnection)
        managed = redis.sentinel.SentinelManagedConnection
        if tls or kwargs.pop("ssl", False):
            managed = redis.sentinel.SentinelManagedSSLConnection
        super().__init__(service_name, sentinel_manager, connection_class=_with_breaker(managed), **kwargs)
        self.proxy = _WatchedSentinelProxy(
            connection_pool=self,
            is_master=self.is_master,
            check_connection=self.check_connection,
            service_name=service_name,
            sentinel_manager=sentinel_manager,
        )
        self.connection_kwargs["connection_pool"] = self.proxy
        self._recheck_at = 0.0

    def get_connection(self, *args, **kwargs):
        now = time.monotonic()
        if self.is_master and now >= self._recheck_at:
            self._recheck_at = now + settings.REDIS_SENTINEL_RECHECK_SECONDS
            # A new address drops the idle connections (to reconnect); no
            # primary named now, and the command finds out for itself.
            with contextlib.suppress(redis.exceptions.ConnectionError):
                self.get_master_address()
        return super().get_connection(*args, **kwargs)


class _WatchedSentinelProxy(redis.sentinel.SentinelConnectionPoolProxy):
    # What the pool's connections ask for the primary's address.
    unnamed = False  # the sentinels named no primary when last asked

    def get_master_address(self):
        previous = self.master_address
        try:
            address = super().get_master_address()
        except redis.sentinel.MasterNotFoundError as error:
            # Between the primary's loss and a promotion. Every cache call
            # meanwhile fails at once, skipped in the logs as while a breaker
            # is open: the start and the end are logged once each.
            if not self.unnamed:
                self.unnamed = True
                logger.warning(
                    "Redis Sentinel names no primary of %r: the cache is skipped until it does.",
                    self.service_name,
                )
            raise CacheUnavailable(f"Redis Sentinel names no primary of {self.service_name!r}") from error
        if self.is_master and previous is not None and address != previous:
            _primary_moved(self.service_name, previous, address)
        elif self.unnamed:
            named = _server_name(address)
            logger.warning("Redis Sentinel names %s as the primary of %r again.", named, self.service_name)
        self.unnamed = False
        return address


def _primary_moved(service: str, previous, address) -> None:
    """This process found the primary of ``service`` moved (a failover).
    The old primary's breaker is retired: nothing is sent there any more,
    and an open breaker would keep reporting an outage that is over. Every
    namespace's version is bumped on the new primary: replication is
    asynchronous, so a bump the old primary acknowledged in its last moment
    (or took after a pause, before the sentinels demoted it) may be missing
    there, and an answer it should have made unreachable would be served
    again."""
    logger.warning(
        "Redis Sentinel moved the primary of %r from %s to %s.",
        service,
        _server_name(previous),
        _server_name(address),
    )
    breaker = _breakers.get(_server_name(previous))
    if breaker is not None:
        breaker.retire()
    for namespace in NAMESPACES:
        retry_in_background(
            f"cache version bump of {namespace!r}",
            lambda namespace=namespace: _bump(namespace),
            give_up_after=max(settings.PRODUCTS_CACHE_SECONDS, settings.ANALYTICS_CACHE_SECONDS),
        )


class _SkippedCalls(logging.Filter):
    # django-redis logs every error the default alias ignores, with its
    # traceback, to this module's logger (DJANGO_REDIS_LOGGER): while the
    # breaker is open that would be every cache call. Opening and closing
    # are logged once each instead.
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, CacheUnavailable):
                return False
            error = error.__cause__
        return True


logger.addFilter(_SkippedCalls())
