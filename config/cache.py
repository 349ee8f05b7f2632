"""Versioned cache namespaces.

A namespace (``"products"``, ``"analytics"``) has a version number stored in
the cache; every cached answer's key includes it. Bumping the version after a
change makes every older answer unreachable at once (they expire on their
own), which is cheaper and safer than hunting keys down. Writers bump with
``transaction.on_commit(lambda: bump_version(...))`` so readers never cache
data from a transaction that is rolled back.
"""

import hashlib
import time

from django.core.cache import cache


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


def bump_version(namespace: str) -> None:
    key = _version_key(namespace)
    try:
        cache.incr(key)
    except ValueError:
        # Missing (evicted or never set): a fresh time-based version is past
        # anything a reader could hold.
        cache.set(key, _fresh_version(), timeout=None)


def versioned_key(namespace: str, *parts: object) -> str:
    """A cache key for ``parts`` under the namespace's current version."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"{namespace}:v{get_version(namespace)}:{digest}"
