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

import hashlib
import logging
import threading
import time
from urllib.parse import urlencode

import redis.exceptions
from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction

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


def get_version(namespace: str) -> int:
    version = cache.get(_version_key(namespace))
    if version is None:
        # add() keeps a concurrent first reader's value; a cache outage leaves
        # version 0, which only means answers are not reused.
        cache.add(_version_key(namespace), _fresh_version(), timeout=None)
        version = cache.get(_version_key(namespace)) or 0
    return int(version)


def _bump(namespace: str) -> None:
    # The strict alias raises when the store is down, where the default one
    # would silently do nothing and leave every old answer reachable.
    strict = caches["strict"]
    key = _version_key(namespace)
    try:
        strict.incr(key)
    except ValueError:
        # Missing (evicted or never set): a fresh time-based version is past
        # anything a reader could hold.
        strict.set(key, _fresh_version(), timeout=None)


def bump_version(namespace: str) -> None:
    """Make every cached answer of the namespace unreachable. If the store
    does not answer, the bump is retried in the background (backing off up
    to ``_RETRY_MAX_DELAY``) until it lands or every answer cached before it
    has expired anyway, so a brief outage cannot leave a stale answer
    served for its whole TTL."""
    try:
        _bump(namespace)
    except Exception as exc:
        logger.warning("Cache version bump of %r failed (%s); retrying.", namespace, type(exc).__name__)
        _retry_later(namespace)


# Namespaces whose bump is being retried, by this process.
_pending: set[str] = set()
_pending_lock = threading.Lock()
_RETRY_FIRST_DELAY = 0.2
_RETRY_MAX_DELAY = 5.0


def _retry_later(namespace: str, delay: float = _RETRY_FIRST_DELAY, deadline: float | None = None) -> None:
    if deadline is None:
        with _pending_lock:
            if namespace in _pending:
                return  # one retry loop per namespace is enough: it bumps once
            _pending.add(namespace)
        deadline = time.monotonic() + max(
            settings.PRODUCTS_CACHE_SECONDS,
            settings.ANALYTICS_CACHE_SECONDS,
            settings.PURCHASE_LIST_CACHE_SECONDS,
            settings.STAFF_LIST_CACHE_SECONDS,
        )
    timer = threading.Timer(delay, _retry, args=(namespace, delay, deadline))
    timer.daemon = True
    timer.start()


def _retry(namespace: str, delay: float, deadline: float) -> None:
    try:
        _bump(namespace)
    except Exception:
        if time.monotonic() < deadline:
            _retry_later(namespace, min(delay * 2, _RETRY_MAX_DELAY), deadline)
            return
        logger.error("Cache version bump of %r abandoned: cached answers have expired by now.", namespace)
    else:
        logger.info("Cache version bump of %r done after a retry.", namespace)
    with _pending_lock:
        _pending.discard(namespace)


# --- Every namespace, and the writes that invalidate it ------------------------
# The one list of what is cached under a version. Each write that changes
# what a namespace's answers show calls ``invalidate`` with it: the services
# do, and the admin and the seed go through the same services or call
# ``invalidate`` with the same namespaces (config/tests/test_cache_freshness.py
# walks the write paths and reads again).

# The catalogue's answers (product list and detail) and the items of purchase
# lists: any product or category write (products.services, the catalogue
# admin, the seed).
CATALOGUE = "products"
# People's names and e-mails shown in another app's answers (the staff's
# purchase list): a user's name or e-mail changing (resellers.services, the
# users admin, the seed).
PEOPLE = "user-names"
# The staff's analytics: any purchase write or review (purchases.services),
# the seed.
ANALYTICS = "analytics"
# The staff's purchase lists: any purchase write or review, the seed.
ALL_PURCHASES = "purchases-all"
# Every purchase list, a reseller's included: writes of many resellers'
# purchases at once (the seed).
EVERY_PURCHASE_LIST = "purchases-every-list"


def reseller_purchases(reseller_id: int) -> str:
    """One reseller's purchase lists: their purchases' writes and reviews."""
    return f"purchases-of-{reseller_id}"


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

    def get(self):
        version_keys = [_version_key(namespace) for namespace in self.namespaces]
        found = cache.get_many([*version_keys, self.key])
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
