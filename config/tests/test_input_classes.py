"""Every class of hostile input, over every route that takes that kind of
input: the routes are read from the published OpenAPI schema, so a new route
is covered the day it is added. Each answer is a 4xx JSON body (400 naming
the parameter or field, or a ``{detail, code}`` error), never a 500, and
writes nothing (see the table of input classes in docs/security.md)."""

import io
import json
import re
from datetime import date

import pytest
from django.core import signals
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.wsgi import application as wsgi_application
from conftest import authenticated_client
from core.parsing import DECIMAL_PATTERN
from products.models import Category, Product
from purchases.models import Purchase
from purchases.months import MONTH_PATTERN
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

STAFF_FIRST = ("anonymous", "staff", "reseller")
ARABIC_96 = "\u0669\u0666"  # Arabic-Indic 9, 6
FULLWIDTH_10 = "\uff11\uff10"  # fullwidth 1, 0
ARABIC_DATE = "\u0662\u0660\u0662\u0666-\u0660\u0663-\u0660\u0661"
DEVANAGARI_2026_03 = "\u0968\u0966\u0968\u096c-\u0966\u0969"


def _operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in sorted(schema["paths"].items()):
        for method, operation in sorted(methods.items()):
            yield path, method, operation


OPERATIONS = list(_operations())


def _ids(items):
    return [f"{method.upper()} {path}" for path, method, _ in items]


BODY_OPERATIONS = [item for item in OPERATIONS if "requestBody" in item[2]]
PATH_OPERATIONS = [item for item in OPERATIONS if "{" in item[0]]


def _query_parameters(kind):
    found = []
    for path, method, operation in OPERATIONS:
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            schema = parameter.get("schema", {})
            if (
                (kind == "number" and schema.get("type") in ("integer", "number"))
                or (kind == "number" and schema.get("pattern") == DECIMAL_PATTERN)
                or (kind == "date" and schema.get("format") == "date")
                or (kind == "month" and schema.get("pattern") == MONTH_PATTERN)
            ):
                found.append((path, method, parameter["name"]))
    return found


NUMBER_PARAMETERS = _query_parameters("number")
DATE_PARAMETERS = _query_parameters("date")
MONTH_PARAMETERS = _query_parameters("month")


@pytest.fixture
def world(make_purchase):
    reseller = ResellerFactory()
    category = Category.objects.create(name="Perfumes", slug="perfumes")
    product = Product.objects.create(sku="P-1", name="Perfume", price="10.00", category=category)
    purchase = make_purchase(reseller)
    from accounts.tests.factories import StaffFactory

    return {
        "reseller": authenticated_client(reseller.user),
        "staff": authenticated_client(StaffFactory(is_superuser=True)),
        "anonymous": APIClient(),
        "ids": {
            "purchases": purchase.pk,
            "products": product.pk,
            "categories": category.pk,
            "resellers": reseller.pk,
            "favorites": product.pk,
        },
    }


def _fill(path, world, value=None):
    def replace(match):
        if value is not None:
            return value
        segment = path[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        return str(world["ids"][segment])

    return re.sub(r"\{[^}]+\}", replace, path)


def _send(world, method, url, *, order=("anonymous", "reseller", "staff"), **kwargs):
    """As whoever the route lets through: anonymous for open routes, then a
    reseller, then staff (query tests ask staff first: some filters are
    staff's only)."""
    response = None
    for who in order:
        response = getattr(world[who], method)(url, **kwargs)
        if response.status_code not in (401, 403):
            return response
    return response


def _assert_error(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


HOSTILE_BODIES = {
    "nested 5000 deep (array)": "[" * 5000 + "]" * 5000,
    "nested 2000 deep (object)": '{"a":' * 2000 + "1" + "}" * 2000,
    "number overflowing to infinity": '{"value": 1e309, "price": 1e309, "category": 1e309, '
    '"items": [{"product": 1e309, "quantity": 1e309}], "limit": 1e309}',
    "NaN": '{"value": NaN, "price": NaN}',
    "lone surrogate": '{"email": "a\\ud800@example.com", "cpf": "\\udc00", "full_name": "\\ud800", '
    '"code": "\\ud800", "password": "\\ud800", "name": "\\ud800", "refresh": "\\ud800"}',
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
@pytest.mark.parametrize(("path", "method", "operation"), BODY_OPERATIONS, ids=_ids(BODY_OPERATIONS))
def test_hostile_json_is_a_400_parse_error_on_every_body_route(world, path, method, operation, body):
    before = Purchase.objects.count(), Product.objects.count()
    response = _send(world, method, _fill(path, world), data=body, content_type="application/json")
    assert _assert_error(response, 400)["code"] == "parse_error"
    assert (Purchase.objects.count(), Product.objects.count()) == before


# "undefined" and "punycode" are codecs Python knows that fail on any input;
# "latin-1" and "utf-16" decode, into something other than what was meant;
# "nonsense" is no codec at all.
FOREIGN_CHARSETS = ["undefined", "punycode", "latin-1", "utf-16", "nonsense", "UTF-8x", ""]


@pytest.mark.parametrize("charset", FOREIGN_CHARSETS)
@pytest.mark.parametrize(("path", "method", "operation"), BODY_OPERATIONS, ids=_ids(BODY_OPERATIONS))
def test_a_body_in_any_charset_but_utf8_is_a_415_on_every_body_route(world, path, method, operation, charset):
    before = Purchase.objects.count(), Product.objects.count()
    body = b'{"email": "a@example.com", "password": "x", "code": "NF-9", "name": "x"}'
    content_type = f"application/json; charset={charset}"
    response = _send(world, method, _fill(path, world), data=body, content_type=content_type)
    error = _assert_error(response, 415)
    assert error["code"] == "unsupported_media_type"
    assert error["detail"]
    assert (Purchase.objects.count(), Product.objects.count()) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        "application/json; charset=utf8",
        'application/json; charset="utf-8"',
    ],
)
def test_utf8_in_any_spelling_or_no_charset_is_read(world, content_type):
    body = '{"email": "nobody@example.com", "password": "senha-é"}'.encode()
    response = world["anonymous"].post("/api/v1/auth/token/", data=body, content_type=content_type)
    assert response.status_code == 401, response.content
    body = b'{"email": "nobody@example.com"}'
    response = world["anonymous"].post("/api/v1/auth/password/reset/", data=body, content_type=content_type)
    assert response.status_code == 202, response.content


def _serve(method, path, query, content_type, body=b"", **headers):
    """One request through the application gunicorn serves (the test client
    builds its requests with Django's own class); its status and JSON body."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        **headers,
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    # As the test client does: the test's transaction must stay open.
    signals.request_started.disconnect(close_old_connections)
    try:
        content = b"".join(wsgi_application(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
    return answer["status"], json.loads(content)


@pytest.mark.parametrize("charset", ["undefined", "punycode", "rot13", "cp037"])
def test_a_foreign_charset_never_decodes_the_query_string(world, charset):
    # Django decodes the query string with the declared charset while it
    # builds the request: these raised before any middleware (or decoded
    # EBCDIC into other text).
    Product.objects.create(sku="B-1", name="Batom", price="5.00", category_id=world["ids"]["categories"])
    content_type = f"application/json; charset={charset}"
    token = world["reseller"]._credentials["HTTP_AUTHORIZATION"]
    status, body = _serve(
        "GET", "/api/v1/products/", "search=Perfume", content_type, HTTP_AUTHORIZATION=token
    )
    assert status == 200
    assert [product["name"] for product in body["results"]] == ["Perfume"]
    status, body = _serve("GET", "/api/v1/products/", "page=2", content_type)
    assert (status, body["code"]) == (401, "not_authenticated")
    status, body = _serve("POST", "/api/v1/auth/token/", "a=b", content_type, b'{"email": "a@example.com"}')
    assert (status, body["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize("digits", [ARABIC_96, FULLWIDTH_10])
@pytest.mark.parametrize(("path", "method", "operation"), PATH_OPERATIONS, ids=_ids(PATH_OPERATIONS))
def test_non_ascii_digits_in_a_path_id_are_404_on_every_route(world, path, method, operation, digits):
    response = _send(world, method, _fill(path, world, digits))
    assert _assert_error(response, 404)["code"] == "not_found"


def test_every_id_route_pattern_takes_ascii_digits_only():
    from django.urls import get_resolver

    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            regex = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern, regex)
            else:
                yield regex

    offending = [regex for regex in walk(get_resolver()) if "\\d" in regex and "admin" not in regex]
    assert offending == []


@pytest.mark.parametrize("value", [ARABIC_96, FULLWIDTH_10, "1.5", "1e309", "-1e999999999", "NaN"])
@pytest.mark.parametrize(("path", "method", "name"), NUMBER_PARAMETERS)
def test_number_query_parameters_refuse_anything_but_ascii_numbers(world, path, method, name, value):
    response = _send(world, method, _fill(path, world), data={name: value}, order=STAFF_FIRST)
    if name == "page":
        assert _assert_error(response, 404)["code"] == "not_found"
    elif value in ("1.5",) and name in ("min_price", "max_price"):
        assert response.status_code == 200  # a price may have decimals
    else:
        assert name in _assert_error(response, 400)


@pytest.mark.parametrize("value", [ARABIC_DATE, "0000-01-01", "10000-01-01"])
@pytest.mark.parametrize(("path", "method", "name"), DATE_PARAMETERS)
def test_date_query_parameters_refuse_non_ascii_and_impossible_dates(world, path, method, name, value):
    response = _send(world, method, _fill(path, world), data={name: value}, order=STAFF_FIRST)
    assert name in _assert_error(response, 400)


@pytest.mark.parametrize("value", [DEVANAGARI_2026_03, "0000-05", "9999-12", "1999-12", "2026-13", "2026-3"])
@pytest.mark.parametrize(("path", "method", "name"), MONTH_PARAMETERS)
def test_month_query_parameters_refuse_non_ascii_and_calendar_edges(world, path, method, name, value):
    response = _send(world, method, _fill(path, world), data={name: value}, order=STAFF_FIRST)
    assert name in _assert_error(response, 400)


def test_the_schema_driven_tests_found_their_routes():
    # A guard against the tests above silently testing nothing.
    assert len(BODY_OPERATIONS) >= 12
    assert len(PATH_OPERATIONS) >= 15
    assert {name for _, _, name in NUMBER_PARAMETERS} >= {
        "page",
        "page_size",
        "limit",
        "min_price",
        "category",
    }
    assert {name for _, _, name in DATE_PARAMETERS} >= {"date_from", "date_to"}
    assert {name for _, _, name in MONTH_PARAMETERS} >= {"month", "from", "to"}


# --- Body fields: only ASCII digits, ids as whole numbers ---------------------

PURCHASE = {"code": "NF-1", "value": "10.00", "date": "2026-03-01"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("value", "\u0661\u0660"),
        ("value", "\uff11\uff10.00"),
        ("value", "1e3"),
        ("date", ARABIC_DATE),
        ("date", "0000-01-01"),
        ("cpf", "\uff11\uff15\uff13.509.460-56"),
    ],
)
def test_purchase_fields_take_ascii_digits_only(world, field, value):
    response = world["staff"].post(
        "/api/v1/purchases/", {**PURCHASE, "cpf": "15350946056", field: value}, format="json"
    )
    assert field in _assert_error(response, 400)
    assert not Purchase.objects.filter(code="NF-1").exists()


@pytest.mark.parametrize(
    "item",
    [
        {"product": 1.5, "quantity": 1},
        {"product": True, "quantity": 1},
        {"product": "\u0661", "quantity": 1},
        {"product": 2**70, "quantity": 1},
        {"product": "PRODUCT", "quantity": "\u0661"},
        {"product": "PRODUCT", "quantity": 1.5},
    ],
)
def test_item_ids_and_quantities_are_whole_ascii_numbers(world, item):
    product_id = world["ids"]["products"]
    item = {key: product_id if value == "PRODUCT" else value for key, value in item.items()}
    response = world["reseller"].post(
        "/api/v1/purchases/", {"code": "NF-2", "date": "2026-03-01", "items": [item]}, format="json"
    )
    errors = _assert_error(response, 400)
    assert "items" in errors
    assert not Purchase.objects.filter(code="NF-2").exists()


@pytest.mark.parametrize(
    ("field", "value"), [("price", "\u0661\u0660"), ("category", 1.5), ("category", "\u0661")]
)
def test_product_fields_take_ascii_digits_only(world, field, value):
    body = {"sku": "NEW-1", "name": "New", "price": "10.00", "category": world["ids"]["categories"]}
    response = world["staff"].post("/api/v1/products/", {**body, field: value}, format="json")
    assert field in _assert_error(response, 400)


def test_a_float_id_is_never_truncated_to_an_existing_row(world):
    # 1.5 used to become 1: the product with id 1.
    response = world["staff"].patch(
        f"/api/v1/products/{world['ids']['products']}/",
        {"category": world["ids"]["categories"] + 0.5},
        format="json",
    )
    assert "category" in _assert_error(response, 400)


def test_price_filter_with_a_huge_exponent_never_reaches_the_database(world):
    response = world["reseller"].get("/api/v1/products/", {"min_price": "-1e999999999"})
    assert "min_price" in _assert_error(response, 400)


# --- Admin: months and dates at the calendar's edges --------------------------


@pytest.mark.parametrize(
    "query",
    [
        "month=9999-12",
        "month=0000-05",
        f"month={DEVANAGARI_2026_03}",
        "date__year=9999&date__month=12",
        "date__year=9999&date__month=12&date__day=31",
        "date__year=9999",
        "date__year=0",
        "date__year=\u0662\u0660\u0662\u0666",
    ],
)
def test_admin_purchase_changelist_never_fails_on_calendar_edges(admin_client, query, make_purchase):
    make_purchase(date=date(2026, 3, 1))
    response = admin_client.get(f"/admin/purchases/purchase/?{query}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert "e=1" in response["Location"]


def test_every_admin_changelist_bounds_its_parameters():
    from django.contrib import admin

    from core.admin import BoundedChangeListMixin

    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, BoundedChangeListMixin), type(model_admin)


@pytest.mark.parametrize(
    "url", ["/admin/purchases/purchase/", "/admin/resellers/reseller/", "/admin/accounts/user/"]
)
def test_admin_search_with_a_nul_byte_is_not_a_500(admin_client, url):
    response = admin_client.get(url, {"q": "a\x00b"})
    assert response.status_code == 302
    assert "e=1" in response["Location"]


def test_admin_analytics_period_picker_refuses_calendar_edges(admin_client):
    from django.urls import reverse

    url = reverse("admin:analytics") if _has_route("admin:analytics") else None
    if url is None:
        pytest.skip("no analytics admin page")
    for query in ("from=0000-05&to=9999-12", "to=9999-12", f"from={DEVANAGARI_2026_03}"):
        assert Client().get(f"{url}?{query}").status_code != 500
        assert admin_client.get(f"{url}?{query}").status_code in (200, 302, 400)


def _has_route(name):
    from django.urls import NoReverseMatch, reverse

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True
