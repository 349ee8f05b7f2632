"""Gunicorn settings for the container (overridable through the environment)."""

import glob
import os
import re
import shutil
import tempfile

from gunicorn.glogging import Logger

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Without Redis every worker keeps its own cache and throttles
# (ALLOW_LOCAL_CACHE=true, see config/settings/production.py): one process then.
_redis = os.environ.get("REDIS_URL") or os.environ.get("REDIS_SENTINELS")
_local_cache = not _redis and os.environ.get("ALLOW_LOCAL_CACHE", "").lower() == "true"
workers = int(os.environ.get("GUNICORN_WORKERS", "1" if _local_cache else "3"))
# Threads per worker. No request waits on the brand's cashback API (the
# Celery workers call it); a slow request holds one thread, not the worker.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))

# Workers' heartbeat files: /dev/shm is memory (a disk-backed /tmp can stall
# them) and stays writable when the container's filesystem is read-only.
_SHM = "/dev/shm"  # noqa: S108 (gunicorn writes only its own heartbeat files there)
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM

# --- Metrics: one set of numbers for all the workers ----------------------------
# With METRICS_ENABLED (core/metrics.py) each worker writes its counters to
# memory-mapped files in PROMETHEUS_MULTIPROC_DIR and /metrics adds up every
# worker's, whichever one answers the scrape (prometheus_client's multiprocess
# mode). The directory is in memory too, emptied when gunicorn starts (numbers
# of an earlier run would be added in) and removed when it stops. The variable
# is set in the master before any worker imports prometheus_client. Read from
# the environment: a .env file is Django's alone.
_TRUE = {"true", "on", "ok", "y", "yes", "1"}  # django-environ's true values
_metrics = os.environ.get("METRICS_ENABLED", "").lower() in _TRUE


def on_starting(server):
    if not _metrics:
        return
    base = _SHM if os.path.isdir(_SHM) else tempfile.gettempdir()
    path = os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", os.path.join(base, f"cashback-metrics-{os.getpid()}")
    )
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    if _metrics:
        from prometheus_client import multiprocess

        # Its counters stay in the totals; its live gauges go.
        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if _metrics and os.path.basename(path) == f"cashback-metrics-{os.getpid()}":
        shutil.rmtree(path, ignore_errors=True)


# No runtime control socket (gunicornc): the engine restarts containers, and
# the app user has nowhere writable to put one.
control_socket_disable = True

# Trust X-Forwarded-* from the proxy in front of the container.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# --- Logging: stdout, in the application's formats (LOG_FORMAT) -----------------
accesslog = "-"
errorlog = "-"
# The application's LOG_FORMAT (json in production) and TIME_ZONE (Django's
# settings are not loaded in the master: config/tests/test_gunicorn_logging.py
# keeps this equal to settings.TIME_ZONE).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
TIME_ZONE = "America/Sao_Paulo"


# Query strings can hold personal data (an exact-CPF search is
# ``?search=153.509.460-56``): the access log keeps parameter names only.
_QUERY_VALUE = re.compile(r"=[^&#\s]*")


def _redact_query(text: str) -> str:
    path, mark, query = text.partition("?")
    return f"{path}{mark}{_QUERY_VALUE.sub('=-', query)}" if mark else text


class RedactingLogger(Logger):
    """Gunicorn's logger with every query-string value (request line, query,
    referer) replaced by ``-`` before any access-log format sees it."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "f", "{referer}i"):
            if isinstance(atoms.get(name), str):
                atoms[name] = _redact_query(atoms[name])
        if atoms.get("q"):
            atoms["q"] = _redact_query(f"?{atoms['q']}")[1:]
        return atoms


class AppFormatLogger(RedactingLogger):
    """Gunicorn's own lines (the master's, the workers', the access log) in
    the application's format and clock (core.logging.formatter): one JSON
    object each with LOG_FORMAT=json, the access line carrying the request
    id the application put on the response."""

    def setup(self, cfg):
        super().setup(cfg)
        # Imported here: the project directory is on sys.path only once
        # gunicorn has read this file.
        from core.logging import formatter

        line_format = formatter(LOG_FORMAT, time_zone=TIME_ZONE)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not getattr(handler, "_gunicorn", False):
                    continue  # not one of gunicorn's own (a test's capture)
                handler.setFormatter(line_format)
                handler.addFilter(_no_request_id)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        request_id = atoms.get("{x-request-id}o", "-")
        try:
            if LOG_FORMAT != "json":
                safe_atoms = self.atoms_wrapper_class(atoms)
                self.access_log.info(self.cfg.access_log_format, safe_atoms, extra={"request_id": request_id})
                return
            self.access_log.info(
                "%s %s %s",
                atoms["m"],
                atoms["U"],
                atoms["s"],
                extra={
                    "request_id": request_id,
                    "method": atoms["m"],
                    "path": atoms["U"],
                    "status": resp.status_code,
                    "duration_ms": round(request_time.total_seconds() * 1000, 1),
                    "bytes": atoms["B"],
                    "remote_addr": atoms["h"],
                },
            )
        except Exception:
            self.exception("Could not write the access log line")


def _no_request_id(record):
    """Lines outside any request (the master's) carry the "-" the
    application's do."""
    if not hasattr(record, "request_id"):
        record.request_id = "-"
    return True


logger_class = AppFormatLogger
