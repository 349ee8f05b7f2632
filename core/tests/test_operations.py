import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health/live", "/health/live/", "/health/ready", "/health/ready/"])
def test_probes_answer_head_without_a_body(client, path):
    response = client.head(path)
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("path", ["/health/live/", "/health/ready/"])
def test_probes_answer_with_a_trailing_slash_too(client, path):
    # Answered directly, not redirected: a load balancer counts a 301 as down
    # (or follows it to a host it cannot reach).
    response = client.get(path)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_when_everything_answers(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "in-process"}


@override_settings(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")  # nothing listens there
def test_ready_is_503_naming_the_broker_when_it_is_down(client):
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "failed"}


@pytest.mark.worker  # in CI's step with the broker
@pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (a real broker)")
def test_ready_says_ok_for_a_real_broker(client):
    with override_settings(CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"]):
        response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
)
def test_ready_is_503_naming_the_cache_when_redis_is_down(client):
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failed", "broker": "in-process"}
    caches["default"].close()


def test_ready_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    from core import health

    def broken_cursor():
        raise RuntimeError("database down")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "failed"


def test_request_id_is_generated(client):
    response = client.get("/health/live")
    assert len(response["X-Request-ID"]) == 32


def test_request_id_is_propagated(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_unsafe_request_id_is_replaced(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="bad id\nInjected: yes")
    assert response["X-Request-ID"] != "bad id\nInjected: yes"
    assert len(response["X-Request-ID"]) == 32


def test_request_id_reaches_log_records(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get("/api/v1/auth/me/", HTTP_X_REQUEST_ID="trace-42")
    assert any(getattr(record, "request_id", None) == "trace-42" for record in caplog.records)


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope/", "/api/v1/resellers/abc/"])
def test_unknown_urls_get_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_wrong_method_gets_json_405(api_client):
    response = api_client.delete("/api/v1/auth/token/")
    assert response.status_code == 405
    assert response.json()["detail"]


@pytest.mark.parametrize("path", ["/health/live", "/health/live/", "/health/ready/"])
def test_health_wrong_method_is_json(client, path):
    response = client.post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["code"] == "method_not_allowed"


def test_unhandled_error_is_json_500(api_client, monkeypatch):
    from accounts import views

    def explode(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.LoginView, "post", explode)
    api_client.raise_request_exception = False
    response = api_client.post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 500
    assert response.json() == {"detail": "Erro interno do servidor.", "code": "server_error"}


def test_schema_is_served_offline(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/api/v1/auth/token/", "/api/v1/resellers/", "/api/v1/resellers/me/"]:
        assert path in paths


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_pages_use_local_assets(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html
    assert "unpkg" not in html
    assert "fonts.googleapis" not in html
    assert "fonts.gstatic" not in html


def test_redoc_page_allows_loads_from_this_server_only(client):
    # The browser tests (config/tests/test_browser.py) watch what it loads.
    html = client.get("/api/v1/redoc/").content.decode()
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'self\';' in html
    assert "system-ui" in html  # ReDoc's theme: the system's fonts


def test_cors_allows_configured_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    allowed = client.options(
        "/api/v1/auth/token/",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert allowed["access-control-allow-origin"] == "https://app.example.com"
    denied = client.get("/health/live", HTTP_ORIGIN="https://evil.example.com")
    assert "access-control-allow-origin" not in denied


# --- make: `make run` needs the runtime requirements only -----------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_dry_run(target: str, venv: Path) -> str:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    return subprocess.run(  # noqa: S603 (constant program and arguments)
        ["make", "--dry-run", target, f"VENV={venv}"],  # noqa: S607
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


@pytest.mark.parametrize("target", ["run", "migrate", "seed"])
def test_make_run_installs_only_the_runtime_requirements(tmp_path, target):
    commands = make_dry_run(target, tmp_path / "venv")
    assert "pip install --quiet -r requirements.txt" in commands
    assert "requirements-dev.txt" not in commands


@pytest.mark.parametrize("target", ["install", "test", "lint", "format", "schema", "bench", "loadtest"])
def test_make_tools_install_the_development_requirements(tmp_path, target):
    assert "pip install --quiet -r requirements-dev.txt" in make_dry_run(target, tmp_path / "venv")
