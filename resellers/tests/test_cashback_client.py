"""The external cashback client against a real HTTP server on loopback."""

import json
import logging
import socket
import threading
import time
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from pytest_httpserver import HTTPServer
from werkzeug import Response

from conftest import run_together
from resellers import cpf as cpf_codec
from resellers.cashback_client import SOURCE_EXTERNAL, SOURCE_LOCAL, CashbackBalance, cashback_balance

CPF = "15350946056"
TOKEN = "brand-token-123"
PATH = "/v1/cashback"
LOCAL_CREDIT = Decimal("7.50")


def ok(credit) -> dict:
    return {"statusCode": 200, "body": {"credit": credit}}


class LocalLedger:
    """Stands in for the sum of approved cashback; counts how often it is asked."""

    def __init__(self, credit: Decimal = LOCAL_CREDIT):
        self.credit = credit
        self.calls = 0

    def __call__(self) -> Decimal:
        self.calls += 1
        return self.credit


@pytest.fixture
def ledger():
    return LocalLedger()


@pytest.fixture
def api(settings, httpserver):
    """The client configured against the loopback server, with small limits."""
    settings.CASHBACK_API_URL = httpserver.url_for("").rstrip("/")
    settings.CASHBACK_API_TOKEN = TOKEN
    settings.CASHBACK_API_TIMEOUT = 0.5
    settings.CASHBACK_API_CACHE_SECONDS = 300
    settings.CASHBACK_API_BREAKER_FAILURES = 5
    settings.CASHBACK_API_BREAKER_SECONDS = 30
    return httpserver


def balance(ledger) -> CashbackBalance:
    return cashback_balance(cpf=CPF, cpf_index=cpf_codec.blind_index(CPF), local_ledger=ledger)


def timed_balance(ledger, release: threading.Event) -> tuple[CashbackBalance, float]:
    """balance() and the seconds it took; then `release` lets the stalled
    server handler finish."""
    try:
        started = time.monotonic()
        result = balance(ledger)
        return result, time.monotonic() - started
    finally:
        release.set()


def assert_local(result: CashbackBalance, ledger: LocalLedger) -> None:
    assert result.credit == LOCAL_CREDIT
    assert result.source == SOURCE_LOCAL
    assert result.stale is False
    assert ledger.calls == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cache_keys() -> list[str]:
    # django-redis lists the keys of this prefix; LocMem holds them in a dict.
    return [str(key) for key in (cache.keys("*") if hasattr(cache, "keys") else cache._cache.keys())]


# --- Answers ----------------------------------------------------------------


def test_external_answer_sends_token_header_and_cpf_query(api, ledger):
    api.expect_request(
        PATH, method="GET", headers={"token": TOKEN}, query_string={"cpf": CPF}
    ).respond_with_json(ok(123.45))

    before = datetime.now().astimezone()
    result = balance(ledger)

    assert result.credit == Decimal("123.45")
    assert result.source == SOURCE_EXTERNAL
    assert result.stale is False
    assert result.fetched_at.tzinfo is not None
    assert result.fetched_at >= before
    assert ledger.calls == 0
    assert len(api.log) == 1


@pytest.mark.parametrize(
    ("credit", "expected"),
    [
        (0, Decimal("0.00")),
        (3, Decimal("3.00")),
        (10.005, Decimal("10.01")),  # half-up, through str(), not the binary float
        ("12.5", Decimal("12.50")),
        ("0.004", Decimal("0.00")),
    ],
)
def test_credit_is_quantized_half_up(api, ledger, credit, expected):
    api.expect_request(PATH).respond_with_json(ok(credit))
    result = balance(ledger)
    assert result.credit == expected
    assert str(result.credit) == str(expected)


def test_cached_answer_makes_no_second_request(api, ledger):
    api.expect_request(PATH).respond_with_json(ok(50))

    first = balance(ledger)
    second = balance(ledger)

    assert len(api.log) == 1
    assert second == first  # same credit, source, stale flag and original fetched_at
    assert ledger.calls == 0


def test_unconfigured_api_answers_with_local_ledger_without_http(settings, httpserver, ledger):
    settings.CASHBACK_API_URL = ""
    result = balance(ledger)
    assert_local(result, ledger)
    assert httpserver.log == []


def test_local_ledger_without_purchases_is_zero(settings):
    settings.CASHBACK_API_URL = ""
    result = balance(lambda: None)  # what an aggregate Sum over no rows gives
    assert (result.credit, result.source) == (Decimal("0.00"), SOURCE_LOCAL)


# --- Failures ---------------------------------------------------------------


def test_hanging_server_falls_back_to_local_within_the_budget(api, ledger):
    release = threading.Event()

    def hang(request):
        # Waits on an event rather than sleeping, so the single-threaded test
        # server is free again as soon as this test ends.
        release.wait(timeout=3)
        return Response('{"statusCode": 200, "body": {"credit": 1}}', content_type="application/json")

    api.expect_request(PATH).respond_with_handler(hang)
    result, elapsed = timed_balance(ledger, release)

    assert_local(result, ledger)
    assert elapsed < 0.5 * 2 + 0.5  # the whole budget, retry included, plus a generous margin


def test_trickling_body_falls_back_to_local_within_the_budget(api, ledger):
    # Every chunk arrives before the per-read timeout; only the overall deadline stops it.
    release = threading.Event()

    def trickle():
        yield b'{"statusCode": 200, "body": {"credit": 1'
        for _ in range(15):
            if release.wait(timeout=0.2):
                return
            yield b"0"
        yield b"}}"

    api.expect_request(PATH).respond_with_handler(
        lambda request: Response(trickle(), content_type="application/json")
    )
    result, elapsed = timed_balance(ledger, release)

    assert_local(result, ledger)
    assert elapsed < 0.5 * 2 + 0.5


def test_server_error_is_retried_once_then_succeeds(api, ledger):
    api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json(ok(20))

    result = balance(ledger)

    assert result.credit == Decimal("20.00")
    assert result.source == SOURCE_EXTERNAL
    assert len(api.log) == 2


def test_server_error_twice_falls_back_to_local(api, ledger):
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=503)
    assert_local(balance(ledger), ledger)
    assert len(api.log) == 2  # one retry, no more


@pytest.mark.parametrize("status", [401, 404])
def test_client_error_is_not_retried(api, ledger, status):
    api.expect_request(PATH).respond_with_json({"error": "no"}, status=status)
    assert_local(balance(ledger), ledger)
    assert len(api.log) == 1


def test_redirect_is_not_followed(api, ledger):
    # Following it would send the token header wherever the redirect points.
    api.expect_request(PATH).respond_with_data("", status=302, headers={"Location": "http://example.com/"})
    assert_local(balance(ledger), ledger)
    assert len(api.log) == 1


def test_invalid_json_falls_back_to_local(api, ledger):
    api.expect_request(PATH).respond_with_data("<html>oops</html>", content_type="text/html")
    assert_local(balance(ledger), ledger)
    assert len(api.log) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"statusCode": 500, "body": {"credit": 10}},
        {"statusCode": "200", "body": {"credit": 10}},
        {"statusCode": 200},
        {"statusCode": 200, "body": None},
        {"statusCode": 200, "body": {}},
        {"statusCode": 200, "body": [10]},
        ok(None),
        ok("abc"),
        ok(""),
        ok("1e3"),
        ok(True),
        ok(-1),
        ok("-1"),
        ok("NaN"),
        ok("Infinity"),
        ok([1]),
        ok({"value": 1}),
        ok(10**40),
        [ok(10)],
        "200",
        None,
    ],
)
def test_wrong_shapes_fall_back_to_local(api, ledger, payload):
    api.expect_request(PATH).respond_with_json(payload)
    assert_local(balance(ledger), ledger)
    assert len(api.log) == 1  # garbage is not retried


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_numbers_fall_back_to_local(api, ledger, literal):
    # Python's json accepts these non-standard literals; they are still not amounts.
    api.expect_request(PATH).respond_with_data(
        f'{{"statusCode": 200, "body": {{"credit": {literal}}}}}', content_type="application/json"
    )
    assert_local(balance(ledger), ledger)


def test_nothing_listening_falls_back_to_local(api, settings, ledger):
    settings.CASHBACK_API_URL = f"http://127.0.0.1:{free_port()}"
    assert_local(balance(ledger), ledger)


def test_stale_answer_is_served_after_a_failure(api, settings, ledger):
    # No fresh cache at all, so the second call must ask the API again.
    settings.CASHBACK_API_CACHE_SECONDS = 0
    api.expect_oneshot_request(PATH).respond_with_json(ok(42))
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=500)

    first = balance(ledger)
    second = balance(ledger)

    assert first.stale is False
    assert second.credit == Decimal("42.00")
    assert second.source == SOURCE_EXTERNAL
    assert second.stale is True
    assert second.fetched_at == first.fetched_at
    assert ledger.calls == 0
    assert len(api.log) == 3  # the success, then a failed attempt and its retry


# --- Circuit breaker --------------------------------------------------------


def test_circuit_opens_after_consecutive_failures(api, settings, ledger):
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=500)

    balance(ledger)
    balance(ledger)
    assert len(api.log) == 4  # two calls, each retried once

    started = time.monotonic()
    result = balance(ledger)

    assert len(api.log) == 4  # open: the API is not asked
    assert result.source == SOURCE_LOCAL
    assert time.monotonic() - started < 0.5


def test_open_circuit_serves_the_stale_answer(api, settings, ledger):
    settings.CASHBACK_API_CACHE_SECONDS = 0
    settings.CASHBACK_API_BREAKER_FAILURES = 1
    api.expect_oneshot_request(PATH).respond_with_json(ok(42))
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=500)
    balance(ledger)
    balance(ledger)  # fails and opens the circuit
    requests_so_far = len(api.log)

    result = balance(ledger)

    assert len(api.log) == requests_so_far
    assert (result.credit, result.source, result.stale) == (Decimal("42.00"), SOURCE_EXTERNAL, True)


def test_half_open_trial_success_closes_the_circuit(api, settings, ledger):
    settings.CASHBACK_API_CACHE_SECONDS = 0
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    settings.CASHBACK_API_BREAKER_SECONDS = 1
    for _ in range(4):  # two calls, each retried once
        api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_request(PATH).respond_with_json(ok(9))
    balance(ledger)
    balance(ledger)
    assert balance(ledger).source == SOURCE_LOCAL
    assert len(api.log) == 4

    time.sleep(1.1)  # the open period ends: the next call is the trial
    trial = balance(ledger)

    assert trial.source == SOURCE_EXTERNAL
    assert len(api.log) == 5
    assert balance(ledger).source == SOURCE_EXTERNAL
    assert len(api.log) == 6  # closed: calls reach the API again


def test_half_open_trial_failure_opens_the_circuit_again(api, settings, ledger):
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    settings.CASHBACK_API_BREAKER_SECONDS = 1
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=500)
    balance(ledger)
    balance(ledger)
    assert len(api.log) == 4

    time.sleep(1.1)
    balance(ledger)  # the trial fails (and is retried once)
    assert len(api.log) == 6

    balance(ledger)
    assert len(api.log) == 6  # open again


def test_success_resets_the_failure_count(api, settings, ledger):
    settings.CASHBACK_API_CACHE_SECONDS = 0
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    for _ in range(2):
        api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json(ok(1))
    for _ in range(2):
        api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_request(PATH).respond_with_json(ok(2))

    balance(ledger)  # failure 1
    balance(ledger)  # success: the count starts again
    balance(ledger)  # failure 1 again, so still closed
    result = balance(ledger)

    assert result.credit == Decimal("2.00")
    assert len(api.log) == 6


# --- Personal data ------------------------------------------------------------


def test_cache_keys_use_the_blind_index_never_the_cpf(api, settings, ledger):
    settings.CASHBACK_API_CACHE_SECONDS = 0  # so the second call asks the API again
    api.expect_oneshot_request(PATH).respond_with_json(ok(5))
    api.expect_request(PATH).respond_with_json({}, status=500)
    balance(ledger)  # stores the last good answer
    balance(ledger)  # fails: leaves the breaker's keys too

    keys = cache_keys()
    assert any(cpf_codec.blind_index(CPF) in key for key in keys)
    if isinstance(caches["strict"], RedisCache):  # else the breaker is in memory
        assert any("breaker" in key for key in keys)
    assert not any(CPF in key or "153.509" in key for key in keys)


def test_logs_never_hold_the_cpf_token_or_url(api, settings, caplog, ledger):
    caplog.set_level(logging.DEBUG, logger="resellers.cashback_client")
    settings.CASHBACK_API_BREAKER_FAILURES = 3
    api.expect_oneshot_request(PATH).respond_with_json({}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json({}, status=500)
    api.expect_oneshot_request(PATH).respond_with_data("not json")
    balance(ledger)  # HTTP 500, retried
    balance(ledger)  # invalid body
    settings.CASHBACK_API_URL = f"http://127.0.0.1:{free_port()}"
    balance(ledger)  # connection refused: requests' message holds the full URL
    balance(ledger)  # circuit open

    # The stand-in server's own request log (werkzeug) is the brand's side, not ours.
    records = [record for record in caplog.records if record.name != "werkzeug"]
    reasons = " ".join(record.getMessage() for record in records)
    for reason in ("HTTP 500", "not JSON", "connection error", "circuit open"):
        assert reason in reasons
    assert all(
        record.levelno == logging.WARNING for record in records if "unavailable" in record.getMessage()
    )
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in (CPF, "153.509", TOKEN, "cpf=", PATH):
            assert secret not in text


# --- Unusable answers count as failures ----------------------------------------

UNUSABLE_BODIES = {
    # json.loads recurses once per level: RecursionError, not ValueError.
    "deeply nested arrays": "[" * 30_000,
    "deeply nested objects": '{"a":' * 30_000,
    "nested inside the shape": '{"statusCode": 200, "body": {"credit": ' + "[" * 30_000 + "}}",
    "not JSON": "<html>oops</html>",
    "not UTF-8": b'{"statusCode": 200, "body": {"credit": "\xff"}}',
    "NUL bytes": b"\x00" * 100,
    "empty": "",
    # Python refuses to read ints of more than 4,300 digits (ValueError).
    "a 5,000-digit credit": '{"statusCode": 200, "body": {"credit": ' + "1" * 5_000 + "}}",
    # Fits a Decimal, not the 14 digits the answer renders.
    "a credit too large to show": '{"statusCode": 200, "body": {"credit": 1000000000000}}',
    "a credit string too large to show": '{"statusCode": 200, "body": {"credit": "1000000000000.00"}}',
    "too large (padding)": '{"statusCode": 200, "body": {"credit": 1}}' + " " * (70 * 1024),
    "a huge array": "[" + "1," * 40_000 + "1]",
}


@pytest.mark.parametrize("body", UNUSABLE_BODIES.values(), ids=UNUSABLE_BODIES.keys())
def test_unusable_body_falls_back_to_local_and_counts_as_a_failure(api, settings, ledger, body):
    settings.CASHBACK_API_BREAKER_FAILURES = 1
    api.expect_request(PATH).respond_with_data(body, content_type="application/json")

    assert_local(balance(ledger), ledger)
    assert len(api.log) == 1  # garbage is not retried

    second = balance(ledger)

    assert second.source == SOURCE_LOCAL
    assert len(api.log) == 1  # the failure opened the circuit: no second request


def test_body_larger_than_its_content_length_says_is_not_read_past_the_limit(api, ledger):
    # No Content-Length (streamed, chunked): the client stops at its size limit.
    def endless(request):
        def chunks():
            yield b'{"statusCode": 200, "body": {"credit": 1}}'
            for _ in range(1_000):
                yield b" " * 8192

        return Response(chunks(), content_type="application/json")

    api.expect_request(PATH).respond_with_handler(endless)
    assert_local(balance(ledger), ledger)


def test_compressed_answer_is_read(api, ledger):
    # requests asks for gzip by default; an API behind a compressing proxy
    # must still be understood (or not asked to compress).
    import gzip

    def compressed(request):
        if "gzip" not in request.headers.get("Accept-Encoding", ""):
            return Response(json.dumps(ok(12)), content_type="application/json")
        return Response(
            gzip.compress(json.dumps(ok(12)).encode()),
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )

    api.expect_request(PATH).respond_with_handler(compressed)
    result = balance(ledger)
    assert (result.credit, result.source) == (Decimal("12.00"), SOURCE_EXTERNAL)


def test_unexpected_error_in_the_client_falls_back_and_counts(api, settings, ledger, monkeypatch):
    # Whatever goes wrong in the call is the API's failure, never the route's.
    from resellers import cashback_client

    settings.CASHBACK_API_BREAKER_FAILURES = 1
    api.expect_request(PATH).respond_with_json(ok(1))

    def broken(*args, **kwargs):
        raise UnicodeError("label too long")

    monkeypatch.setattr(cashback_client._session, "get", broken)
    assert_local(balance(ledger), ledger)
    monkeypatch.undo()
    assert balance(ledger).source == SOURCE_LOCAL  # open: not asked
    assert api.log == []


# --- Concurrency: a hang lets out at most the threshold, then one trial --------

CALLERS = 24


class HangingAPI:
    """A threaded stand-in that holds every request until released, counting them."""

    def __init__(self):
        self.server = HTTPServer(threaded=True)
        self.lock = threading.Lock()
        self.received = 0
        self.release = threading.Event()
        self.hanging = True
        self.delay = 0.0
        self.server.expect_request(PATH).respond_with_handler(self.handle)

    def handle(self, request):
        with self.lock:
            self.received += 1
        if self.hanging:
            self.release.wait(timeout=5)
        time.sleep(self.delay)
        return Response(json.dumps(ok(3)), content_type="application/json")


@pytest.fixture
def hanging_api(settings):
    api = HangingAPI()
    api.server.start()
    settings.CASHBACK_API_URL = api.server.url_for("").rstrip("/")
    settings.CASHBACK_API_TOKEN = TOKEN
    settings.CASHBACK_API_TIMEOUT = 0.5
    settings.CASHBACK_API_CACHE_SECONDS = 0
    settings.CASHBACK_API_BREAKER_FAILURES = 5
    settings.CASHBACK_API_BREAKER_SECONDS = 1
    try:
        yield api
    finally:
        api.release.set()
        api.server.clear()
        api.server.stop()


@pytest.fixture(params=["shared", "local"])
def breaker(request, monkeypatch):
    """The breaker in Redis (a server of the test's own), or each process's own."""
    if request.param == "shared":
        request.getfixturevalue("throwaway_redis")
    else:
        from resellers import cashback_client

        monkeypatch.setattr(cashback_client, "_shared_breaker", lambda: None)
    return request.param


def callers_together(count: int = CALLERS) -> list[tuple[CashbackBalance, float]]:
    def call():
        started = time.monotonic()
        return balance(LocalLedger()), time.monotonic() - started

    return run_together(*[call] * count)


@pytest.mark.usefixtures("breaker")
def test_a_hang_lets_out_at_most_the_threshold_then_exactly_one_trial(hanging_api, settings):
    settings.CASHBACK_API_MAX_CALLS_PER_PROCESS = 0  # the breaker alone

    results = callers_together()

    assert 1 <= hanging_api.received <= 5
    assert all(result.source == SOURCE_LOCAL for result, _ in results)
    assert all(elapsed < 0.5 * 2 + 0.5 for _, elapsed in results)
    for _ in range(5 - hanging_api.received):  # the failures the threshold still needs
        balance(LocalLedger())
    assert hanging_api.received == 5

    callers_together()
    assert hanging_api.received == 5  # open

    time.sleep(1.1)  # the open period ends: half-open
    callers_together()
    assert hanging_api.received == 6  # exactly one trial, which hangs too

    callers_together()
    assert hanging_api.received == 6  # the failed trial opened it again

    time.sleep(1.1)
    # It answers now, within the budget but slowly enough that every caller
    # arrives while the trial is out.
    hanging_api.hanging, hanging_api.delay = False, 0.3
    results = callers_together()
    assert hanging_api.received == 7  # one trial again; it succeeds
    assert sum(result.source == SOURCE_EXTERNAL for result, _ in results) == 1

    callers_together(3)
    assert hanging_api.received == 10  # closed: every caller asks the API


def test_at_most_the_process_limit_of_threads_wait_on_the_api(hanging_api, settings):
    # The others answer at once: a worker's threads stay free for other requests.
    settings.CASHBACK_API_BREAKER_FAILURES = 100
    settings.CASHBACK_API_MAX_CALLS_PER_PROCESS = 2

    results = callers_together()

    assert hanging_api.received == 2
    # Two wait out the budget (0.5 s); the 22 others do not wait on the API.
    waited = sorted(elapsed for _, elapsed in results)
    assert all(elapsed >= 0.45 for elapsed in waited[-2:])
    assert all(elapsed < 0.4 for elapsed in waited[:-2])
    assert all(result.source == SOURCE_LOCAL for result, _ in results)


def test_a_call_stopped_midway_gives_its_thread_back(api, settings, ledger, monkeypatch):
    # gunicorn stops a timed-out worker's threads with SystemExit: the
    # process's slot must not leak, or the API would never be asked again.
    from resellers import cashback_client

    settings.CASHBACK_API_MAX_CALLS_PER_PROCESS = 1
    api.expect_request(PATH).respond_with_json(ok(4))

    def stopped(cpf):
        raise SystemExit(1)

    monkeypatch.setattr(cashback_client, "_fetch_with_retry", stopped)
    with pytest.raises(SystemExit):
        balance(ledger)
    monkeypatch.undo()

    assert balance(ledger).source == SOURCE_EXTERNAL
