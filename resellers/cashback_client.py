"""Client of the brand's accumulated-cashback API, called by the refresh task.

``GET {CASHBACK_API_URL}/v1/cashback?cpf=<11 digits>`` with the header
``token: <CASHBACK_API_TOKEN>`` answers ``{"statusCode": 200, "body": {"credit": <number>}}``.

No request calls it: the cashback routes answer from the stored credit
(``resellers.credit``) and a worker refreshes it (``resellers.tasks``).
``credit_fetch`` is that worker's one call, and it stays bounded and polite:

* **Time budget**: ``CASHBACK_API_TIMEOUT`` seconds for the whole call,
  retry included. Each attempt gets what is left of the budget as its connect
  and read timeouts, and the body is read piece by piece against the same
  deadline (a read timeout bounds each socket read, not the whole answer). A
  silent server costs the budget; one trickling bytes at most about twice it.
* **One retry** on connection errors and HTTP 5xx, only if enough budget is
  left. A read timeout is not retried: it has used the budget already. The
  task retries a failed call later, with back-off.
* **Strict parsing**: anything but the documented shape with a finite
  ``credit`` between 0 and ``MAX_CREDIT`` is a failure, like 4xx/5xx,
  redirects, timeouts, a body over 64 KiB, one nested too deeply for the
  parser, or any error raised while calling (counted, never a crash).
* **Circuit breaker** kept in Redis so every process shares it (in each
  process's memory without Redis or while it is down): after
  ``CASHBACK_API_BREAKER_FAILURES`` consecutive failed calls no request is made
  for ``CASHBACK_API_BREAKER_SECONDS``; then one caller gets a trial call
  (half-open). Success closes the circuit, failure opens it again. A call in
  flight counts as a possible failure, so however many workers call during a
  hang, at most that many calls go out before the circuit opens, and
  exactly one trial after it.
* **Threads**: at most ``CASHBACK_API_MAX_CALLS_PER_PROCESS`` of a process's
  threads wait on the API at once (a worker with a thread pool); the others
  fail at once and are retried later.

Every failure raises ``CreditUnavailable`` with a reason safe to log. The CPF
is only ever sent to the API: log records name the reason of a failure, never
the CPF, the token or the URL with its query string (``requests``' exception
messages contain that URL, so they are never logged).
"""

import json
import logging
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import requests
import urllib3
from django.conf import settings
from django.core.cache import caches
from django_redis.cache import RedisCache

logger = logging.getLogger(__name__)

CENTS = Decimal("0.01")
# The largest amount the answer shows (14 digits, 2 of them decimals): anything
# above is not a reseller's cashback.
MAX_CREDIT = Decimal("999999999999.99")

# Reused across calls for connection pooling.
_session = requests.Session()

# Below this, a retry cannot realistically connect and answer; it would only
# hold the worker longer before failing anyway.
_MIN_RETRY_SECONDS = 0.1
# The answer is a few dozen bytes; a huge body is garbage, not worth reading.
_MAX_BODY_BYTES = 64 * 1024
_READ_BYTES = 8192
# The failure counter outlives any open period; it is reset by a success.
_BREAKER_STATE_SECONDS = 24 * 60 * 60

# The breaker's shared state; the version segment lets a future change of
# its format ignore old entries.
_KEY_PREFIX = "cashback-api:v1"
_FAILURES_KEY = f"{_KEY_PREFIX}:breaker:failures"
_OPEN_KEY = f"{_KEY_PREFIX}:breaker:open"
_IN_FLIGHT_KEY = f"{_KEY_PREFIX}:breaker:in-flight"

_DECIMAL_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")


class _Failure(Exception):
    """One failed attempt; ``reason`` is safe to log (no CPF, token or URL)."""

    def __init__(self, reason: str, *, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class CreditUnavailable(Exception):
    """The API gave no usable credit; ``reason`` is safe to log (no CPF,
    token or URL)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def credit_fetch(cpf: str) -> Decimal:
    """The reseller's accumulated cashback according to the brand's API.

    ``cpf`` (11 digits) is only sent to the API. Raises ``CreditUnavailable``
    for every failure, the breaker's and the process limit's included."""
    if not settings.CASHBACK_API_URL:
        raise CreditUnavailable("not configured")
    permit = _acquire()
    if isinstance(permit, str):
        raise CreditUnavailable(permit)

    credit, reason = None, ""
    try:
        credit = _fetch_with_retry(cpf)
    except _Failure as failure:
        reason = failure.reason
    except Exception as exc:
        # Whatever else goes wrong in the call is the API's failure. Only the
        # class is logged: messages can hold the URL.
        reason = f"unexpected error ({type(exc).__name__})"
    finally:
        # Even when the thread is being stopped: a permit never leaks.
        _finish(permit, ok=credit is not None)
    if credit is None:
        raise CreditUnavailable(reason)
    return credit


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
    a worker (``--pool threads``), so its other tasks go on meanwhile. The
    callers over the limit fail at once, and their task retries later."""

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
