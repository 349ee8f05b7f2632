"""Strict parsing of numbers, dates and ids, shared by every input.

Python is generous with digits: ``int("\\u0661\\u0660")`` (Arabic-Indic 10),
``Decimal("\\uff11\\uff10")`` (fullwidth 10), ``\\d`` and
``str.isdigit()`` accept any Unicode decimal digit (Arabic-Indic, fullwidth,
Devanagari…), and ``int(1.5)`` quietly drops a fraction. Every value that a
client writes as a number, a date, a month or an id is therefore matched
against the ASCII patterns below first; only ``0-9`` are digits anywhere,
and nothing (not even a blank) may surround them: the schema's patterns
and formats say so.

The module holds the patterns, the DRF serializer fields, the Django form
fields (django-filter, admin) and the route pattern for ids: one place to
read, used by every route.
"""

import re
from decimal import Decimal

import django_filters
import django_filters.fields
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

# The largest id any backend stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1

# For routers (``lookup_value_regex``) and ``re_path``: "\d" would match any
# Unicode digit and hand "٩٦" to the database as 96.
ID_PATTERN = r"[0-9]+"

_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
# Plain decimal notation: no exponent (1e999999999 would reach the database),
# no more integer digits than any amount here has.
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]{1,15}(?:\.[0-9]*)?|\.[0-9]+)$"
_DECIMAL = re.compile(DECIMAL_PATTERN)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

INVALID_DATE_MESSAGE = _("Enter a date as YYYY-MM-DD.")
INVALID_BOOLEAN_MESSAGE = _("Enter true or false.")
INVALID_AMOUNT_MESSAGE = _(
    'Enter an amount from 0.01 to {maximum} as a string with at most 2 decimals, e.g. "150.00".'
)


def is_ascii_integer(value: object) -> bool:
    return isinstance(value, str) and _INTEGER.fullmatch(value) is not None


def is_ascii_decimal(value: object) -> bool:
    return isinstance(value, str) and _DECIMAL.fullmatch(value) is not None


def is_ascii_date(value: object) -> bool:
    return isinstance(value, str) and _DATE.fullmatch(value) is not None


def parse_id(value: object) -> int | None:
    """A positive 64-bit id from a JSON integer or an ASCII-digit string;
    None for anything else (floats like 1.5 or 1e309, booleans, Unicode digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and is_ascii_integer(value):
        value = int(value)
    if isinstance(value, int) and 1 <= value <= MAX_ID:
        return value
    return None


# --- DRF serializer fields ------------------------------------------------------


def _number_text(value: object) -> str | None:
    """The text of a JSON number or string, or None for other types."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return value
    return None


class IntegerField(serializers.IntegerField):
    """A JSON integer or a string of ASCII digits (never 1.5, 1e309 or Arabic-Indic digits)."""

    def to_internal_value(self, data):
        is_int = isinstance(data, int) and not isinstance(data, bool)
        if not (is_int or is_ascii_integer(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


DECIMAL_COMMA_MESSAGE = _('Use a point as the decimal separator and no thousands separator, e.g. "150.50".')


class DecimalField(serializers.DecimalField):
    """An amount in plain ASCII decimal notation ("150.00" or 150.0)."""

    default_error_messages = {"decimal_comma": DECIMAL_COMMA_MESSAGE}

    def to_internal_value(self, data):
        text = _number_text(data)
        if isinstance(data, str) and "," in data:
            # The Brazilian way ("150,50", "1.299,90"): say what is expected.
            self.fail("decimal_comma")
        if text is None or not is_ascii_decimal(text):
            self.fail("invalid")
        return super().to_internal_value(text)


def amount_pattern(maximum: Decimal) -> str:
    """The regular expression (the same in Python and in JSON Schema) of an
    amount from 0.01 to ``maximum`` written plainly: ASCII digits, no sign,
    no leading zero, at most 2 decimals. ``maximum`` is a power of ten
    (1000000.00, itself included) or a cent below one (9999999999.99)."""
    digits = len(str(int(maximum)))
    if maximum == 10 ** (digits - 1):
        below, top = digits - 1, rf"|10{{{digits - 1}}}(?:\.00?)?"
    elif maximum == 10**digits - Decimal("0.01"):
        below, top = digits, ""
    else:
        raise ValueError(f"not a power of ten nor a cent below one: {maximum}")
    cents = r"0\.(?:0[1-9]|[1-9][0-9]?)"
    return rf"^(?:{cents}|[1-9][0-9]{{0,{below - 1}}}(?:\.[0-9]{{1,2}})?{top})$"


class AmountField(DecimalField):
    """An amount in reais, from 0.01 to ``maximum``: a JSON string matching
    ``amount_pattern`` (the schema publishes the pattern). A JSON number is
    refused: most clients hold it as a binary float, where 0.1 + 0.2 is not
    0.3."""

    default_error_messages = {
        "invalid_amount": INVALID_AMOUNT_MESSAGE,
        "decimal_comma": DECIMAL_COMMA_MESSAGE,
    }

    def __init__(self, *, maximum: Decimal, **kwargs):
        self.pattern = amount_pattern(maximum)
        self._regex = re.compile(self.pattern)
        super().__init__(
            max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=maximum, **kwargs
        )

    def to_internal_value(self, data):
        if isinstance(data, str) and "," in data:
            # The Brazilian way ("150,50", "1.299,90"): say what is expected.
            self.fail("decimal_comma")
        if not isinstance(data, str) or not self._regex.fullmatch(data):
            self.fail("invalid_amount", maximum=self.max_value)
        return super().to_internal_value(data)


class DateField(serializers.DateField):
    """An ISO date, YYYY-MM-DD in ASCII digits."""

    def to_internal_value(self, value):
        if not is_ascii_date(value):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related row by id: a JSON integer or ASCII-digit string in the 64-bit
    range; a float (1.5 would become 1), a boolean or an overflowing number is
    refused before any query."""

    def to_internal_value(self, data):
        pk = parse_id(data)
        if pk is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(pk)


# --- Django form fields (django-filter query parameters, admin) -----------------


class IntegerFormField(forms.IntegerField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not is_ascii_integer(str(value)):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DecimalFormField(forms.DecimalField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not is_ascii_decimal(str(value)):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DateFormField(forms.DateField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, str) and not is_ascii_date(value):
            raise ValidationError(INVALID_DATE_MESSAGE, code="invalid")
        return super().to_python(value)


class BooleanFormField(forms.Field):
    """true or false (1 or 0), in any case; anything else is an error (Django's
    NullBooleanField would read it as "no filter")."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValidationError(INVALID_BOOLEAN_MESSAGE, code="invalid")


# --- django-filter filters ------------------------------------------------------


class NumberFilter(django_filters.NumberFilter):
    field_class = DecimalFormField


class IdFilter(django_filters.NumberFilter):
    """A row by its id, without a query to check it exists: an id that names
    no row matches nothing."""

    field_class = IntegerFormField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class BooleanFilter(django_filters.BooleanFilter):
    field_class = BooleanFormField


class DateFilter(django_filters.DateFilter):
    field_class = DateFormField
