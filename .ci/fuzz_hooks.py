"""Schemathesis hooks of .ci/fuzz: the refusals no OpenAPI schema can state.

The published schema states every pattern, bound, type and enum the API
validates, so schemathesis' "schema-valid request rejected" check (ST202)
holds everywhere but here: a request that matches the schema may still be a
400 because of the stored data (a code, CPF, e-mail or SKU already taken;
an id that names no row), the clock (a date after today), a secret (the
current password, a reset link), a check no pattern expresses (a CPF's
check digits, Django's password validators) or a rule across fields or
parameters (a value that is not the items' sum, date_from after date_to).

Each operation lists the fields such a 400 may name, and why. A 400 naming
any other field, any other status, and every other check still fail the run.
Each failure dropped is written to the file $FUZZ_DROPPED names, if any (one
JSON line: operation, fields, messages), for .ci/fuzz to sum up.
"""

import json
import os

import schemathesis

STATE = {
    "POST /api/v1/resellers/": {
        "cpf": "check digits; already registered",
        "email": "already registered",
        "password": "Django's password validators (length, common, numeric, like the name or e-mail)",
    },
    # Exactly one of e-mail and CPF: the schema could say it (oneOf), but
    # clients generated from it (openapi-python-client) lose the body's model.
    "POST /api/v1/auth/token/": {"non_field_errors": "both an e-mail and a CPF, or neither"},
    "PATCH /api/v1/resellers/me/": {
        "email": "already registered",
        "current_password": "not the account's password (changing the e-mail needs it)",
    },
    "POST /api/v1/auth/password/change/": {
        "current_password": "not the account's password",
        "new_password": "Django's password validators",
    },
    "POST /api/v1/auth/logout/": {
        "refresh": "not a token at all: a 400 (a real one, used or expired, is a 401)",
    },
    "POST /api/v1/auth/password/reset/confirm/": {
        "uid": "names no account",
        "token": "not a valid link for that account, expired or used",
        "new_password": "Django's password validators",
    },
    "POST /api/v1/purchases/": {
        "code": "already used by the reseller",
        "cpf": "check digits; no reseller has it; staff must send one",
        "date": "after today",
        "items": "a product not in the active catalogue; the same product twice; their sum over the maximum",
        "value": "not the items' sum at catalogue prices; neither value nor items",
    },
    "PUT /api/v1/purchases/{id}/": {
        "code": "already used by the reseller",
        "date": "after today",
        "items": "a product not in the active catalogue; the same product twice; their sum over the maximum",
        "value": "not the items' sum at catalogue prices",
    },
    "PATCH /api/v1/purchases/{id}/": {
        "code": "already used by the reseller",
        "date": "after today",
        "items": "a product not in the active catalogue; the same product twice; their sum over the maximum",
        "value": "not the items' sum at catalogue prices",
    },
    "POST /api/v1/products/": {"sku": "already used, in any case", "category": "names no category"},
    "PUT /api/v1/products/{id}/": {"sku": "already used, in any case", "category": "names no category"},
    "PATCH /api/v1/products/{id}/": {"sku": "already used, in any case", "category": "names no category"},
    "POST /api/v1/categories/": {
        "name": "already used",
        "slug": "already used; none can be made from the name",
    },
    "PUT /api/v1/categories/{id}/": {
        "name": "already used",
        "slug": "already used; none can be made from the name",
    },
    "PATCH /api/v1/categories/{id}/": {
        "name": "already used",
        "slug": "already used; none can be made from the name",
    },
    "GET /api/v1/purchases/": {
        "date_from": "after date_to",
        "page": "beyond the first 10,000 rows at this page size",
    },
    # The list's filters in a body, checked by the list's FilterSet.
    "POST /api/v1/purchases/exports/": {"date_from": "after date_to"},
    "GET /api/v1/products/": {"max_price": "below min_price"},
    "GET /api/v1/analytics/monthly/": {"from": "after to, or more than 120 months before it"},
}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Drop a "schema-valid request rejected" failure whose 400 names only
    fields that STATE explains for its operation."""
    if failure.code != "ST202" or response.status_code != 400:
        return True
    explained = STATE.get(case.operation.label, {})
    try:
        errors = response.json()
    except ValueError:
        return True
    if not (isinstance(errors, dict) and errors and set(errors) <= set(explained)):
        return True
    if os.environ.get("FUZZ_DROPPED"):
        with open(os.environ["FUZZ_DROPPED"], "a", encoding="utf-8") as log:
            record = {"operation": case.operation.label, "errors": errors}
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
    return False
