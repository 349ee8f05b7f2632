"""Liveness and readiness probes (plain Django views: no auth, no throttling).

GET and HEAD, with or without a trailing slash: load balancers differ in
the method and the path they probe with, and count a redirect as a failure.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


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


@never_cache
@require_safe
def ready(request):
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    healthy = all(checks.values())
    return _answer(
        request,
        {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
        },
        200 if healthy else 503,
    )
