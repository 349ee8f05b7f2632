"""The stored credit: the routes' answer, never waiting on the brand's API;
refreshed by a task that gets the reseller's id, queued once at a time."""

import logging
import threading
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.core.cache import cache, caches
from django.utils import timezone
from werkzeug import Response

from resellers import credit
from resellers.credit import SOURCE_EXTERNAL, SOURCE_LOCAL, cashback_balance
from resellers.models import CashbackCredit
from resellers.tasks import CREDIT_BACKOFF_SECONDS, cashback_credit_refresh
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

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
def api(settings, httpserver):
    settings.CASHBACK_API_URL = httpserver.url_for("").rstrip("/")
    settings.CASHBACK_API_TOKEN = TOKEN
    settings.CASHBACK_API_TIMEOUT = 0.5
    settings.CASHBACK_API_CACHE_SECONDS = 300
    settings.CASHBACK_API_BREAKER_FAILURES = 5
    return httpserver


@pytest.fixture
def reseller():
    return ResellerFactory(cpf=CPF)


@pytest.fixture
def queued():
    """The refreshes sent, as a broker would take them: not run."""
    sent = []
    with mock.patch.object(cashback_credit_refresh, "delay", side_effect=lambda *args: sent.append(args)):
        yield sent


def balance(reseller, ledger=None):
    return cashback_balance(reseller_id=reseller.pk, local_ledger=ledger or LocalLedger())


def store(reseller, credit="42.00", *, age: float = 0) -> CashbackCredit:
    fetched_at = timezone.now() - timedelta(seconds=age)
    return CashbackCredit.objects.create(
        reseller=reseller, credit=Decimal(credit), fetched_at=fetched_at, checked_at=fetched_at
    )


def cache_keys() -> list[str]:
    # django-redis lists the keys of this prefix; LocMem holds them in a dict.
    return [str(key) for key in (cache.keys("*") if hasattr(cache, "keys") else cache._cache.keys())]


# --- What the routes answer ------------------------------------------------------


def test_unconfigured_api_serves_the_local_ledger_and_queues_nothing(settings, reseller, queued):
    settings.CASHBACK_API_URL = ""
    ledger = LocalLedger()
    result = balance(reseller, ledger)
    assert (result.credit, result.source, result.stale) == (LOCAL_CREDIT, SOURCE_LOCAL, False)
    assert ledger.calls == 1
    assert queued == []


def test_local_ledger_without_purchases_is_zero(settings, reseller):
    settings.CASHBACK_API_URL = ""
    result = balance(reseller, lambda: None)  # what an aggregate Sum over no rows gives
    assert (result.credit, result.source) == (Decimal("0.00"), SOURCE_LOCAL)


def test_nothing_stored_serves_the_local_ledger_and_queues_a_refresh_by_id(api, reseller, queued):
    ledger = LocalLedger()
    before = timezone.now()
    result = balance(reseller, ledger)

    assert (result.credit, result.source, result.stale) == (LOCAL_CREDIT, SOURCE_LOCAL, False)
    assert result.fetched_at >= before
    assert queued == [(reseller.pk,)]  # the id: the CPF never goes through the broker
    assert api.log == []  # the request itself never calls the API


def test_the_refresh_stores_the_credit_and_the_next_answer_is_external(api, reseller, queued):
    expected = api.expect_request(PATH, headers={"token": TOKEN}, query_string={"cpf": CPF})
    expected.respond_with_json(ok(123.45))
    balance(reseller)
    before = timezone.now()

    assert cashback_credit_refresh.apply(args=queued[0]).get() is True

    ledger = LocalLedger()
    result = balance(reseller, ledger)
    assert (result.credit, result.source, result.stale) == (Decimal("123.45"), SOURCE_EXTERNAL, False)
    assert result.fetched_at >= before
    assert ledger.calls == 0
    # Fresh: read again, it is neither asked for nor refreshed.
    assert balance(reseller) == result
    assert len(queued) == 1
    assert len(api.log) == 1


def test_an_old_credit_is_served_stale_and_one_refresh_is_queued(api, settings, reseller, queued):
    stored = store(reseller, "42.00", age=settings.CASHBACK_API_CACHE_SECONDS + 1)

    results = [balance(reseller) for _ in range(3)]

    for result in results:
        assert (result.credit, result.source, result.stale) == (Decimal("42.00"), SOURCE_EXTERNAL, True)
        assert result.fetched_at == stored.fetched_at
    assert queued == [(reseller.pk,)]  # once, however often it is read meanwhile


def test_a_credit_older_than_a_day_gives_way_to_the_local_ledger(api, reseller, queued):
    store(reseller, "42.00", age=credit.LAST_GOOD_SECONDS + 1)
    result = balance(reseller)
    assert (result.credit, result.source, result.stale) == (LOCAL_CREDIT, SOURCE_LOCAL, False)
    assert queued == [(reseller.pk,)]


def test_a_finished_refresh_lets_the_next_stale_read_queue_another(api, settings, reseller, queued):
    api.expect_request(PATH).respond_with_json(ok(1))
    balance(reseller)
    cashback_credit_refresh.apply(args=queued[0])
    CashbackCredit.objects.update(fetched_at=timezone.now() - timedelta(hours=1))

    assert balance(reseller).stale is True
    assert queued == [(reseller.pk,), (reseller.pk,)]


def test_a_hanging_api_never_holds_the_request(api, settings, reseller, queued):
    release = threading.Event()
    api.expect_request(PATH).respond_with_handler(lambda request: release.wait(3) and Response("{}"))
    store(reseller, "42.00", age=settings.CASHBACK_API_CACHE_SECONDS + 1)
    try:
        started = time.monotonic()
        result = balance(reseller)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert result.stale is True
    assert elapsed < 0.2  # no HTTP: the worker waits out the budget, not the request
    assert api.log == []


def test_a_broker_that_is_down_costs_the_answer_nothing(api, settings, reseller, caplog):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    store(reseller, "42.00", age=settings.CASHBACK_API_CACHE_SECONDS + 1)
    with mock.patch.object(cashback_credit_refresh, "delay", side_effect=ConnectionRefusedError) as delay:
        first = balance(reseller)
        second = balance(reseller)
    assert (first.credit, first.stale) == (second.credit, second.stale) == (Decimal("42.00"), True)
    # The lock stays a while: the next requests do not wait on the broker again.
    assert delay.call_count == 1
    assert "not queued (ConnectionRefusedError)" in caplog.text


def test_a_cache_that_is_down_still_queues_the_refresh(api, reseller, queued, cache_down):
    assert balance(reseller).source == SOURCE_LOCAL
    assert queued == [(reseller.pk,)]


# --- The refresh task ----------------------------------------------------------


def test_a_failed_refresh_keeps_the_credit_and_records_why(api, settings, reseller, queued):
    api.expect_request(PATH).respond_with_json({}, status=503)
    stored = store(reseller, "42.00", age=settings.CASHBACK_API_CACHE_SECONDS + 1)
    balance(reseller)

    assert cashback_credit_refresh.apply(args=queued[0]).get() is False  # in-process: not retried

    row = CashbackCredit.objects.get(pk=reseller.pk)
    assert (row.credit, row.fetched_at, row.error) == (Decimal("42.00"), stored.fetched_at, "HTTP 503")
    assert row.checked_at > stored.checked_at
    result = balance(reseller)
    assert (result.credit, result.stale) == (Decimal("42.00"), True)
    # A refresh that failed for good pauses the next for a minute.
    assert len(queued) == 1


def test_a_failed_call_is_retried_with_back_off(api, reseller, queued):
    api.expect_request(PATH).respond_with_json({}, status=503)
    balance(reseller)  # queues it: locked
    cashback_credit_refresh.push_request(id="refresh-1", retries=0, is_eager=False)
    try:
        with (
            mock.patch.object(cashback_credit_refresh, "retry", return_value=Retry()) as retry,
            pytest.raises(Retry),
        ):
            cashback_credit_refresh.run(reseller.pk)
    finally:
        cashback_credit_refresh.pop_request()
    (call,) = retry.call_args_list
    assert call.kwargs["exc"].reason == "HTTP 503"
    assert 0 <= call.kwargs["countdown"] <= CREDIT_BACKOFF_SECONDS
    balance(reseller)
    assert len(queued) == 1  # still locked while its retries are queued


def test_the_last_retry_fails_the_task_and_pauses_the_next(api, reseller, queued):
    api.expect_request(PATH).respond_with_json({}, status=503)
    cashback_credit_refresh.push_request(id="refresh-1", retries=cashback_credit_refresh.max_retries)
    try:
        with pytest.raises(credit.CreditUnavailable):
            cashback_credit_refresh.run(reseller.pk)
    finally:
        cashback_credit_refresh.pop_request()
    assert caches["strict"].get(credit._lock_key(reseller.pk)) is not None
    balance(reseller)
    assert queued == []  # paused


def test_a_duplicate_refresh_of_a_fresh_credit_calls_nothing(api, reseller):
    store(reseller, "42.00", age=1)
    assert cashback_credit_refresh.apply(args=[reseller.pk]).get() is False
    assert api.log == []


def test_a_refresh_of_a_removed_reseller_does_nothing(api, reseller):
    reseller_id = reseller.pk
    reseller.user.delete()
    assert cashback_credit_refresh.apply(args=[reseller_id]).get() is False
    assert api.log == []


def test_in_process_without_a_broker_the_refresh_runs_when_queued(api, reseller):
    # The embedded default: no worker, so the task runs where it is sent.
    api.expect_request(PATH).respond_with_json(ok(9))
    assert balance(reseller).source == SOURCE_LOCAL  # the answer read before the refresh
    result = balance(reseller)
    assert (result.credit, result.source, result.stale) == (Decimal("9.00"), SOURCE_EXTERNAL, False)
    assert len(api.log) == 1


# --- Personal data ---------------------------------------------------------------


def test_the_cpf_is_in_no_log_cache_key_or_task_argument(api, settings, reseller, queued, caplog):
    caplog.set_level(logging.DEBUG)
    api.expect_oneshot_request(PATH).respond_with_json({}, status=500)
    api.expect_oneshot_request(PATH).respond_with_json({}, status=500)
    balance(reseller)
    cashback_credit_refresh.apply(args=queued[0])  # fails (HTTP 500, retried once)
    settings.CASHBACK_API_URL = "http://127.0.0.1:1"
    caches["strict"].delete(credit._lock_key(reseller.pk))
    balance(reseller)
    cashback_credit_refresh.apply(args=queued[1])  # connection refused: requests' message has the URL

    assert "not refreshed (HTTP 500)" in caplog.text
    assert "not refreshed (connection error" in caplog.text
    assert CashbackCredit.objects.get(pk=reseller.pk).error.startswith("connection error")
    records = [record for record in caplog.records if record.name != "werkzeug"]
    texts = [record.getMessage() + (record.exc_text or "") for record in records]
    texts += cache_keys() + [repr(args) for args in queued]
    texts.append(CashbackCredit.objects.get(pk=reseller.pk).error)
    for text in texts:
        for secret in (CPF, "153.509", TOKEN, "cpf="):
            assert secret not in text
