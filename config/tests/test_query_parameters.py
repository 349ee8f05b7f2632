"""Query parameters are what the schema says: bounded pages, an ordering
from a list, ids and booleans that are ids and booleans, and an empty value
as if the parameter were absent."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from conftest import EN
from core.filters import UNKNOWN_ORDERING_MESSAGE
from core.pagination import PAGE_SIZE_MESSAGE
from products.tests.factories import ProductFactory
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

LISTS = [
    ("reseller", "/api/v1/purchases/"),
    ("reseller", "/api/v1/products/"),
    ("reseller", "/api/v1/categories/"),
    ("reseller", "/api/v1/resellers/me/favorites/"),
    ("staff", "/api/v1/resellers/"),
]
ORDERINGS = {
    "/api/v1/purchases/": ["date", "-date", "value", "-value", "created_at", "-created_at"],
    "/api/v1/products/": ["name", "-name", "price", "-price", "created_at", "-created_at"],
    "/api/v1/resellers/": ["created_at", "-created_at", "user__full_name", "-user__full_name"],
}


@pytest.fixture
def clients(reseller_client, staff_client):
    return {"reseller": reseller_client, "staff": staff_client}


@pytest.fixture(scope="module")
def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def _parameter(operations, path, name):
    return next(p for p in operations[(path, "get")]["parameters"] if p["name"] == name)


@pytest.mark.parametrize(("who", "path"), LISTS)
@pytest.mark.parametrize("page_size", ["0", "101", "-1", "1.5", "abc", " 5", "\u0665", "null"])
def test_a_page_size_outside_1_to_100_is_a_400(clients, who, path, page_size):
    response = clients[who].get(path, {"page_size": page_size}, **EN)
    assert response.status_code == 400, response.content
    assert response.json() == {"page_size": [PAGE_SIZE_MESSAGE % {"maximum": 100}]}


@pytest.mark.parametrize(("who", "path"), LISTS)
def test_page_size_and_page_bounds_are_in_the_schema(operations, who, path):
    assert _parameter(operations, path, "page_size")["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
    }
    assert _parameter(operations, path, "page")["schema"] == {"type": "integer", "minimum": 1}


def test_a_page_is_a_number(reseller_client, make_purchase, reseller):
    make_purchase(reseller)
    assert reseller_client.get("/api/v1/purchases/", {"page": "last"}).status_code == 404
    assert reseller_client.get("/api/v1/purchases/", {"page": "0"}).status_code == 404
    assert reseller_client.get("/api/v1/purchases/", {"page": "1"}).json()["count"] == 1


@pytest.mark.parametrize("path", sorted(ORDERINGS))
@pytest.mark.parametrize("ordering", ["nope", "date,value", "name,-price", "-", "id", " date", "user__email"])
def test_an_unknown_ordering_is_a_400_listing_the_allowed_ones(reseller_client, staff_client, path, ordering):
    client = staff_client if path == "/api/v1/resellers/" else reseller_client
    response = client.get(path, {"ordering": ordering}, **EN)
    assert response.status_code == 400, response.content
    allowed = ", ".join(ORDERINGS[path])
    assert response.json() == {"ordering": [UNKNOWN_ORDERING_MESSAGE % {"allowed": allowed}]}


@pytest.mark.parametrize("path", sorted(ORDERINGS))
def test_each_allowed_ordering_is_served_and_listed_in_the_schema(
    reseller_client, staff_client, operations, path
):
    client = staff_client if path == "/api/v1/resellers/" else reseller_client
    for ordering in ORDERINGS[path]:
        assert client.get(path, {"ordering": ordering}).status_code == 200, ordering
    assert _parameter(operations, path, "ordering")["schema"] == {"type": "string", "enum": ORDERINGS[path]}


@pytest.mark.parametrize(("who", "path"), LISTS)
def test_an_empty_parameter_is_as_if_absent(clients, operations, who, path):
    parameters = [p for p in operations[(path, "get")]["parameters"] if p["in"] == "query"]
    expected = clients[who].get(path).json()
    response = clients[who].get(path, {p["name"]: "" for p in parameters})
    assert response.status_code == 200, response.content
    assert response.json() == expected
    assert all(p.get("allowEmptyValue") is True for p in parameters)


@pytest.mark.parametrize("value", ["maybe", "yes", "2", "True "])
def test_is_active_is_true_or_false(staff_client, value):
    response = staff_client.get("/api/v1/products/", {"is_active": value})
    assert response.status_code == 400
    assert list(response.json()) == ["is_active"]


@pytest.mark.parametrize(("value", "active"), [("true", True), ("false", False), ("1", True), ("0", False)])
def test_is_active_filters_for_staff(staff_client, value, active):
    ProductFactory(is_active=True)
    ProductFactory(is_active=False)
    rows = staff_client.get("/api/v1/products/", {"is_active": value}).json()["results"]
    assert [row["is_active"] for row in rows] == [active]


def test_the_reseller_filter_is_an_id_for_anyone(reseller, reseller_client, staff_client, make_purchase):
    other = ResellerFactory()
    make_purchase(reseller)
    make_purchase(other)
    # A reseller's list is theirs: another's id finds nothing, theirs all.
    assert reseller_client.get("/api/v1/purchases/", {"reseller": other.pk}).json()["count"] == 0
    assert reseller_client.get("/api/v1/purchases/", {"reseller": reseller.pk}).json()["count"] == 1
    # An id that names no reseller finds nothing; anything else is a 400.
    assert staff_client.get("/api/v1/purchases/", {"reseller": 999999}).json()["count"] == 0
    for client in (reseller_client, staff_client):
        for value in ("abc", "0", "1.5", "null"):
            response = client.get("/api/v1/purchases/", {"reseller": value})
            assert response.status_code == 400, (value, response.content)
            assert list(response.json()) == ["reseller"]


@pytest.mark.parametrize(
    ("path", "name", "schema"),
    [
        ("/api/v1/purchases/", "reseller", {"type": "integer", "format": "int64", "minimum": 1}),
        ("/api/v1/products/", "category", {"type": "integer", "format": "int64", "minimum": 1}),
        ("/api/v1/purchases/", "search", {"type": "string", "maxLength": 64, "pattern": "^[^\\u0000]*$"}),
        ("/api/v1/products/", "search", {"type": "string", "maxLength": 200, "pattern": "^[^\\u0000]*$"}),
        ("/api/v1/resellers/", "search", {"type": "string", "maxLength": 254, "pattern": "^[^\\u0000]*$"}),
        ("/api/v1/products/", "is_active", {"type": "boolean"}),
    ],
)
def test_filters_are_described_as_they_are_validated(operations, path, name, schema):
    described = dict(_parameter(operations, path, name)["schema"])
    described.pop("maximum", None)  # the largest 64-bit id
    assert described == schema


@pytest.mark.parametrize("value", ["-1", "1e3", "+", ".", "1,5", " 1", "\u0661"])
def test_a_price_filter_is_a_plain_decimal(reseller_client, operations, value):
    response = reseller_client.get("/api/v1/products/", {"min_price": value})
    assert response.status_code == (200 if value == "-1" else 400), response.content
    pattern = _parameter(operations, "/api/v1/products/", "min_price")["schema"]["pattern"]
    assert (re.search(pattern, value) is not None) == (response.status_code == 200)
