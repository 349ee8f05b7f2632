"""The cashback routes when the brand's API answers garbage: the local
ledger (or the last good answer), never a 500."""

import pytest

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client
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
    brand_api.expect_request(PATH).respond_with_data(body, content_type="application/json")
    reseller = ResellerFactory()
    for client, url in _routes(reseller):
        client.raise_request_exception = False
        response = client.get(url)
        assert response.status_code == 200, url
        assert (response.json()["source"], response.json()["stale"]) == ("local", False)
        assert response.json()["credit"] == "0.00"
