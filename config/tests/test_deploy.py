"""What a production deployment relies on: probes that answer whatever the
Host header, production settings that refuse to start half-configured, CORS
headers a browser client needs, and the container's healthcheck command."""

import logging
import os
import subprocess
import time

import pytest
from django.conf import settings
from django.test import override_settings

from core import healthcheck
from core.tests.settings_process import import_settings

PRODUCTION_HOSTS = ["api.example.com"]
# How load balancers and container engines address a replica.
PROBE_HOSTS = ["127.0.0.1:8000", "10.0.3.7:8000", "localhost", "[::1]:8000"]


# --- Health probes and host validation -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("host", PROBE_HOSTS)
@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/health/live/", "/health/ready/"])
@pytest.mark.parametrize("method", ["get", "head"])
@override_settings(ALLOWED_HOSTS=PRODUCTION_HOSTS)
def test_health_probes_answer_whatever_the_host_header(client, caplog, path, host, method):
    with caplog.at_level(logging.WARNING, logger="django.security"):
        response = getattr(client, method)(path, HTTP_HOST=host)
    assert response.status_code == 200
    assert response["X-Request-ID"]
    assert not [r for r in caplog.records if r.name.startswith("django.security")]


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=PRODUCTION_HOSTS)
def test_other_routes_still_refuse_a_host_outside_allowed_hosts(client):
    assert client.get("/api/v1/products/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert client.get("/api/v1/products/", HTTP_HOST="api.example.com").status_code == 401


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=PRODUCTION_HOSTS)
def test_a_bad_host_is_one_warning_without_a_traceback(client, caplog):
    # Bots and scanners send these all day: an ERROR with a traceback each
    # time buries the real errors (and pages whoever watches ERRORs).
    with caplog.at_level(logging.DEBUG):
        response = client.get("/api/v1/products/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert response.json() == {"detail": "Requisição inválida.", "code": "bad_request"}
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [(r.name, r.levelname, r.getMessage()) for r in records]
    (record,) = records
    assert record.name == "django.security.DisallowedHost"
    assert record.levelno == logging.WARNING
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert record.exc_text is None
    assert "evil.example.com" in record.getMessage()


@override_settings(ALLOWED_HOSTS=PRODUCTION_HOSTS)
def test_only_get_and_head_on_a_probe_skip_host_validation(client):
    assert client.post("/health/live", HTTP_HOST="10.0.3.7:8000").status_code == 400


def test_health_middleware_runs_before_anything_that_reads_the_host():
    middleware = settings.MIDDLEWARE
    health = middleware.index("core.middleware.HealthCheckMiddleware")
    # Only the request-id middleware (which never reads the host) comes first.
    assert middleware[:health] == ["core.middleware.RequestIDMiddleware"]
    for reader in (
        "django.middleware.security.SecurityMiddleware",
        "corsheaders.middleware.CorsMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ):
        assert health < middleware.index(reader)


# --- CORS -----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_cors_exposes_the_request_id_and_retry_after(client):
    response = client.get("/api/v1/products/", HTTP_ORIGIN="https://app.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed


# --- Production settings ------------------------------------------------------------

SECRETS = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 64,
    "ALLOWED_HOSTS": "api.example.com",
    "CPF_ENCRYPTION_KEYS": "bmQD2eQ8bvmITRj7Vly_arLCubDqhWp7xEkEFXiIed8=",
    "CPF_BLIND_INDEX_KEY": "y" * 32,
    "PUBLIC_BASE_URL": "https://api.example.com",
    "CELERY_BROKER_URL": "amqp://cashback:secret@rabbitmq:5672/cashback",
}
PRINT_CACHE_BACKEND = "import config.settings.production as s; print(s.CACHES['default']['BACKEND'])"
_UNSET = (
    "REDIS_URL",
    "REDIS_SENTINELS",
    "ALLOW_LOCAL_CACHE",
    "ALLOW_IN_PROCESS_JOBS",
    "DATABASE_URL",
    *SECRETS,
)


def load_production_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the production settings in a fresh interpreter with exactly
    these variables (on top of the machine's, less the ones they read)."""
    return import_settings(PRINT_CACHE_BACKEND, unset=_UNSET, env=env)


def test_production_refuses_to_start_without_redis_url():
    result = load_production_settings(**SECRETS)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_production_refuses_to_start_without_public_base_url():
    secrets = {key: value for key, value in SECRETS.items() if key != "PUBLIC_BASE_URL"}
    result = load_production_settings(**secrets, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set the PUBLIC_BASE_URL environment variable" in result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "",
        "api.example.com",  # no scheme: links would be relative
        "ftp://api.example.com",
        "https://",
        "https://api.example.com/cashback",  # links are built from the site's own paths
        "https://api.example.com/?next=1",
        "https://user@api.example.com",
    ],
)
def test_production_refuses_a_public_base_url_that_is_not_an_origin(value):
    result = load_production_settings(
        **{**SECRETS, "PUBLIC_BASE_URL": value}, REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PUBLIC_BASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://api.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
    ],
)
def test_production_reads_the_public_base_url_as_an_origin(value, origin):
    result = import_settings(
        "import config.settings.production as s; print(s.PUBLIC_BASE_URL)",
        unset=_UNSET,
        env={**SECRETS, "PUBLIC_BASE_URL": value, "REDIS_URL": "redis://127.0.0.1:6379/0"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == origin


def test_production_starts_with_redis_url():
    result = load_production_settings(**SECRETS, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django_redis.cache.RedisCache"


def test_production_accepts_the_single_process_flag_instead_of_redis():
    result = load_production_settings(**SECRETS, ALLOW_LOCAL_CACHE="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"


def test_production_refuses_to_start_without_a_broker():
    secrets = {key: value for key, value in SECRETS.items() if key != "CELERY_BROKER_URL"}
    result = load_production_settings(**secrets, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set the CELERY_BROKER_URL environment variable" in result.stderr


def test_production_runs_jobs_in_process_only_when_told_to():
    secrets = {key: value for key, value in SECRETS.items() if key != "CELERY_BROKER_URL"}
    result = import_settings(
        "import config.settings.production as s; print(s.CELERY_TASK_ALWAYS_EAGER)",
        unset=_UNSET,
        env={**secrets, "REDIS_URL": "redis://127.0.0.1:6379/0", "ALLOW_IN_PROCESS_JOBS": "true"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# --- The image's healthcheck command ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_healthcheck_command_passes_against_a_production_allowed_hosts(live_server):
    port = live_server.url.rsplit(":", 1)[1]
    with override_settings(ALLOWED_HOSTS=PRODUCTION_HOSTS):
        assert healthcheck.probe("/health/live", port=port)[0]
        healthy, line = healthcheck.probe("/health/ready", port=port)
        assert healthy, line
        # The same request elsewhere is refused: the probe proves the exemption.
        refused, line = healthcheck.probe("/api/v1/products/", port=port)
        assert not refused
        assert line.startswith("400 ")


def test_healthcheck_command_fails_when_nothing_answers(capsys, monkeypatch):
    monkeypatch.setenv("PORT", "9")  # discard: nothing listens there
    assert healthcheck.main(["healthcheck", "/health/ready"]) == 1
    assert "http://127.0.0.1:9/health/ready" in capsys.readouterr().out


def test_beats_healthcheck_reads_the_age_of_its_schedule_file(tmp_path, capsys):
    schedule = tmp_path / "celerybeat-schedule"
    assert healthcheck.main(["healthcheck", "--fresh", str(schedule), "180"]) == 1  # not written yet
    (tmp_path / "celerybeat-schedule.db").write_bytes(b"")  # dbm names it with a suffix
    assert healthcheck.main(["healthcheck", "--fresh", str(schedule), "180"]) == 0
    old = time.time() - 181
    os.utime(tmp_path / "celerybeat-schedule.db", (old, old))
    assert healthcheck.main(["healthcheck", "--fresh", str(schedule), "180"]) == 1
    assert "written 181 s ago (at most 180)" in capsys.readouterr().out


def test_by_default_the_password_reset_floor_covers_the_work_of_a_busy_server():
    from config.settings import base as base_settings

    # The suite runs with a floor of 0 (config/settings/test.py), for speed.
    assert base_settings.PASSWORD_RESET_MIN_SECONDS >= 0.1
