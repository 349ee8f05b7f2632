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
        return super().to_internal_value(data)


class StrictInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """The base of every serializer that reads a request body."""
