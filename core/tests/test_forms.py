from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from core.forms import BrazilianDecimalField, BrazilianDecimalInput, parse_brazilian_decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("29,90", "29.90"),
        ("1.299,90", "1299.90"),
        ("1.299", None),  # ambiguous: refused below
        ("1.299.000", "1299000"),
        ("1.299.000,5", "1299000.5"),
        ("12,5", "12.5"),
        ("1299", "1299"),
        (" 29,90 ", "29.90"),
        ("29.90", "29.90"),  # one dot, not three digits after it: a decimal point
        ("29.9", "29.9"),
        ("1.0000", "1.0000"),  # a decimal point; the field's places refuse it later
        ("-1,5", "-1.5"),
    ],
)
def test_brazilian_decimals_are_read_strictly(text, expected):
    if expected is None:
        with pytest.raises(ValidationError) as caught:
            parse_brazilian_decimal(text)
        assert caught.value.code == "ambiguous"
    else:
        assert parse_brazilian_decimal(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["1,2,3", "12,345.67", "1.2,3", "1.29,90", "R$ 5", "29,", ",5", "1..2", "1 299,90", "١٢", "nan"]
)
def test_malformed_decimals_are_refused(text):
    with pytest.raises(ValidationError) as caught:
        parse_brazilian_decimal(text)
    assert caught.value.code == "invalid"


def test_the_ambiguous_message_says_both_readings_in_portuguese():
    field = BrazilianDecimalField(max_digits=12, decimal_places=2)
    with translation.override("pt-br"), pytest.raises(ValidationError) as caught:
        field.clean("2.990")
    message = str(caught.value.messages[0])
    assert "ambíguo" in message
    assert "2.990,00" in message
    assert "2,99" in message


def test_field_refuses_with_a_portuguese_hint_and_checks_places():
    field = BrazilianDecimalField(max_digits=12, decimal_places=2)
    with translation.override("pt-br"):
        with pytest.raises(ValidationError) as caught:
            field.clean("1,2,3")
        assert "1.299,90" in caught.value.messages[0]
        with pytest.raises(ValidationError):
            field.clean("1,999")  # three places
    assert field.clean("1.299,90") == Decimal("1299.90")


def test_the_input_shows_values_the_brazilian_way():
    widget = BrazilianDecimalInput()
    with translation.override("pt-br"):
        assert widget.format_value(Decimal("1299.90")) == "1.299,90"
        assert widget.format_value(Decimal("29.90")) == "29,90"
        assert widget.format_value("29,9x") == "29,9x"  # as typed, on an error
    assert 'inputmode="decimal"' in widget.render("price", Decimal("1.00"))
