"""Gunicorn's own log lines (the master's, the workers', the access log) read
like the application's: the same format and the same clock, America/Sao_Paulo
with its offset, whatever the process's time zone (gunicorn's master never
loads Django's settings, which is what sets ``TZ`` in the workers)."""

import copy
import json
import logging
import logging.config
import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from gunicorn.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
GUNICORN_CONF = REPO_ROOT / "config" / "gunicorn.py"
# 12:00 UTC is 09:00 in São Paulo (UTC-3 all year since 2019).
NOON_UTC = datetime(2026, 3, 20, 12, 0, 0, 250000, tzinfo=UTC).timestamp()
SAO_PAULO_TIME = "2026-03-20T09:00:00.250-03:00"


@pytest.fixture
def utc_process(monkeypatch):
    """The process's clock on UTC, as in gunicorn's master (a container's
    default)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _gunicorn_logger(monkeypatch, log_format):
    monkeypatch.setenv("LOG_FORMAT", log_format)
    conf = runpy.run_path(str(GUNICORN_CONF))
    cfg = Config()
    cfg.set("errorlog", "-")
    cfg.set("accesslog", "-")
    return conf["logger_class"](cfg)


def _record(logger_name, message):
    record = logging.LogRecord(logger_name, logging.INFO, __file__, 1, message, None, None)
    record.created = NOON_UTC
    record.msecs = 250.0
    return record


def _app_formatter(name):
    # The application's formatter exactly as Django builds it from LOGGING.
    config = copy.deepcopy(settings.LOGGING)
    return logging.config.DictConfigurator(config).configure_formatter(config["formatters"][name])


def _format(logger, record):
    (handler,) = [h for h in logger.handlers if getattr(h, "_gunicorn", False)]
    assert handler.filter(record)
    return handler.format(record)


def test_gunicorn_uses_the_applications_time_zone():
    assert runpy.run_path(str(GUNICORN_CONF))["TIME_ZONE"] == settings.TIME_ZONE


@pytest.mark.usefixtures("utc_process")
def test_gunicorn_json_lines_read_like_the_applications(monkeypatch):
    gunicorn_log = _gunicorn_logger(monkeypatch, "json")
    gunicorn_line = json.loads(_format(gunicorn_log.error_log, _record("gunicorn.error", "Booting worker")))

    app_record = _record("django.request", "Booting worker")
    app_record.request_id = "-"
    app_line = json.loads(_app_formatter("json").format(app_record))

    assert gunicorn_line["time"] == SAO_PAULO_TIME
    assert app_line["time"] == SAO_PAULO_TIME
    assert gunicorn_line == {**app_line, "logger": "gunicorn.error"}
    assert gunicorn_line == {
        "time": SAO_PAULO_TIME,
        "level": "INFO",
        "logger": "gunicorn.error",
        "request_id": "-",
        "message": "Booting worker",
    }


@pytest.mark.usefixtures("utc_process")
def test_gunicorn_console_lines_read_like_the_applications(monkeypatch):
    gunicorn_log = _gunicorn_logger(monkeypatch, "console")
    gunicorn_line = _format(gunicorn_log.error_log, _record("gunicorn.error", "Booting worker"))

    app_record = _record("gunicorn.error", "Booting worker")
    app_record.request_id = "-"
    assert gunicorn_line == _app_formatter("console").format(app_record)
    assert gunicorn_line == f"{SAO_PAULO_TIME} INFO gunicorn.error [-] Booting worker"


@pytest.mark.usefixtures("utc_process")
def test_gunicorn_access_line_keeps_the_request_id(monkeypatch):
    gunicorn_log = _gunicorn_logger(monkeypatch, "json")
    record = _record("gunicorn.access", "GET /health/live 200")
    record.request_id = "abc-123"
    line = json.loads(_format(gunicorn_log.access_log, record))
    assert line["request_id"] == "abc-123"
    assert line["time"] == SAO_PAULO_TIME


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_running_gunicorn_logs_master_and_access_lines_on_sao_paulo_time(tmp_path):
    port, error_log, access_log = _free_port(), tmp_path / "error.log", tmp_path / "access.log"
    env = {
        **os.environ,
        "TZ": "UTC",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "LOG_FORMAT": "json",
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
            str(access_log),
            "--error-logfile",
            str(error_log),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while not access_log.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    master = [json.loads(line) for line in error_log.read_text().splitlines()]
    starting = next(line for line in master if line["message"].startswith("Starting gunicorn"))
    assert starting["time"].endswith("-03:00"), starting
    assert starting["request_id"] == "-"
    # One line per probe (a slow start may have taken a retry).
    access = [json.loads(line) for line in access_log.read_text().splitlines()]
    assert access
    assert {line["path"] for line in access} == {"/health/live"}
    assert all(line["time"].endswith("-03:00") for line in access), access
