"""Form fields of the back office.

``BrazilianDecimalField`` reads money and percentages as staff type them in
Brazil and shows them the same way. The rule, strict so that no number is
read in a way its author did not mean:

- the comma is the decimal separator: "29,90" is 29.90, "12,5" is 12.5;
- dots between groups of three digits separate thousands: "1.299,90" is
  1299.90, "1.299.000" is 1299000;
- with no comma, one dot followed by one, two or four or more digits is a
  decimal point ("29.90" is 29.90, as the API and spreadsheets write it);
- one dot followed by exactly three digits and no comma ("2.990") is
  refused as ambiguous: it could be two thousand nine hundred and ninety
  or 2.99 typed with a slip; "2.990,00" or "2,99" say which;
- anything else ("1,2,3", "12,345.67", "R$ 5") is refused.
"""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

DECIMAL_INVALID_MESSAGE = _(
    "Enter a number the Brazilian way, e.g. 1.299,90: dots between thousands, a comma before the cents."
)
DECIMAL_AMBIGUOUS_MESSAGE = _(
    "“%(value)s” is ambiguous: write %(thousands)s for thousands or %(decimal)s for a fraction."
)

_PLAIN = re.compile(r"-?\d+", re.ASCII)
_COMMA = re.compile(r"-?\d+,\d+", re.ASCII)
_GROUPED = re.compile(r"-?\d{1,3}(?:\.\d{3})+(?:,\d+)?", re.ASCII)
_AMBIGUOUS = re.compile(r"-?\d{1,3}\.\d{3}", re.ASCII)
_POINT = re.compile(r"-?\d+\.\d+", re.ASCII)


def parse_brazilian_decimal(text: str) -> Decimal:
    """``text`` read by the rule in this module's docstring; ValidationError
    (code "invalid" or "ambiguous") otherwise."""
    text = text.strip()
    if _AMBIGUOUS.fullmatch(text):
        whole, fraction = text.split(".")
        raise ValidationError(
            DECIMAL_AMBIGUOUS_MESSAGE,
            code="ambiguous",
            params={
                "value": text,
                "thousands": f"{text},00",
                "decimal": f"{whole},{fraction.rstrip('0') or '0'}",
            },
        )
    if _PLAIN.fullmatch(text) or _POINT.fullmatch(text):
        return Decimal(text)
    if _COMMA.fullmatch(text):
        return Decimal(text.replace(",", "."))
    if _GROUPED.fullmatch(text):
        return Decimal(text.replace(".", "").replace(",", "."))
    raise ValidationError(DECIMAL_INVALID_MESSAGE, code="invalid")


class BrazilianDecimalInput(forms.TextInput):
    """A text input (a number input would let the browser reinterpret what is
    typed in its own locale) that shows a value as "1.299,90" and asks phones
    for a keypad with a comma."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, Decimal | int):
            return formats.number_format(value, use_l10n=True, force_grouping=True)
        return super().format_value(value)  # as typed, when the form comes back with an error


class BrazilianDecimalField(forms.DecimalField):
    widget = BrazilianDecimalInput
    default_error_messages = {"invalid": DECIMAL_INVALID_MESSAGE}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, str):
            value = parse_brazilian_decimal(value)
        return super().to_python(value)
