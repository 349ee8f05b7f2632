"""Every answer documented: each operation lists the error statuses it can
return, each with a body schema; the bodies really have that shape; and a
client generated from the schema parses them."""

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from conftest import authenticated_client
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/Error"
VALIDATION_REF = "#/components/schemas/ValidationError"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_response_has_a_body_schema(schema):
    for name, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == (VALIDATION_REF if status == "400" else ERROR_REF), (name, status)


def test_every_operation_lists_the_statuses_it_can_return(schema):
    for name, operation in _operations(schema):
        statuses = set(operation["responses"])
        assert {"429", "503"} <= statuses, name
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= statuses, name
        if "{" in name:
            assert "404" in statuses, name
        public = name in (
            "POST /api/v1/resellers/",
            "POST /api/v1/auth/password/reset/",
            "POST /api/v1/auth/password/reset/confirm/",
        )
        if not public:
            assert "401" in statuses, name


def test_every_body_route_documents_that_bodies_are_utf8(schema):
    for name, operation in _operations(schema):
        if "requestBody" in operation:
            assert "UTF-8" in operation["responses"]["415"]["description"], name


def test_error_components_are_shared_once(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail", "code"]
    assert "additionalProperties" in components["ValidationError"]
    assert "OpenApiResponse" not in json.dumps(schema)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"method": "get", "path": "/api/v1/purchases/999999/"}, 404, "not_found"),
        ({"method": "get", "path": "/api/v1/no-such-route/"}, 404, "not_found"),
        ({"method": "delete", "path": "/api/v1/auth/me/"}, 405, "method_not_allowed"),
        ({"method": "get", "path": "/api/v1/analytics/summary/"}, 403, "permission_denied"),
        (
            {"method": "post", "path": "/api/v1/purchases/", "data": "x", "content_type": "text/plain"},
            415,
            None,
        ),
        ({"method": "get", "path": "/api/v1/auth/me/", "anonymous": True}, 401, "not_authenticated"),
    ],
)
def test_every_non_validation_error_has_detail_and_code(request_kwargs, status, code):
    kwargs = dict(request_kwargs)
    client = APIClient() if kwargs.pop("anonymous", False) else authenticated_client(ResellerFactory().user)
    response = getattr(client, kwargs.pop("method"))(kwargs.pop("path"), **kwargs)
    assert response.status_code == status
    body = response.json()
    assert set(body) >= {"detail", "code"}
    assert body["code"] == (code or "unsupported_media_type")


@pytest.mark.parametrize(
    ("who", "method", "path", "allow"),
    [
        # Registration is open, the list is staff's: a reseller got 403.
        ("reseller", "trace", "/api/v1/resellers/", "GET, POST, HEAD, OPTIONS"),
        ("anonymous", "trace", "/api/v1/resellers/", "GET, POST, HEAD, OPTIONS"),
        ("reseller", "delete", "/api/v1/resellers/", "GET, POST, HEAD, OPTIONS"),
        ("reseller", "post", "/api/v1/analytics/summary/", "GET, HEAD, OPTIONS"),
        ("anonymous", "put", "/api/v1/auth/me/", "GET, HEAD, OPTIONS"),
        ("reseller", "trace", "/api/v1/purchases/1/approve/", "POST, OPTIONS"),
        ("anonymous", "patch", "/api/v1/auth/token/", "POST, OPTIONS"),
    ],
)
def test_a_method_a_route_lacks_is_405_whoever_asks(who, method, path, allow):
    # What the route supports is not a secret of its permissions: 405 with
    # the methods it has, before authentication and permissions.
    client = APIClient() if who == "anonymous" else authenticated_client(ResellerFactory().user)
    response = client.generic(method.upper(), path)
    assert response.status_code == 405, response.content
    assert response.json()["code"] == "method_not_allowed"
    assert set(response["Allow"].split(", ")) == set(allow.split(", "))


def test_a_method_the_route_has_is_still_guarded():
    response = authenticated_client(ResellerFactory().user).get("/api/v1/resellers/")
    assert response.status_code == 403


def test_an_oversized_body_is_413_with_a_code(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = APIClient().post("/api/v1/auth/token/", {"email": "a" * 200}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_a_validation_error_without_a_field_is_keyed_non_field_errors():
    response = APIClient().post("/api/v1/auth/token/", [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


@pytest.mark.skipif(
    shutil.which("openapi-python-client", path=str(Path(sys.executable).parent)) is None,
    reason="openapi-python-client not installed",
)
def test_a_generated_client_parses_a_400_and_a_404(schema, tmp_path, monkeypatch):
    (tmp_path / "schema.json").write_text(json.dumps(schema, default=str))
    bin_dir = Path(sys.executable).parent
    subprocess.run(  # noqa: S603 (the venv's own tool)
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--output-path",
            str(tmp_path / "generated"),
            "--meta",
            "none",
            "--overwrite",
        ],
        check=True,
        capture_output=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    token = importlib.import_module("generated.api.auth.auth_token_create")
    retrieve = importlib.import_module("generated.api.purchases.purchases_retrieve")
    models = importlib.import_module("generated.models")
    client = importlib.import_module("generated.client").Client(base_url="http://testserver")

    bad = APIClient().post("/api/v1/auth/token/", {"email": "not-an-email", "password": "x"}, format="json")
    parsed = token._build_response(
        client=client, response=httpx.Response(bad.status_code, content=bad.content)
    )
    assert isinstance(parsed.parsed, models.ValidationError)
    assert "email" in parsed.parsed.additional_properties

    missing = authenticated_client(ResellerFactory().user).get("/api/v1/purchases/999999/")
    parsed = retrieve._build_response(
        client=client, response=httpx.Response(missing.status_code, content=missing.content)
    )
    assert isinstance(parsed.parsed, models.Error)
    assert parsed.parsed.code == "not_found"
