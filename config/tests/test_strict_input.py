"""Every route that reads a body refuses a key it would not write, with a 400
naming it, and writes nothing."""

import pytest
from django.utils import timezone, translation
from rest_framework import serializers
from rest_framework.settings import api_settings

from accounts.models import User
from accounts.serializers import tokens_for
from accounts.tests.factories import PASSWORD as RESELLER_PASSWORD
from conftest import authenticated_client
from core.serializers import UNKNOWN_FIELD_MESSAGE, StrictInputSerializer
from products.models import Category, Product
from products.tests.factories import CategoryFactory, ProductFactory
from purchases.models import Purchase
from resellers.models import Reseller
from resellers.tests.factories import make_cpf

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        User.objects.count(),
        Reseller.objects.count(),
        list(Purchase.objects.values_list("id", "code", "value", "status")),
        list(Product.objects.values_list("id", "sku", "name", "price", "is_active")),
        list(Category.objects.values_list("id", "name")),
    )


@pytest.fixture
def world(reseller, staff_user, make_purchase):
    return {
        "purchase": make_purchase(reseller),
        "product": ProductFactory(),
        "category": CategoryFactory(),
        "refresh": tokens_for(reseller.user)["refresh"],
    }


def routes(world, reseller):
    today = timezone.localdate().isoformat()
    purchase, product, category = world["purchase"], world["product"], world["category"]
    return [
        # (who, method, path, a body valid but for the unknown key)
        (
            None,
            "post",
            "/api/v1/resellers/",
            {
                "full_name": "Ana",
                "cpf": make_cpf(77),
                "email": "ana@example.com",
                "password": "s3nha-Forte-2024",
            },
        ),
        (None, "post", "/api/v1/auth/token/", {"email": reseller.user.email, "password": RESELLER_PASSWORD}),
        (None, "post", "/api/v1/auth/token/refresh/", {"refresh": world["refresh"]}),
        ("reseller", "post", "/api/v1/auth/logout/", {"refresh": world["refresh"]}),
        ("reseller", "patch", "/api/v1/resellers/me/", {"full_name": "Outro Nome"}),
        ("reseller", "post", "/api/v1/purchases/", {"code": "NEW", "value": "10.00", "date": today}),
        (
            "reseller",
            "put",
            f"/api/v1/purchases/{purchase.pk}/",
            {"code": "NEW", "value": "10.00", "date": today},
        ),
        ("reseller", "patch", f"/api/v1/purchases/{purchase.pk}/", {"value": "10.00"}),
        ("staff", "post", f"/api/v1/purchases/{purchase.pk}/reject/", {"reason": "Nota ilegível."}),
        (
            "staff",
            "post",
            "/api/v1/purchases/exports/",
            {
                "status": "validating",
                "month": "2026-03",
                "date_from": "2026-03-01",
                "date_to": "2026-03-31",
                "reseller": 1,
                "search": "NF",
                "ordering": "-value",
                "dialect": "pt-BR",
            },
        ),
        (
            "staff",
            "post",
            "/api/v1/products/",
            {"sku": "NEW-1", "name": "Novo", "category": category.pk, "price": "9.90"},
        ),
        (
            "staff",
            "put",
            f"/api/v1/products/{product.pk}/",
            {"sku": "NEW-1", "name": "Novo", "category": category.pk, "price": "9.90"},
        ),
        ("staff", "patch", f"/api/v1/products/{product.pk}/", {"price": "9.90"}),
        ("staff", "post", "/api/v1/categories/", {"name": "Nova"}),
        ("staff", "put", f"/api/v1/categories/{category.pk}/", {"name": "Nova"}),
        ("staff", "patch", f"/api/v1/categories/{category.pk}/", {"name": "Nova"}),
    ]


@pytest.mark.parametrize("index", range(16))
@pytest.mark.parametrize("extra", [{"unexpected": 1}, {"id": 999}])
def test_every_write_route_refuses_a_field_it_would_not_write(
    index, extra, world, reseller, staff_user, reseller_client, staff_client, api_client
):
    who, method, path, body = routes(world, reseller)[index]
    client = {"reseller": reseller_client, "staff": staff_client, None: api_client}[who]
    before = snapshot()
    response = getattr(client, method)(path, {**body, **extra}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400, (path, response.content)
    name = next(iter(extra))
    assert response.json() == {name: [str(UNKNOWN_FIELD_MESSAGE)]}
    assert snapshot() == before
    # The same body without the extra key is accepted (it was valid).
    assert getattr(client, method)(path, body, format="json").status_code < 300


def test_an_unknown_key_inside_an_item_is_named_there(reseller_client, reseller):
    product = ProductFactory()
    response = reseller_client.post(
        "/api/v1/purchases/",
        {
            "code": "I-1",
            "date": timezone.localdate().isoformat(),
            "items": [{"product": product.pk, "quantity": 1, "unit_price": "0.01"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"items": {"0": {"unit_price": [str(UNKNOWN_FIELD_MESSAGE)]}}}
    assert not Purchase.objects.filter(code="I-1").exists()


def test_the_message_is_in_portuguese_by_default(reseller_client):
    response = reseller_client.patch("/api/v1/resellers/me/", {"password": "x"}, format="json")
    assert response.json() == {"password": ["Este campo é desconhecido ou não pode ser alterado aqui."]}


def test_staff_without_a_profile_is_told_about_the_cpf_not_an_unknown_field(staff_user):
    client = authenticated_client(staff_user)
    response = client.post(
        "/api/v1/purchases/", {"code": "S-1", "value": "1.00", "date": timezone.localdate().isoformat()}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["cpf"]


class _Line(StrictInputSerializer):
    sku = serializers.CharField()
    note = serializers.CharField(required=False)


class _Order(StrictInputSerializer):
    name = serializers.CharField()
    first = _Line()
    lines = _Line(many=True)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"first": {"note": "x"}}, {"first": {"sku": ["This field is required."]}}),
        ({"lines": [{"sku": "A"}, {"note": "x"}]}, {"lines": {1: {"sku": ["This field is required."]}}}),
    ],
)
def test_a_partial_update_never_makes_a_nested_object_partial(data, errors):
    serializer = _Order(data=data, partial=True)
    with translation.override("en"):
        assert not serializer.is_valid()
    assert serializer.errors == errors


def test_a_partial_update_leaves_out_top_level_fields_and_keeps_whole_nested_ones():
    serializer = _Order(data={"lines": [{"sku": "A"}]}, partial=True)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"lines": [{"sku": "A"}]}


def _wrong_types(value):
    # JSON values of another type than ``value``'s, the ones DRF's fields
    # would quietly convert ("1" for 1, 1 for "1" or true, "true" for true).
    if isinstance(value, bool):
        return [1, 0, "true", None]
    if isinstance(value, int):
        return [str(value), 1.5, True]
    return [0, 10, 1.5, True, [value], {"value": value}]


def _typed_routes(world, reseller):
    # Every route of ``routes`` with a whole body, and the fields they lack:
    # items (ids and quantities) and a product's is_active.
    product, purchase = world["product"], world["purchase"]
    item = {"product": product.pk, "quantity": 1}
    return [
        *routes(world, reseller),
        ("reseller", "patch", f"/api/v1/purchases/{purchase.pk}/", {"items": [item]}),
        ("staff", "patch", f"/api/v1/products/{product.pk}/", {"is_active": False}),
    ]


@pytest.mark.parametrize("index", range(18))
def test_every_body_field_takes_only_its_json_type(
    index, world, reseller, staff_user, reseller_client, staff_client, api_client, monkeypatch
):
    # A few dozen requests from one address and account.
    for scope in list(api_settings.DEFAULT_THROTTLE_RATES):
        monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, scope, "100000/min")
    who, method, path, body = _typed_routes(world, reseller)[index]
    client = {"reseller": reseller_client, "staff": staff_client, None: api_client}[who]
    before = snapshot()
    for name, value in body.items():
        if name == "items":
            cases = [
                ({**value[0], key: wrong}, key)
                for key in ("product", "quantity")
                for wrong in _wrong_types(value[0][key])
                if wrong is not None
            ]
            for wrong_item, key in cases:
                response = getattr(client, method)(path, {**body, name: [wrong_item]}, format="json")
                assert response.status_code == 400, (path, wrong_item, response.content)
                assert list(response.json()[name]["0"]) == [key], (path, wrong_item, response.content)
            continue
        for wrong in _wrong_types(value):
            response = getattr(client, method)(path, {**body, name: wrong}, format="json")
            assert response.status_code == 400, (path, name, wrong, response.content)
            assert list(response.json()) == [name], (path, name, wrong, response.content)
    assert snapshot() == before


def test_the_schema_says_a_body_takes_no_other_key():
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    bodies = {name: schema for name, schema in components.items() if name.endswith("Request")}
    assert len(bodies) >= 15
    assert {
        name for name, schema in bodies.items() if schema.get("additionalProperties") is not False
    } == set()
