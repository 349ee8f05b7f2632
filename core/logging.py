"""Request-id propagation into log records."""

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def clear_request_id(**kwargs) -> None:
    request_id_var.set("-")


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
