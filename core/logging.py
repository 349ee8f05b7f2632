"""The application's log lines: their formats (shared with gunicorn's own,
config/gunicorn.py), request-id propagation into log records, and filters."""

import logging
from contextvars import ContextVar
from datetime import datetime
from zoneinfo import ZoneInfo

from pythonjsonlogger.json import JsonFormatter

CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
JSON_FIELD_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def clear_request_id(**kwargs) -> None:
    request_id_var.set("-")


class _ZonedTime:
    """``asctime`` in ISO 8601 with milliseconds and the UTC offset, in the
    given time zone whatever the process's own (``TZ``): Django sets the
    zone of the processes that load its settings, gunicorn's master never
    does, and every line should read on one clock."""

    def __init__(self, *args, time_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone = ZoneInfo(time_zone)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self.time_zone).isoformat(timespec="milliseconds")


class ConsoleFormatter(_ZonedTime, logging.Formatter):
    pass


class JSONFormatter(_ZonedTime, JsonFormatter):
    pass


def formatter(kind: str, *, time_zone: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT ``kind`` (``console`` or ``json``): the
    factory LOGGING names, and what gunicorn's lines are written with."""
    if kind == "json":
        return JSONFormatter(JSON_FORMAT, rename_fields=JSON_FIELD_NAMES, time_zone=time_zone)
    return ConsoleFormatter(CONSOLE_FORMAT, time_zone=time_zone)


class RoutineWarningFilter(logging.Filter):
    """Log a logger's records as one WARNING line without a traceback.

    For errors that are routine and fully described by their message: Django
    logs a Host header outside ALLOWED_HOSTS (scanners send them all day) at
    ERROR with the traceback of ``get_host()``, which says nothing the
    message does not and buries the real errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info = record.exc_text = record.stack_info = None
        return True
