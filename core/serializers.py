"""Input serializers that refuse what they would not write.

DRF drops unknown keys of a body silently: ``PATCH /resellers/me/`` with
``{"password": …}`` would answer 200 and change nothing. Every body
serializer of the API is strict instead: a key that names no writable field
(unknown, or read-only such as ``status`` on a purchase edit) is a 400 keyed
by that name.
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
        return super().to_internal_value(data)


class StrictInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """The base of every serializer that reads a request body."""
