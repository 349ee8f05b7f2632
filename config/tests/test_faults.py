"""Faults: the database or the cache going away, a failed cache-version bump,
and what the logs may contain. Every answer is a 503 (JSON for the API, a
plain page for the admin) or a deliberate fallback, never a 500."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib import admin
from django.db import OperationalError
from django.db.backends import utils as db_utils
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, StaffFactory
from conftest import CACHE_DOWN, authenticated_client
from core.tests.settings_process import import_settings
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]


# --- Database down -------------------------------------------------------------


@pytest.fixture
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused (test)")

    def down():
        monkeypatch.setattr(db_utils.CursorWrapper, "_execute", refuse)
        monkeypatch.setattr(db_utils.CursorWrapper, "_executemany", refuse)

    return down


def _admin_urls():
    urls = [reverse("admin:index"), reverse("admin:analytics")]
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        urls += [reverse("admin:{}_{}_changelist".format(*info)), reverse("admin:{}_{}_add".format(*info))]
    return urls


def test_every_admin_page_is_a_plain_503_when_the_database_is_down(database_down):
    client = Client(raise_request_exception=False)
    client.force_login(StaffFactory(is_superuser=True))
    database_down()
    for url in _admin_urls():
        response = client.get(url)
        assert response.status_code == 503, url
        assert response["Content-Type"].startswith("text/plain"), url
        assert response["Retry-After"]


def test_admin_login_is_a_503_when_the_database_is_down(database_down):
    client = Client(raise_request_exception=False)
    database_down()
    response = client.post("/admin/login/", {"username": "admin@example.com", "password": "x"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/v1/auth/me/", None),
        ("get", "/api/v1/purchases/", None),
        ("post", "/api/v1/auth/token/", {"email": "a@example.com", "password": "x"}),
        (
            "post",
            "/api/v1/resellers/",
            {"full_name": "Ana", "cpf": "529.982.247-25", "email": "a@b.co", "password": "s3nha-Forte-2024"},
        ),
    ],
)
def test_api_answers_503_json_with_a_code_when_the_database_is_down(database_down, method, url, body):
    client = authenticated_client(ResellerFactory().user)
    client.raise_request_exception = False
    database_down()
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


def test_readiness_is_503_and_liveness_200_when_the_database_is_down(database_down):
    client = Client(raise_request_exception=False)
    database_down()
    assert client.get("/health/ready").status_code == 503
    assert client.get("/health/live").status_code == 200


# --- Cache (Redis) down ----------------------------------------------------------


@pytest.mark.usefixtures("cache_down")
def test_login_fails_closed_when_the_throttle_store_is_down():
    user = ResellerFactory().user
    client = APIClient()
    for _ in range(25):
        response = client.post("/api/v1/auth/token/", {"email": user.email, "password": "x"}, format="json")
        assert response.status_code == 503
        assert response.json()["code"] == "throttle_unavailable"
    right = client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert right.status_code == 503


@pytest.mark.usefixtures("cache_down")
def test_registration_fails_closed_when_the_throttle_store_is_down():
    body = {
        "full_name": "Ana",
        "cpf": "529.982.247-25",
        "email": "ana@example.com",
        "password": "s3nha-Forte-2024",
    }
    response = APIClient().post("/api/v1/resellers/", body, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "throttle_unavailable"


@pytest.mark.usefixtures("cache_down")
def test_admin_login_fails_closed_when_the_throttle_store_is_down():
    staff = StaffFactory()
    client = Client()
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with the reason
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("cache_down")
def test_other_routes_fail_open_when_the_cache_is_down():
    client = authenticated_client(ResellerFactory().user)
    assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/purchases/").status_code == 200


def test_a_failed_cache_version_bump_is_retried_until_it_lands(monkeypatch):
    from django.core.cache import caches

    from core import cache as versioned

    monkeypatch.setattr(versioned, "_RETRY_FIRST_DELAY", 0.01)
    # On the class: each thread has its own cache object.
    backend = type(caches["strict"])
    real_incr, failures = backend.incr, {"left": 3}

    def flaky_incr(self, *args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("redis down (test)")
        return real_incr(self, *args, **kwargs)

    monkeypatch.setattr(backend, "incr", flaky_incr)
    before = versioned.get_version("products")
    versioned.bump_version("products")  # fails now, retried in the background
    deadline = time.monotonic() + 5
    while versioned.get_version("products") == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert versioned.get_version("products") > before
    assert failures["left"] == 0


def test_cashback_breaker_works_per_process_when_the_shared_cache_is_down(httpserver, settings, monkeypatch):
    from resellers import cashback_client

    monkeypatch.setattr(cashback_client, "_local_breaker", cashback_client._LocalBreaker())
    httpserver.expect_request("/v1/cashback").respond_with_data("down", status=500)
    settings.CASHBACK_API_URL = httpserver.url_for("/")
    settings.CASHBACK_API_BREAKER_FAILURES = 3
    with override_settings(CACHES=CACHE_DOWN):
        for _ in range(10):
            with pytest.raises(cashback_client.CreditUnavailable):
                cashback_client.credit_fetch("15350946056")
    # Three failed calls (each retried once on a 5xx), then the breaker opened.
    assert len(httpserver.log) == 6


# --- Settings: production never auto-approves the demo CPF ------------------------


def _settings_value(module: str, expression: str, **env) -> str:
    result = import_settings(
        f"import {module} as s; print({expression})",
        unset=("CASHBACK_AUTO_APPROVED_CPFS", "DJANGO_SETTINGS_MODULE"),
        env=env,
    )
    result.check_returncode()
    return result.stdout.strip()


PRODUCTION_ENV = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "api.example.com",
    "CPF_ENCRYPTION_KEYS": "bmQD2eQ8bvmITRj7Vly_arLCubDqhWp7xEkEFXiIed8=",
    "CPF_BLIND_INDEX_KEY": "k",
    "PUBLIC_BASE_URL": "https://api.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "amqp://cashback:secret@rabbitmq:5672/cashback",
}


def test_production_auto_approves_no_cpf_unless_configured():
    assert (
        _settings_value("config.settings.production", "s.CASHBACK_AUTO_APPROVED_CPFS", **PRODUCTION_ENV)
        == "[]"
    )
    configured = _settings_value(
        "config.settings.production",
        "s.CASHBACK_AUTO_APPROVED_CPFS",
        CASHBACK_AUTO_APPROVED_CPFS="52998224725",
        **PRODUCTION_ENV,
    )
    assert configured == "['52998224725']"


def test_the_embedded_default_auto_approves_the_demo_cpf():
    assert _settings_value("config.settings.local", "s.CASHBACK_AUTO_APPROVED_CPFS") == "['15350946056']"


# --- Logs: no CPF in gunicorn's access log ------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_gunicorn_access_log_never_holds_a_cpf(tmp_path, log_format):
    port, log = _free_port(), tmp_path / "access.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "LOG_FORMAT": log_format,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(  # noqa: S603 (the venv's gunicorn)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "-c",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "1",
            "--access-logfile",
            str(log),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        urls = [
            f"http://127.0.0.1:{port}/api/v1/resellers/?search=153.509.460-56&page=2",
            f"http://127.0.0.1:{port}/api/v1/resellers/?search=15350946056",
            f"http://127.0.0.1:{port}/admin/resellers/reseller/?q=153%2E509%2E460-56",
        ]
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    request = urllib.request.Request(url, headers={"Referer": url})  # noqa: S310
                    urllib.request.urlopen(request, timeout=5)  # noqa: S310 (loopback http only)
                except urllib.error.HTTPError:
                    break  # 401 / 302: answered, and logged
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
                    continue
                break
        deadline = time.monotonic() + 10
        while log.read_text().count("\n") < len(urls) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert text.count("/api/v1/resellers/") >= 2, text
    for fragment in ("15350946056", "153.509.460-56", "153.509", "153%2E509"):
        assert fragment not in text, text
    if log_format == "json":
        assert all(json.loads(line)["path"] for line in text.splitlines())
    else:
        assert "search=-" in text
