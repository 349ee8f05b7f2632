"""The cashback routes with the brand's API configured: they answer from the
stored credit, saying how fresh it is, and the local ledger while there is
none; whatever the API answers, never a 500."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client
from resellers.models import CashbackCredit
from resellers.tasks import cashback_credit_refresh
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

PATH = "/v1/cashback"
GARBAGE = {
    "deeply nested": "[" * 30_000,
    "nested inside the shape": '{"statusCode": 200, "body": {"credit": ' + "{" * 30_000,
    "credit too large to show": '{"statusCode": 200, "body": {"credit": 100000000000000000000}}',
    "not JSON": "\x00\xff",
}


@pytest.fixture
def brand_api(settings, httpserver):
    settings.CASHBACK_API_URL = httpserver.url_for("").rstrip("/")
    settings.CASHBACK_API_TOKEN = "token"
    settings.CASHBACK_API_TIMEOUT = 0.5
    return httpserver


def _routes(reseller):
    superuser = StaffFactory(is_superuser=True)
    return [
        (authenticated_client(reseller.user), "/api/v1/resellers/me/cashback/"),
        (authenticated_client(superuser), f"/api/v1/resellers/{reseller.id}/cashback/"),
    ]


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_from_the_brand_api_serves_the_local_ledger(brand_api, body):
    # In-process (no broker), the refresh the first request queues runs at
    # once: the garbage is recorded as a failure, and no route sees it.
    brand_api.expect_request(PATH).respond_with_data(body, content_type="application/json")
    reseller = ResellerFactory()
    for client, url in _routes(reseller):
        client.raise_request_exception = False
        response = client.get(url)
        assert response.status_code == 200, url
        assert (response.json()["source"], response.json()["stale"]) == ("local", False)
        assert response.json()["credit"] == "0.00"
    assert CashbackCredit.objects.get(reseller=reseller).error.startswith("invalid body")


def test_the_routes_serve_the_stored_credit_and_say_how_fresh_it_is(brand_api, settings):
    reseller = ResellerFactory()
    fetched_at = timezone.now() - timedelta(seconds=settings.CASHBACK_API_CACHE_SECONDS + 60)
    CashbackCredit.objects.create(
        reseller=reseller, credit=Decimal("1234.56"), fetched_at=fetched_at, checked_at=fetched_at
    )
    with mock.patch.object(cashback_credit_refresh, "delay") as delay:
        for client, url in _routes(reseller):
            body = client.get(url).json()
            assert (body["credit"], body["source"], body["stale"]) == ("1234.56", "external", True)
            assert body["fetched_at"] == timezone.localtime(fetched_at).isoformat()
    delay.assert_called_once_with(reseller.pk)  # one refresh for both reads
    assert brand_api.log == []  # the request never calls the API

    CashbackCredit.objects.update(fetched_at=timezone.now())
    for client, url in _routes(reseller):
        body = client.get(url).json()
        assert (body["source"], body["stale"]) == ("external", False)


def test_the_answer_takes_two_queries_after_authentication(brand_api, django_assert_num_queries):
    reseller = ResellerFactory()
    CashbackCredit.objects.create(
        reseller=reseller, credit=Decimal("1"), fetched_at=timezone.now(), checked_at=timezone.now()
    )
    client = authenticated_client(reseller.user)
    # The user with their reseller (authentication), the stored credit.
    with django_assert_num_queries(2):
        assert client.get("/api/v1/resellers/me/cashback/").json()["source"] == "external"
