"""The schema says what the validation enforces: for each field with a
pattern, length or bound, a value the published schema refuses is refused
by the API, and a value it accepts is accepted (but for what no schema can
state: check digits, dates after today).

The schema is read as schemathesis and generated clients read it (JSON
Schema with ECMA-262 patterns, through jsonschema-rs); values come from
Hypothesis, from the patterns themselves and from text around them."""

import datetime
from types import SimpleNamespace

import jsonschema_rs
import pytest
from django.http import QueryDict
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TODAY
from products.serializers import CategoryInputSerializer, ProductInputSerializer
from purchases.serializers import MonthQueryInputSerializer, PurchaseCreateInputSerializer
from resellers import cpf as cpf_codec
from resellers.serializers import ResellerUpdateInputSerializer

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)

# Characters near every rule: digits, separators, blanks, NUL, a non-ASCII
# digit, a letter that upper-cases into ASCII, a newline after a value.
NEAR = "09aZ_-.:/ \t\n\x00\x1c\u00a0\u0661\u017f"


def _field(component: str, name: str) -> dict:
    return SCHEMA["components"]["schemas"][component]["properties"][name]


def _query(path: str, name: str) -> dict:
    (operation,) = SCHEMA["paths"][path].values()
    return next(p["schema"] for p in operation["parameters"] if p["name"] == name)


def _values(schema: dict):
    pattern = (schema.get("oneOf") or [schema])[0].get("pattern")
    near = st.text(alphabet=NEAR, max_size=20)
    if pattern is None:
        return near
    # From the pattern (maybe long), then edited: a character before or after.
    drawn = st.from_regex(pattern, fullmatch=True).filter(lambda text: len(text) < 300)
    edited = st.tuples(drawn, st.sampled_from(["", " ", "\n", "0", "-", "\x00"]), st.booleans()).map(
        lambda parts: parts[1] + parts[0] if parts[2] else parts[0] + parts[1]
    )
    return st.one_of(drawn, edited, near)


def _refused(serializer_class, name: str, value, *, query: bool = False) -> bool:
    data = QueryDict(mutable=True) if query else {}
    data[name] = value
    # Serializers that check the caller (the profile's current password) read
    # a request: one whose user has no password.
    caller = SimpleNamespace(user=SimpleNamespace(email="", check_password=lambda password: False))
    serializer = serializer_class(data=data, partial=not query, context={"request": caller})
    serializer.is_valid()
    return name in serializer.errors


def _future(value: str) -> bool:
    try:
        return datetime.date.fromisoformat(value) > TODAY
    except ValueError:
        return False


NAME = _field("PatchedResellerUpdateInputRequest", "full_name")
CASES = [
    # (serializer, field, its schema, what no schema states: also refused)
    (PurchaseCreateInputSerializer, "code", _field("PurchaseCreateInputRequest", "code"), None),
    (PurchaseCreateInputSerializer, "value", _field("PurchaseCreateInputRequest", "value"), None),
    (PurchaseCreateInputSerializer, "date", _field("PurchaseCreateInputRequest", "date"), _future),
    (
        PurchaseCreateInputSerializer,
        "cpf",
        _field("PurchaseCreateInputRequest", "cpf"),
        lambda value: not cpf_codec.is_valid_digits(value.replace(".", "").replace("-", "")),
    ),
    (ProductInputSerializer, "sku", _field("ProductInputRequest", "sku"), None),
    (ProductInputSerializer, "price", _field("ProductInputRequest", "price"), None),
    (ProductInputSerializer, "name", _field("ProductInputRequest", "name"), None),
    (CategoryInputSerializer, "slug", _field("CategoryInputRequest", "slug"), None),
    (
        ResellerUpdateInputSerializer,
        "full_name",
        _field("PatchedResellerUpdateInputRequest", "full_name"),
        None,
    ),
]


@pytest.mark.usefixtures("frozen_today")
@pytest.mark.parametrize(("serializer_class", "name", "schema", "unstated"), CASES, ids=[c[1] for c in CASES])
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_body_field_refuses_exactly_what_its_schema_refuses(serializer_class, name, schema, unstated, data):
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    value = data.draw(_values(schema))
    expected = not validator.is_valid(value) or (unstated is not None and unstated(value))
    assert _refused(serializer_class, name, value) == expected, repr(value)


@pytest.mark.parametrize("path", ["/api/v1/resellers/me/summary/", "/api/v1/analytics/summary/"])
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_month_parameter_refuses_exactly_what_its_schema_refuses(path, data):
    schema = _query(path, "month")
    value = data.draw(_values(schema).filter(bool))  # empty: as if absent
    expected = not jsonschema_rs.validator_for(schema).is_valid(value)
    assert _refused(MonthQueryInputSerializer, "month", value, query=True) == expected, repr(value)
