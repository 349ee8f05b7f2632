"""OpenAPI: every error answer of every operation, documented once.

Views declare what is particular to them (their 2xx bodies, a 409 with its
reason); this schema class adds, from what the view really does, each error
status it can answer and gives every error a body schema:

* ``ValidationError`` (400): errors keyed by field name, ``non_field_errors``
  for the whole body; a body that is not JSON at all is ``{detail, code}``.
* ``Error`` (any other status): ``{"detail": message, "code": stable code}``
  (core.exceptions writes both).

Which statuses apply: 400 when the operation takes a body or query
parameters; 401 when the view authenticates; 403 when a permission narrower
than "authenticated" guards it (its description says which Django
permissions staff need, when the permission class can say:
``describe(view, method)``); 404 for routes with a path id and paginated
lists (an invalid page); 413 and 415 (not JSON, or not UTF-8) with a body;
429 when the view is throttled; 503 always (the database, and for login and
registration the throttle store).
"""

import sys

import django_filters
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from drf_spectacular import openapi
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.drainage import get_override
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers

from core import parsing
from core.parsing import MAX_ID
from core.serializers import StrictFieldsMixin

ERROR_SCHEMA = {
    "type": "object",
    "description": _("Every error other than a validation error."),
    "properties": {
        "detail": {"type": "string", "description": _("Human-readable message, in the request's language.")},
        "code": {
            "type": "string",
            "description": _("Stable machine-readable code, e.g. `not_found`, `conflict`, `throttled`."),
        },
    },
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": _(
        "Errors keyed by field name (a list of messages, or nested objects for nested fields and "
        "list items); `non_field_errors` for errors of the whole body. A body that is not valid "
        "JSON answers `{detail, code}` instead (code `parse_error`)."
    ),
    # No "detail"/"code" properties: a field may bear either name (a purchase
    # has a "code"), and its errors are a list like any other field's.
    "properties": {"non_field_errors": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": {},
}

DESCRIPTIONS = {
    "400": _("Invalid input"),
    "401": _("Not authenticated, or the token is invalid or expired"),
    "403": _("Not allowed for this account"),
    "404": _("Not found (another reseller's objects included), or no such page"),
    "409": _("Conflicts with the current state"),
    "410": _("Gone: the link has expired or its file was removed"),
    "413": _("Request body too large (over 1 MiB)"),
    "415": _(
        "Request body is not JSON, or declares a charset other than UTF-8 (send `charset=utf-8` or none)"
    ),
    "429": _("Too many requests; `Retry-After` says when to try again"),
    "503": _("A service this answer depends on is unavailable; try again shortly"),
}

# drf-spectacular describes an answer without a body in its own words and
# ships no Brazilian Portuguese catalogue: the project's translates them
# (this line marks them for makemessages).
gettext_noop("No response body")

_BROAD_PERMISSIONS = (permissions.AllowAny, permissions.IsAuthenticated)


def _blank_characters() -> str:
    """A regex class body of what ``str.strip()`` removes (DRF trims text
    with it): Unicode White_Space and the four information separators."""
    codes = [code for code in range(sys.maxunicode + 1) if chr(code).isspace()]
    runs, start = [], codes[0]
    for previous, code in zip(codes, [*codes[1:], None], strict=True):
        if code != previous + 1:
            runs.append(rf"\u{start:04x}" if start == previous else rf"\u{start:04x}-\u{previous:04x}")
            start = code
    return "".join(runs)


# What a DRF text field takes, stated as patterns: never a NUL
# (ProhibitNullCharactersValidator), and, unless blank is allowed, something
# besides blanks (the field trims them and then finds it blank).
NO_NUL_PATTERN = r"^[^\u0000]*$"
TEXT_PATTERN = rf"^[^\u0000]*[^\u0000{_blank_characters()}][^\u0000]*$"


class AutoSchema(openapi.AutoSchema):
    """Besides the error answers: the schema's texts are only those written
    for it, in gettext (the request's language), never a docstring (those
    are for the code's readers, in English): an operation's description is
    its ``extend_schema(description=...)``, a serializer component's is its
    ``extend_schema_serializer(description=...)``, and a path parameter with
    none of its own takes the view's ``path_parameter_description``."""

    def get_description(self) -> str:
        return ""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and not parameter.get("description"):
                description = getattr(self.view, "path_parameter_description", None)
                if description:
                    parameter["description"] = description
            if parameter["in"] == "query" and not parameter.get("required"):
                # Every optional query parameter of the API (filters,
                # serializers, pagination, ordering) reads "" as absent.
                parameter["allowEmptyValue"] = True
        responses = operation.setdefault("responses", {})
        for code in sorted(self._error_statuses(operation)):
            response = responses.setdefault(code, {"description": DESCRIPTIONS[code]})
            if not response.get("description"):
                response["description"] = DESCRIPTIONS[code]
            if "content" not in response:
                response["content"] = {"application/json": {"schema": self._error_component(code)}}
        if "403" in responses:
            needs = self._permission_descriptions()
            if needs:
                said = responses["403"]["description"].rstrip(".")
                responses["403"]["description"] = " ".join([f"{said}.", *needs])
        return operation

    def _permission_descriptions(self) -> list[str]:
        descriptions = []
        for permission in self.view.get_permissions():
            describe = getattr(permission, "describe", None)
            if describe is not None and (text := describe(self.view, self.method)):
                descriptions.append(text)
        return descriptions

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if get_override(serializer, "description") is None:
            schema.pop("description", None)
        if direction == "request":
            for name, field in serializer.fields.items():
                if isinstance(field, serializers.CharField) and name in schema["properties"]:
                    _add_text_pattern(field, schema["properties"][name])
        return schema

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictFieldsMixin):
            # core.serializers: any other key is a 400 naming it.
            schema["additionalProperties"] = False
        return schema

    def _error_statuses(self, operation) -> set[str]:
        declared = {code for code in operation["responses"] if code.startswith(("4", "5"))}
        statuses = declared | {"503"}
        has_body = "requestBody" in operation
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if has_body or has_query:
            statuses.add("400")
        if self.method in ("POST", "PUT", "PATCH"):
            statuses.add("413")
        if has_body:
            statuses.add("415")
        if self.view.get_authenticators():
            statuses.add("401")
        if any(not isinstance(p, _BROAD_PERMISSIONS) for p in self.view.get_permissions()):
            statuses.add("403")
        if "{" in self.path or (self.method == "GET" and self._is_paginated_list()):
            statuses.add("404")
        if self.view.get_throttles():
            statuses.add("429")
        return statuses

    def _is_paginated_list(self) -> bool:
        return self._is_list_view() and self._get_paginator() is not None

    def _error_component(self, code: str) -> dict:
        if code == "400":
            name, schema = "ValidationError", VALIDATION_ERROR_SCHEMA
        else:
            name, schema = "Error", ERROR_SCHEMA
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component.ref


def add_links(result, generator, request, public):
    """drf-spectacular postprocessing hook: OpenAPI links from each create
    operation's 201 answer to the operations on the created object
    (``{id}`` from the answer's ``id``), so clients and the fuzzer's stateful
    phase can follow them; each described by its target's summary."""
    paths = result.get("paths", {})
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if "{" in path or created is None:
            continue
        links = {}
        for other_path, other_operations in paths.items():
            if not other_path.startswith(f"{path}{{id}}/"):
                continue
            for operation in other_operations.values():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {"id": "$response.body#/id"},
                    "description": operation.get("summary", ""),
                }
        if links:
            created["links"] = links
    return result


def close_one_of_members(result, generator, request, public):
    """A ``oneOf`` without a discriminator (an answer whose shape depends on
    who asks, e.g. a purchase as its owner or as staff sees it) must match
    exactly one member: each member object is closed to properties it does
    not declare, so the larger shape does not also match the smaller one."""
    schemas = result.get("components", {}).get("schemas", {})

    def visit(node):
        if isinstance(node, dict):
            if "oneOf" in node and "discriminator" not in node:
                for member in node["oneOf"]:
                    name = member.get("$ref", "").rpartition("/")[2]
                    if schemas.get(name, {}).get("type") == "object":
                        schemas[name]["additionalProperties"] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result


def _add_text_pattern(field, schema) -> None:
    # A text field without a pattern or format of its own (allow_blank puts
    # it first in a oneOf, beside the empty string).
    schema = schema["oneOf"][0] if "oneOf" in schema else schema
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
        nonblank = field.trim_whitespace and not field.allow_blank
        schema["pattern"] = TEXT_PATTERN if nonblank else NO_NUL_PATTERN


class AmountFieldExtension(OpenApiSerializerFieldExtension):
    """An amount (core.parsing.AmountField): a string of the pattern its
    validation uses, bounds included."""

    target_class = "core.parsing.AmountField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "decimal", "pattern": self.target.pattern}


class IdFieldExtension(OpenApiSerializerFieldExtension):
    """A related row's id (core.parsing.PrimaryKeyRelatedField): a JSON
    integer from 1 to the largest 64-bit id."""

    target_class = "core.parsing.PrimaryKeyRelatedField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}


class FilterExtension(DjangoFilterExtension):
    """django-filter's parameters as core.parsing and django-filter
    validate them: ids are integers from 1, amounts plain decimals (a string:
    no exponent), text bounded and without NUL."""

    target_class = "core.filters.FilterBackend"
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        for parameter in parameters:
            parameter["schema"] = _filter_schema(filter_field, parameter["schema"])
            # A filter whose schema is declared (extend_schema_field) loses
            # its label on the way: the label is its description. (``_label``
            # is the label as written; ``label`` would make one up, in
            # English, from the lookup.)
            if not parameter.get("description") and filter_field._label:
                parameter["description"] = filter_field._label
        return parameters


def _filter_schema(filter_field, schema: dict) -> dict:
    extra = filter_field.extra
    if isinstance(filter_field, parsing.IdFilter):
        return {
            "type": "integer",
            "format": "int64",
            "minimum": extra["min_value"],
            "maximum": extra["max_value"],
        }
    if isinstance(filter_field, parsing.NumberFilter):
        return {"type": "string", "pattern": parsing.DECIMAL_PATTERN}
    if isinstance(filter_field, django_filters.CharFilter):
        schema = {**schema, "pattern": NO_NUL_PATTERN}
        if extra.get("max_length") is not None:
            schema["maxLength"] = extra["max_length"]
    return schema
