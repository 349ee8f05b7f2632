"""Input serializers that refuse what they would not write, and output
serializers that write plain rows fast.

DRF drops unknown keys of a body silently: ``PATCH /resellers/me/`` with
``{"password": …}`` would answer 200 and change nothing. Every body
serializer of the API is strict instead: a key that names no writable field
(unknown, or read-only such as ``status`` on a purchase edit) is a 400 keyed
by that name.

A nested object (a purchase's item) is always whole: a partial update
(PATCH) leaves out the top-level fields it does not change, but an object it
sends replaces the old one, so each of its required fields must be there. DRF
would skip them under ``partial=True`` and hand the service an item without
its product.

A value is of the JSON type its field documents: DRF's fields convert
(``0`` becomes the code ``"0"``, ``"true"`` or ``1`` a boolean, ``"5"`` a
quantity), so the schema would promise a type the API does not hold to.
Text is a string, a whole number or an id a JSON integer, a boolean true or
false; each refused with the field's own message. Amounts and dates check
their strings themselves (core.parsing).
"""

import functools
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

UNKNOWN_FIELD_MESSAGE = _("This field is unknown or cannot be written here.")


class StrictFieldsMixin:
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [UNKNOWN_FIELD_MESSAGE] for name in unknown}, code="unknown_field"
                )
            if self.parent is not None:
                missing = {
                    name: [field.error_messages["required"]]
                    for name, field in self.fields.items()
                    if field.required and name not in data
                }
                if missing:
                    raise serializers.ValidationError(missing, code="required")
            wrong_type = {}
            for name, value in data.items():
                try:
                    _check_json_type(self.fields[name], value)
                except serializers.ValidationError as exc:
                    wrong_type[name] = exc.detail
            if wrong_type:
                raise serializers.ValidationError(wrong_type, code="invalid")
        return super().to_internal_value(data)


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_json_type(field, value) -> None:
    """The field's own error unless ``value`` has the JSON type the field
    documents (null is left to the field's ``allow_null``)."""
    if value is None:
        return
    if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
        field.fail("invalid")
    if isinstance(field, serializers.IntegerField) and not _is_integer(value):
        field.fail("invalid")
    if isinstance(field, serializers.RelatedField) and not _is_integer(value):
        field.fail("incorrect_type", data_type=type(value).__name__)
    if isinstance(field, serializers.CharField):
        if not isinstance(value, str):
            field.fail("invalid")
        # As sent: DRF measures the text after trimming it, the schema's
        # maxLength before.
        if field.max_length is not None and len(value) > field.max_length:
            field.fail("max_length", max_length=field.max_length, length=len(value))


# Its docstring would become every request body's description in the schema.
class StrictInputSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


# --- Output written from plain rows -------------------------------------------------


# The time zone date-times are written in while a list of rows is written:
# looked up once per list, not for each value (Django's lookup of the
# current zone is a few microseconds, a quarter of a millisecond on a page
# of 50 purchases).
_ZONE = ContextVar("row_time_zone", default=None)


class RowListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        token = _ZONE.set(timezone.get_current_timezone())
        try:
            return super().to_representation(data)
        finally:
            _ZONE.reset(token)


class RowSerializer(serializers.Serializer):
    """Read-only output of plain rows: dicts whose keys are the declared
    fields' names (a selector builds them, with related data batched).

    The declared fields are what the schema documents; each row is written
    by one writer per field, in the formats of DRF's own fields: money as
    strings with the field's places, date-times in ISO 8601 in the current
    time zone, nested rows by their own serializer. The writers are made
    once per class, from the declared fields (DRF would deep-copy every
    field for each serializer, each request). Writing a page of 100
    purchases so takes about a quarter of what DRF's field-by-field
    ``to_representation`` takes, and there is still one path from the rows
    to the answer."""

    def to_representation(self, row):
        return {name: write(row[name]) for name, write in self.row_writers()}

    class Meta:
        list_serializer_class = RowListSerializer

    @classmethod
    @functools.cache
    def row_writers(cls) -> tuple:
        # Per class (the cache's key): a subclass that declares more fields
        # gets writers of its own.
        return tuple(
            (name, _writer(field)) for name, field in cls._declared_fields.items() if not field.write_only
        )


def _writer(field):
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, RowSerializer):
        write = field.child.row_writers()
        return lambda rows: [{name: each(row[name]) for name, each in write} for row in rows]
    if isinstance(field, RowSerializer):
        write = field.row_writers()
        return _nullable(lambda row: {name: each(row[name]) for name, each in write})
    if isinstance(field, serializers.DecimalField) and getattr(
        field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING
    ):
        places = Decimal(1).scaleb(-field.decimal_places)
        return _nullable(lambda value: format(value.quantize(places, rounding=ROUND_HALF_UP), "f"))
    if isinstance(field, serializers.DateTimeField):
        return _nullable(_iso_datetime)
    if isinstance(field, serializers.DateField):
        return _nullable(date.isoformat)
    if type(field) in _AS_IS:
        return lambda value: value
    return _nullable(field.to_representation)


# Fields whose value is written as it is read (str, int, bool or None).
_AS_IS = (
    serializers.IntegerField,
    serializers.CharField,
    serializers.EmailField,
    serializers.BooleanField,
)


def _nullable(write):
    return lambda value: None if value is None else write(value)


def _iso_datetime(value) -> str:
    # As DRF's DateTimeField: ISO 8601 in the current time zone, "Z" for UTC.
    if timezone.is_naive(value):
        raise ValueError("localtime() cannot be applied to a naive datetime")
    text = value.astimezone(_ZONE.get() or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
