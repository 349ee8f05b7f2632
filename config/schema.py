"""OpenAPI: every error answer of every operation, documented once.

Views declare what is particular to them (their 2xx bodies, a 409 with its
reason); this schema class adds, from what the view really does, each error
status it can answer and gives every error a body schema:

* ``ValidationError`` (400): errors keyed by field name, ``non_field_errors``
  for the whole body; a body that is not JSON at all is ``{detail, code}``.
* ``Error`` (any other status): ``{"detail": message, "code": stable code}``
  (config.exceptions writes both).

Which statuses apply: 400 when the operation takes a body or query
parameters; 401 when the view authenticates; 403 when a permission narrower
than "authenticated" guards it; 404 for routes with a path id and paginated
lists (an invalid page); 413 and 415 with a body; 429 when the view is
throttled; 503 always (the database, and for login and registration the
throttle store).
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions

from config.serializers import StrictFieldsMixin

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error other than a validation error.",
    "properties": {
        "detail": {"type": "string", "description": "Human-readable message, in the request's language."},
        "code": {
            "type": "string",
            "description": "Stable machine-readable code, e.g. `not_found`, `conflict`, `throttled`.",
        },
    },
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
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
    "400": "Invalid input",
    "401": "Not authenticated, or the token is invalid or expired",
    "403": "Not allowed for this account",
    "404": "Not found (another reseller's objects included), or no such page",
    "409": "Conflicts with the current state",
    "413": "Request body too large (over 1 MiB)",
    "415": "Request body is not JSON",
    "429": "Too many requests; `Retry-After` says when to try again",
    "503": "A service this answer depends on is unavailable; try again shortly",
}

_BROAD_PERMISSIONS = (permissions.AllowAny, permissions.IsAuthenticated)


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in sorted(self._error_statuses(operation)):
            response = responses.setdefault(code, {"description": DESCRIPTIONS[code]})
            if not response.get("description"):
                response["description"] = DESCRIPTIONS[code]
            if "content" not in response:
                response["content"] = {"application/json": {"schema": self._error_component(code)}}
        return operation

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictFieldsMixin):
            # config.serializers: any other key is a 400 naming it.
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
    phase can follow them."""
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
                }
        if links:
            created["links"] = links
    return result


class AmountFieldExtension(OpenApiSerializerFieldExtension):
    """An amount (config.parsing.AmountField): a string of the pattern its
    validation uses, bounds included."""

    target_class = "config.parsing.AmountField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "decimal", "pattern": self.target.pattern}
