"""Input serializers that refuse what they would not write.

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
their strings themselves (config.parsing).
"""

from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

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
