"""Client of the brand's accumulated-cashback API, with a fast local fallback.

``GET {CASHBACK_API_URL}/v1/cashback?cpf=<11 digits>`` with the header
``token: <CASHBACK_API_TOKEN>`` answers ``{"statusCode": 200, "body": {"credit": <number>}}``.

The route that shows the balance must stay fast whatever the API does, so:

* **Not configured** (empty ``CASHBACK_API_URL``): the local ledger, no HTTP.
* **Fresh cache**: an answer is reused for ``CASHBACK_API_CACHE_SECONDS``.
* **Time budget**: ``CASHBACK_API_TIMEOUT`` seconds for the whole call,
  retry included. Each attempt gets what is left of the budget as its connect
  and read timeouts, and the body is read piece by piece against the same
  deadline (a read timeout bounds each socket read, not the whole answer). A
  silent server costs the budget; one trickling bytes at most about twice it.
* **One retry** on connection errors and HTTP 5xx, only if enough budget is
  left. A read timeout is not retried: it has used the budget already.
* **Strict parsing**: anything but the documented shape with a finite
  ``credit`` between 0 and ``MAX_CREDIT`` is a failure, like 4xx/5xx,
  redirects, timeouts, a body over 64 KiB, one nested too deeply for the
  parser, or any error raised while calling (counted, never a 500).
* **Circuit breaker** kept in Redis so every process shares it (in each
  process's memory without Redis or while it is down): after
  ``CASHBACK_API_BREAKER_FAILURES`` consecutive failed calls no request is made
  for ``CASHBACK_API_BREAKER_SECONDS``; then one caller gets a trial call
  (half-open). Success closes the circuit, failure opens it again. A call in
  flight counts as a possible failure, so however many callers arrive during
  a hang, at most that many calls go out before the circuit opens, and
  exactly one trial after it.
* **Threads**: at most ``CASHBACK_API_MAX_CALLS_PER_PROCESS`` of a process's
  threads wait on the API at once; the others get the fallback at once, so
  a hang never holds every thread of a gunicorn worker.
* **On failure** the last good external answer (kept for a day) is served
  with ``stale=True``; without one, the local ledger.

Nothing here raises for an API or cache problem. The CPF is only ever sent to
the API: cache keys use the reseller's blind index, and log records name the
reason of a failure, never the CPF, the token or the URL with its query
string (``requests``' exception messages contain that URL, so they are never
logged).
"""

import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import requests
import urllib3
from django.conf import settings
from django.core.cache import cache, caches
from django.utils import timezone
from django_redis.cache import RedisCache

logger = logging.getLogger(__name__)

SOURCE_EXTERNAL = "external"
SOURCE_LOCAL = "local"

CENTS = Decimal("0.01")
# The largest amount the answer shows (14 digits, 2 of them decimals): anything
# above is not a reseller's cashback.
MAX_CREDIT = Decimal("999999999999.99")

# Reused across calls for connection pooling.
_session = requests.Session()

# Below this, a retry cannot realistically connect and answer; it would only
# make the route slower before falling back anyway.
_MIN_RETRY_SECONDS = 0.1
# The answer is a few dozen bytes; a huge body is garbage, not worth reading.
_MAX_BODY_BYTES = 64 * 1024
_READ_BYTES = 8192
# How long the last good answer stays available to be served as stale.
_LAST_GOOD_SECONDS = 24 * 60 * 60
# The failure counter outlives any open period; it is reset by a success.
_BREAKER_STATE_SECONDS = 24 * 60 * 60

# The version segment lets a future change of the stored format ignore old entries.
_KEY_PREFIX = "cashback-api:v1"
_FAILURES_KEY = f"{_KEY_PREFIX}:breaker:failures"
_OPEN_KEY = f"{_KEY_PREFIX}:breaker:open"
_IN_FLIGHT_KEY = f"{_KEY_PREFIX}:breaker:in-flight"

_DECIMAL_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class CashbackBalance:
    credit: Decimal
    source: str
    stale: bool
    fetched_at: datetime


class _Failure(Exception):
    """One failed attempt; ``reason`` is safe to log (no CPF, token or URL)."""

    def __init__(self, reason: str, *, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def cashback_balance(*, cpf: str, cpf_index: str, local_ledger: Callable[[], Decimal]) -> CashbackBalance:
    """The reseller's accumulated cashback: external when possible, else the local ledger.

    ``cpf`` (11 digits) is only sent to the API; ``cpf_index`` (the blind index)
    keys the cache; ``local_ledger`` is called only when it is the answer.
    """
    if not settings.CASHBACK_API_URL:
        return _local(local_ledger)

    fresh = _cached_balance(_fresh_key(cpf_index))
    if fresh is not None:
        return fresh

    permit = _acquire()
    if isinstance(permit, str):
        return _fallback(cpf_index, local_ledger, reason=permit)

    credit, reason = None, ""
    try:
        credit = _fetch_with_retry(cpf)
    except _Failure as failure:
        reason = failure.reason
    except Exception as exc:
        # Whatever else goes wrong in the call is the API's failure, never the
        # route's. Only the class is logged: messages can hold the URL.
        reason = f"unexpected error ({type(exc).__name__})"
    finally:
        # Even when the thread is being stopped: a permit never leaks.
        _finish(permit, ok=credit is not None)
    if credit is None:
        return _fallback(cpf_index, local_ledger, reason=reason)

    balance = CashbackBalance(credit, SOURCE_EXTERNAL, stale=False, fetched_at=timezone.now())
    _store(cpf_index, balance)
    return balance


# --- HTTP -------------------------------------------------------------------


def _fetch_with_retry(cpf: str) -> Decimal:
    deadline = time.monotonic() + settings.CASHBACK_API_TIMEOUT
    try:
        return _fetch(cpf, deadline)
    except _Failure as failure:
        if not failure.retryable or deadline - time.monotonic() < _MIN_RETRY_SECONDS:
            raise
        logger.info("Cashback API attempt failed (%s); retrying once.", failure.reason)
    return _fetch(cpf, deadline)


def _fetch(cpf: str, deadline: float) -> Decimal:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Failure("timeout")
    try:
        # stream=True: the body is read under the deadline by _read_body.
        # No redirects: the token header would follow them to any host.
        with _session.get(
            f"{settings.CASHBACK_API_URL.rstrip('/')}/v1/cashback",
            params={"cpf": cpf},
            # identity: requests asks for gzip by default, but the body is read
            # raw (undecoded) under the size limit below.
            headers={
                "token": settings.CASHBACK_API_TOKEN,
                "Accept": "application/json",
                "Accept-Encoding": "identity",
            },
            timeout=(remaining, remaining),
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code >= 500:
                raise _Failure(f"HTTP {response.status_code}", retryable=True)
            if response.status_code != 200:
                raise _Failure(f"HTTP {response.status_code}")
            if response.headers.get("Content-Encoding", "identity").lower() != "identity":
                raise _Failure("invalid body (encoded)")
            body = _read_body(response, deadline)
    # Only the exception's class is reported: its message holds the URL with the CPF.
    except requests.ConnectTimeout:
        raise _Failure("connect timeout", retryable=True) from None
    except requests.Timeout:
        raise _Failure("timeout") from None
    except requests.ConnectionError as exc:
        raise _Failure(f"connection error ({type(exc).__name__})", retryable=True) from None
    except requests.RequestException as exc:
        raise _Failure(f"request error ({type(exc).__name__})") from None
    # Reading the body through response.raw raises urllib3's own exceptions.
    except urllib3.exceptions.ReadTimeoutError:
        raise _Failure("timeout") from None
    except urllib3.exceptions.ProtocolError as exc:
        raise _Failure(f"connection error ({type(exc).__name__})", retryable=True) from None
    except urllib3.exceptions.HTTPError as exc:
        raise _Failure(f"request error ({type(exc).__name__})") from None
    return _parse_credit(body)


def _read_body(response: requests.Response, deadline: float) -> bytes:
    # read1() hands back whatever has arrived, so the deadline and size are
    # checked between socket reads; iter_content() would block until a whole
    # chunk came in, letting a server that trickles bytes just under the read
    # timeout hold the call far past the budget.
    chunks, size = [], 0
    while chunk := response.raw.read1(_READ_BYTES):
        size += len(chunk)
        if size > _MAX_BODY_BYTES:
            raise _Failure("invalid body (too large)")
        if time.monotonic() > deadline:
            raise _Failure("timeout")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_credit(body: bytes) -> Decimal:
    try:
        payload = json.loads(body)
    except ValueError:  # also covers UnicodeDecodeError
        raise _Failure("invalid body (not JSON)") from None
    except RecursionError:  # json recurses once per level of nesting
        raise _Failure("invalid body (nested too deeply)") from None
    if not isinstance(payload, dict) or payload.get("statusCode") != 200:
        raise _Failure("invalid body (statusCode is not 200)")
    inner = payload.get("body")
    if not isinstance(inner, dict) or "credit" not in inner:
        raise _Failure("invalid body (no credit)")
    credit = _to_decimal(inner["credit"])
    if credit is None:
        raise _Failure("invalid body (credit is not a non-negative number)")
    return credit


def _to_decimal(value: object) -> Decimal | None:
    # bool is an int subclass, and `true` is not an amount.
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and not _DECIMAL_STRING.fullmatch(value):
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        credit = Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the decimal context holds
        return None
    return credit if 0 <= credit <= MAX_CREDIT else None


# --- Answers ----------------------------------------------------------------


def _local(local_ledger: Callable[[], Decimal]) -> CashbackBalance:
    # `or 0`: an aggregate Sum over no approved purchases is None.
    credit = Decimal(local_ledger() or 0).quantize(CENTS, rounding=ROUND_HALF_UP)
    return CashbackBalance(credit, SOURCE_LOCAL, stale=False, fetched_at=timezone.now())


def _fallback(cpf_index: str, local_ledger: Callable[[], Decimal], *, reason: str) -> CashbackBalance:
    last_good = _cached_balance(_last_good_key(cpf_index))
    if last_good is not None:
        logger.warning("Cashback API unavailable (%s); serving the last good answer.", reason)
        return replace(last_good, stale=True)
    logger.warning("Cashback API unavailable (%s); serving the local ledger.", reason)
    return _local(local_ledger)


# --- Answer cache -----------------------------------------------------------


def _fresh_key(cpf_index: str) -> str:
    return f"{_KEY_PREFIX}:fresh:{cpf_index}"


def _last_good_key(cpf_index: str) -> str:
    return f"{_KEY_PREFIX}:last-good:{cpf_index}"


def _store(cpf_index: str, balance: CashbackBalance) -> None:
    # Plain values rather than the dataclass: nothing to unpickle if the class changes.
    entry = {"credit": str(balance.credit), "fetched_at": balance.fetched_at.isoformat()}
    fresh_seconds = settings.CASHBACK_API_CACHE_SECONDS
    _safe_cache(cache.set, _fresh_key(cpf_index), entry, fresh_seconds)
    _safe_cache(cache.set, _last_good_key(cpf_index), entry, max(_LAST_GOOD_SECONDS, fresh_seconds))


def _cached_balance(key: str) -> CashbackBalance | None:
    """The stored external answer as a fresh balance, or None."""
    entry = _safe_cache(cache.get, key)
    try:
        credit = Decimal(entry["credit"])
        fetched_at = datetime.fromisoformat(entry["fetched_at"])
    except (TypeError, KeyError, ValueError, InvalidOperation):
        return None  # a miss, or an entry this code does not recognise
    return CashbackBalance(credit, SOURCE_EXTERNAL, stale=False, fetched_at=fetched_at)


def _safe_cache(operation: Callable[..., Any], *args: Any) -> Any:
    # django-redis already swallows connection errors (IGNORE_EXCEPTIONS), but
    # any cache failure must only cost the cache, never the answer.
    try:
        return operation(*args)
    except Exception:
        logger.warning("Cache error in the cashback client; continuing without it.", exc_info=True)
        return None


# --- Circuit breaker ---------------------------------------------------------
#
# A call in flight counts as a failure that has not happened yet: a call is let
# out only while the failures so far plus the calls in flight stay under the
# threshold. A hang therefore lets out at most the threshold's number of calls
# before the circuit opens (each one waits out the budget and fails), however
# many callers arrive together; once the open period is over, the first
# caller to find nothing in flight is the one trial call (half-open).


@dataclass
class _Permit:
    """One call let out, and the breaker that let it out (it reports there)."""

    shared: bool
    call_id: str = ""


class _LocalBreaker:
    """This process's own circuit: the one used without a shared cache (the
    embedded default) and while the shared cache is down, when the shared
    state can be neither read nor written and without it every call would pay
    the full time budget again."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failures = 0
        self.in_flight = 0
        self.open_until = 0.0

    def acquire(self, threshold: int) -> bool:
        with self.lock:
            if time.monotonic() < self.open_until:
                return False
            if self.failures >= threshold:
                if self.in_flight:
                    return False  # half-open: someone is making the trial call
            elif self.failures + self.in_flight >= threshold:
                return False
            self.in_flight += 1
            return True

    def finish(self, *, ok: bool, held: bool = True) -> None:
        """Report a call's outcome; ``held``: it was let out by this breaker."""
        threshold = settings.CASHBACK_API_BREAKER_FAILURES
        with self.lock:
            if held:
                self.in_flight = max(self.in_flight - 1, 0)
            if ok:
                self.failures, self.open_until = 0, 0.0
                return
            self.failures += 1
            if self.failures >= threshold and time.monotonic() >= self.open_until:
                # Also after a failed trial once the open period is over.
                self.open_until = time.monotonic() + settings.CASHBACK_API_BREAKER_SECONDS


_local_breaker = _LocalBreaker()


class _ProcessCalls:
    """How many of this process's threads are waiting on the API, at most
    ``CASHBACK_API_MAX_CALLS_PER_PROCESS``: a hang never holds every thread of
    a worker, so its other requests (``/health/live`` among them) are served
    meanwhile. The callers over the limit get the fallback at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0

    def acquire(self) -> bool:
        limit = settings.CASHBACK_API_MAX_CALLS_PER_PROCESS
        with self.lock:
            if 0 < limit <= self.count:
                return False
            self.count += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.count = max(self.count - 1, 0)


_process_calls = _ProcessCalls()


def reset_breaker() -> None:
    """Forget this process's breaker state (for tests)."""
    global _local_breaker, _process_calls
    _local_breaker, _process_calls = _LocalBreaker(), _ProcessCalls()


# The shared state, in Redis (one script per step, so each step is atomic across
# every process): the calls in flight are a sorted set of leases that expire by
# themselves if a process dies mid-call; the server's clock dates them.
_ACQUIRE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
local in_flight = redis.call('ZCARD', KEYS[3])
local threshold = tonumber(ARGV[1])
if failures >= threshold then
    if in_flight > 0 then return 0 end
elseif failures + in_flight >= threshold then
    return 0
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
"""
_FINISH_SCRIPT = """
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[2] == 'ok' then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 0
end
local failures = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if failures >= tonumber(ARGV[3]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[4], 'NX')
end
return failures
"""


def _shared_breaker():
    """The Redis client and key names of the shared state, or None without Redis."""
    shared = caches["strict"]
    if not isinstance(shared, RedisCache):
        return None
    keys = [shared.make_key(key) for key in (_OPEN_KEY, _FAILURES_KEY, _IN_FLIGHT_KEY)]
    return shared.client.get_client(write=True), keys


def _lease_ms() -> int:
    # A call lasts about twice the budget at most (see the module's docstring).
    return math.ceil((2 * settings.CASHBACK_API_TIMEOUT + 1) * 1000)


def _acquire() -> _Permit | str:
    """A permit for one call, or the reason there is none."""
    if not _process_calls.acquire():
        return "too many calls in flight in this process"
    threshold = settings.CASHBACK_API_BREAKER_FAILURES
    if threshold <= 0:
        return _Permit(shared=False)  # breaker disabled
    try:
        breaker = _shared_breaker()
        if breaker is not None:
            client, keys = breaker
            call_id = uuid.uuid4().hex
            if client.eval(_ACQUIRE_SCRIPT, 3, *keys, threshold, call_id, _lease_ms()):
                return _Permit(shared=True, call_id=call_id)
            _process_calls.release()
            return "circuit open"
    except Exception as exc:
        logger.warning(
            "Shared cache unavailable (%s): the circuit breaker is this process's own.", type(exc).__name__
        )
    if _local_breaker.acquire(threshold):
        return _Permit(shared=False)
    _process_calls.release()
    return "circuit open"


def _finish(permit: _Permit, *, ok: bool) -> None:
    _process_calls.release()
    threshold = settings.CASHBACK_API_BREAKER_FAILURES
    if threshold <= 0:
        return
    if not permit.shared:
        _local_breaker.finish(ok=ok)
        return
    try:
        client, keys = _shared_breaker()
        failures = client.eval(
            _FINISH_SCRIPT,
            3,
            *keys,
            permit.call_id,
            "ok" if ok else "failed",
            threshold,
            settings.CASHBACK_API_BREAKER_SECONDS * 1000,
            _BREAKER_STATE_SECONDS * 1000,
        )
    except Exception as exc:
        # The lease expires by itself; the outcome counts here meanwhile.
        logger.warning(
            "Shared cache unavailable (%s): the call's outcome counts in this process.", type(exc).__name__
        )
        _local_breaker.finish(ok=ok, held=False)
        return
    if ok:
        _local_breaker.finish(ok=True, held=False)
    elif failures >= threshold:
        logger.warning(
            "Cashback API circuit open for %s s after %s consecutive failures.",
            settings.CASHBACK_API_BREAKER_SECONDS,
            failures,
        )
