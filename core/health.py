"""Liveness and readiness probes (plain Django views: no auth, no throttling).

GET and HEAD, with or without a trailing slash: load balancers differ in
the method and the path they probe with, and count a redirect as a failure.
"""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

from core import routing

logger = logging.getLogger(__name__)

STATES = {True: "ok", False: "failed", None: "in-process"}


def _answer(request, body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if request.method == "HEAD":
        # The status is the answer; not every server drops a HEAD's body.
        response.content = b""
    return response


@never_cache
@require_safe
def live(request):
    return _answer(request, {"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("Readiness: database check failed")
        return False
    return True


def _cache_ok() -> bool:
    # django-redis ignores connection errors (by design, so the API degrades
    # gracefully); a write followed by a read is what tells it is really there.
    key = f"health:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        ok = cache.get(key) == "1"
        cache.delete(key)
    except Exception:
        logger.exception("Readiness: cache check failed")
        return False
    if not ok:
        logger.error("Readiness: cache check failed")
    return ok


def _broker_ok() -> bool | None:
    """The broker takes a connection; None without one (jobs run in-process)."""
    if not settings.CELERY_BROKER_URL:
        return None
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.HEALTH_BROKER_TIMEOUT) as broker:
            broker.connect()
    except Exception as exc:
        # The type only: the broker's URL (with its password) may be in the message.
        logger.error("Readiness: broker check failed (%s)", type(exc).__name__)
        return False
    return True


@never_cache
@require_safe
def ready(request):
    checks = {"database": _database_ok(), "cache": _cache_ok(), "broker": _broker_ok()}
    healthy = all(ok is not False for ok in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {name: STATES[ok] for name, ok in checks.items()},
    }
    if routing.enabled():
        # Said, not required: without a replica the primary answers every read.
        body["replicas"] = routing.replica_states()
    return _answer(request, body, 200 if healthy else 503)
