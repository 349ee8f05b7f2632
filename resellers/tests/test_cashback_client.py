"""The brand's cashback API client (what the refresh task calls) against a
real HTTP server on loopback: every failure is a ``CreditUnavailable``,
bounded in time, counted by the breaker."""

import json
import logging
import socket
import threading
import time
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from conftest import run_together
from resellers.cashback_client import CreditUnavailable, credit_fetch

CPF = "15350946056"
TOKEN = "brand-token-123"
PATH = "/v1/cashback"


def ok(credit) -> dict:
    return {"statusCode": 200, "body": {"credit": credit}}


@pytest.fixture
def api(settings, httpserver):
    """The client configured against the loopback server, with small limits."""
    settings.CASHBACK_API_URL = httpserver.url_for("").rstrip("/")
    settings.CASHBACK_API_TOKEN = TOKEN
    settings.CASHBACK_API_TIMEOUT = 0.5
    settings.CASHBACK_API_BREAKER_FAILURES = 5
    settings.CASHBACK_API_BREAKER_SECONDS = 30
    return httpserver


def fetch() -> Decimal | str:
    """The credit the API gave, or the reason it gave none."""
    try:
        return credit_fetch(CPF)
    except CreditUnavailable as failure:
        return failure.reason


def timed_fetch(release: threading.Event) -> tuple[Decimal | str, float]:
    """fetch() and the seconds it took; then `release` lets the stalled
    server handler finish."""
    try:
        started = time.monotonic()
        result = fetch()
        return result, time.monotonic() - started
    finally:
        release.set()


def assert_failed(result: Decimal | str) -> None:
    assert isinstance(result, str), result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Answers ----------------------------------------------------------------


def test_external_answer_sends_token_header_and_cpf_query(api):
    api.expect_request(
        PATH, method="GET", headers={"token": TOKEN}, query_string={"cpf": CPF}
    ).respond_with_json(ok(123.45))

    assert fetch() == Decimal("123.45")
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
def test_credit_is_quantized_half_up(api, credit, expected):
    api.expect_request(PATH).respond_with_json(ok(credit))
    result = fetch()
    assert result == expected
    assert str(result) == str(expected)


def test_unconfigured_api_is_not_called(settings, httpserver):
    settings.CASHBACK_API_URL = ""
    assert fetch() == "not configured"
    assert httpserver.log == []


# --- Failures ---------------------------------------------------------------


def test_hanging_server_fails_within_the_budget(api):
    release = threading.Event()

    def hang(request):
        # Waits on an event rather than sleeping, so the single-threaded test
        # server is free again as soon as this test ends.
        release.wait(timeout=3)
        return Response('{"statusCode": 200, "body": {"credit": 1}}', content_type="application/json")

    api.expect_request(PATH).respond_with_handler(hang)
    result, elapsed = timed_fetch(release)

    assert result == "timeout"
    assert elapsed < 0.5 * 2 + 0.5  # the whole budget, retry included, plus a generous margin


def test_trickling_body_fails_within_the_budget(api):
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
    result, elapsed = timed_fetch(release)

    assert_failed(result)
    assert elapsed < 0.5 * 2 + 0.5


def test_server_error_is_retried_once_then_succeeds(api):
    api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json(ok(20))

    assert fetch() == Decimal("20.00")
    assert len(api.log) == 2


def test_server_error_twice_fails(api):
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=503)
    assert fetch() == "HTTP 503"
    assert len(api.log) == 2  # one retry, no more


@pytest.mark.parametrize("status", [401, 404])
def test_client_error_is_not_retried(api, status):
    api.expect_request(PATH).respond_with_json({"error": "no"}, status=status)
    assert fetch() == f"HTTP {status}"
    assert len(api.log) == 1


def test_redirect_is_not_followed(api):
    # Following it would send the token header wherever the redirect points.
    api.expect_request(PATH).respond_with_data("", status=302, headers={"Location": "http://example.com/"})
    assert fetch() == "HTTP 302"
    assert len(api.log) == 1


def test_invalid_json_fails(api):
    api.expect_request(PATH).respond_with_data("<html>oops</html>", content_type="text/html")
    assert fetch() == "invalid body (not JSON)"
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
def test_wrong_shapes_fail(api, payload):
    api.expect_request(PATH).respond_with_json(payload)
    assert fetch().startswith("invalid body")
    assert len(api.log) == 1  # garbage is not retried


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_numbers_fail(api, literal):
    # Python's json accepts these non-standard literals; they are still not amounts.
    api.expect_request(PATH).respond_with_data(
        f'{{"statusCode": 200, "body": {{"credit": {literal}}}}}', content_type="application/json"
    )
    assert fetch().startswith("invalid body")


def test_nothing_listening_fails(api, settings):
    settings.CASHBACK_API_URL = f"http://127.0.0.1:{free_port()}"
    assert fetch().startswith("connection error")


# --- Circuit breaker --------------------------------------------------------


def test_circuit_opens_after_consecutive_failures(api, settings):
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=500)

    fetch()
    fetch()
    assert len(api.log) == 4  # two calls, each retried once

    started = time.monotonic()
    result = fetch()

    assert len(api.log) == 4  # open: the API is not asked
    assert result == "circuit open"
    assert time.monotonic() - started < 0.5


def test_half_open_trial_success_closes_the_circuit(api, settings):
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    settings.CASHBACK_API_BREAKER_SECONDS = 1
    for _ in range(4):  # two calls, each retried once
        api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_request(PATH).respond_with_json(ok(9))
    fetch()
    fetch()
    assert fetch() == "circuit open"
    assert len(api.log) == 4

    time.sleep(1.1)  # the open period ends: the next call is the trial
    assert fetch() == Decimal("9.00")
    assert len(api.log) == 5
    assert fetch() == Decimal("9.00")
    assert len(api.log) == 6  # closed: calls reach the API again


def test_half_open_trial_failure_opens_the_circuit_again(api, settings):
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    settings.CASHBACK_API_BREAKER_SECONDS = 1
    api.expect_request(PATH).respond_with_json({"error": "boom"}, status=500)
    fetch()
    fetch()
    assert len(api.log) == 4

    time.sleep(1.1)
    fetch()  # the trial fails (and is retried once)
    assert len(api.log) == 6

    assert fetch() == "circuit open"
    assert len(api.log) == 6  # open again


def test_success_resets_the_failure_count(api, settings):
    settings.CASHBACK_API_BREAKER_FAILURES = 2
    for _ in range(2):
        api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json(ok(1))
    for _ in range(2):
        api.expect_oneshot_request(PATH).respond_with_json({"error": "boom"}, status=500)
    api.expect_request(PATH).respond_with_json(ok(2))

    fetch()  # failure 1
    fetch()  # success: the count starts again
    fetch()  # failure 1 again, so still closed

    assert fetch() == Decimal("2.00")
    assert len(api.log) == 6


# --- Personal data ------------------------------------------------------------


def test_logs_never_hold_the_cpf_token_or_url(api, settings, caplog):
    caplog.set_level(logging.DEBUG, logger="resellers")
    settings.CASHBACK_API_BREAKER_FAILURES = 3
    api.expect_oneshot_request(PATH).respond_with_json({}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json({}, status=500)
    api.expect_oneshot_request(PATH).respond_with_data("not json")
    reasons = [fetch(), fetch()]  # HTTP 500, retried; invalid body
    settings.CASHBACK_API_URL = f"http://127.0.0.1:{free_port()}"
    reasons.append(fetch())  # connection refused: requests' message holds the full URL
    reasons.append(fetch())  # circuit open

    assert reasons[0] == "HTTP 500"
    assert reasons[1] == "invalid body (not JSON)"
    assert reasons[2].startswith("connection error")
    assert reasons[3] == "circuit open"
    # The stand-in server's own request log (werkzeug) is the brand's side, not ours.
    records = [record for record in caplog.records if record.name != "werkzeug"]
    assert records  # the retry and the breaker's opening are logged
    for text in [*reasons, *(record.getMessage() + (record.exc_text or "") for record in records)]:
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
def test_unusable_body_is_a_failure_the_breaker_counts(api, settings, body):
    settings.CASHBACK_API_BREAKER_FAILURES = 1
    api.expect_request(PATH).respond_with_data(body, content_type="application/json")

    assert fetch().startswith("invalid body")
    assert len(api.log) == 1  # garbage is not retried

    assert fetch() == "circuit open"
    assert len(api.log) == 1  # the failure opened the circuit: no second request


def test_body_larger_than_its_content_length_says_is_not_read_past_the_limit(api):
    # No Content-Length (streamed, chunked): the client stops at its size limit.
    def endless(request):
        def chunks():
            yield b'{"statusCode": 200, "body": {"credit": 1}}'
            for _ in range(1_000):
                yield b" " * 8192

        return Response(chunks(), content_type="application/json")

    api.expect_request(PATH).respond_with_handler(endless)
    assert fetch() == "invalid body (too large)"


def test_compressed_answer_is_read(api):
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
    assert fetch() == Decimal("12.00")


def test_unexpected_error_in_the_client_is_a_failure_the_breaker_counts(api, settings, monkeypatch):
    # Whatever goes wrong in the call is the API's failure, never a crash.
    from resellers import cashback_client

    settings.CASHBACK_API_BREAKER_FAILURES = 1
    api.expect_request(PATH).respond_with_json(ok(1))

    def broken(*args, **kwargs):
        raise UnicodeError("label too long")

    monkeypatch.setattr(cashback_client._session, "get", broken)
    assert fetch() == "unexpected error (UnicodeError)"
    monkeypatch.undo()
    assert fetch() == "circuit open"  # not asked
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


def callers_together(count: int = CALLERS) -> list[tuple[Decimal | str, float]]:
    def call():
        started = time.monotonic()
        return fetch(), time.monotonic() - started

    return run_together(*[call] * count)


@pytest.mark.usefixtures("breaker")
def test_a_hang_lets_out_at_most_the_threshold_then_exactly_one_trial(hanging_api, settings):
    settings.CASHBACK_API_MAX_CALLS_PER_PROCESS = 0  # the breaker alone

    results = callers_together()

    assert 1 <= hanging_api.received <= 5
    assert all(isinstance(result, str) for result, _ in results)
    assert all(elapsed < 0.5 * 2 + 0.5 for _, elapsed in results)
    for _ in range(5 - hanging_api.received):  # the failures the threshold still needs
        fetch()
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
    assert sum(result == Decimal("3.00") for result, _ in results) == 1

    callers_together(3)
    assert hanging_api.received == 10  # closed: every caller asks the API


def test_at_most_the_process_limit_of_threads_wait_on_the_api(hanging_api, settings):
    # The others fail at once (their task retries later): a worker's threads
    # stay free for other tasks.
    settings.CASHBACK_API_BREAKER_FAILURES = 100
    settings.CASHBACK_API_MAX_CALLS_PER_PROCESS = 2

    results = callers_together()

    assert hanging_api.received == 2
    # Two wait out the budget (0.5 s); the 22 others do not wait on the API.
    waited = sorted(elapsed for _, elapsed in results)
    assert all(elapsed >= 0.45 for elapsed in waited[-2:])
    assert all(elapsed < 0.4 for elapsed in waited[:-2])
    assert all(isinstance(result, str) for result, _ in results)
    assert sum(result == "too many calls in flight in this process" for result, _ in results) == 22


def test_a_call_stopped_midway_gives_its_thread_back(api, settings, monkeypatch):
    # A worker stopping a task (a time limit, a warm shutdown) may end the
    # call with SystemExit: the process's slot must not leak, or the API
    # would never be asked again.
    from resellers import cashback_client

    settings.CASHBACK_API_MAX_CALLS_PER_PROCESS = 1
    api.expect_request(PATH).respond_with_json(ok(4))

    def stopped(cpf):
        raise SystemExit(1)

    monkeypatch.setattr(cashback_client, "_fetch_with_retry", stopped)
    with pytest.raises(SystemExit):
        fetch()
    monkeypatch.undo()

    assert fetch() == Decimal("4.00")
