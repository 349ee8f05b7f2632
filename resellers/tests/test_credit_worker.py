"""The brand's credit refreshed by a real Celery worker (``-m worker``): the
route answers at once from the local ledger, the worker calls the
(stand-in) brand API, retries with back-off after a failure, and stores the
credit the next answer shows."""

from decimal import Decimal

import pytest

from conftest import authenticated_client, wait_until
from resellers.models import CashbackCredit
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.worker

CPF = "15350946056"
ROUTE = "/api/v1/resellers/me/cashback/"


def test_the_worker_refreshes_the_credit_retrying_after_a_failure(celery_worker, settings, httpserver):
    # The worker's settings point at this server (conftest.py), and so do this process's.
    settings.CASHBACK_API_URL = httpserver.url_for("").rstrip("/")
    for _ in range(2):  # a first call and its quick retry fail: the task retries later
        httpserver.expect_oneshot_request("/v1/cashback").respond_with_json({}, status=503)
    httpserver.expect_request(
        "/v1/cashback", headers={"token": "worker-test-token"}, query_string={"cpf": CPF}
    ).respond_with_json({"statusCode": 200, "body": {"credit": 321.5}})
    reseller = ResellerFactory(cpf=CPF)
    client = authenticated_client(reseller.user)

    first = client.get(ROUTE).json()
    assert (first["source"], first["credit"]) == ("local", "0.00")

    def refreshed():
        return CashbackCredit.objects.filter(pk=reseller.pk, credit__isnull=False).exists()

    wait_until(refreshed, timeout=30, what="the worker's refresh")
    credit = CashbackCredit.objects.get(pk=reseller.pk)
    assert (credit.credit, credit.error) == (Decimal("321.50"), "")
    assert len(httpserver.log) == 3  # two failures, then the task's retry
    celery_worker.wait_for_log(r"cashback_credit_refresh\[[^\]]+\] retry")
    answer = client.get(ROUTE).json()
    assert (answer["source"], answer["credit"], answer["stale"]) == ("external", "321.50", False)
    assert CPF not in celery_worker.log()  # the task got the reseller's id
