import re
import uuid
from http import HTTPStatus

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.views import APIView

from core import health
from core.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# A caller-supplied id is echoed into logs and headers, so only short, plain
# tokens are trusted; anything else is replaced by a fresh one.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIDMiddleware:
    """Tag every request with an id (the caller's or a new one), expose it in
    the response and in every log record written while serving it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Cleared on request_finished (config.apps), not here: Django logs the
        # response ("Bad Request: ...") after the middleware chain returns.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


GENERIC_ERROR_MESSAGES = {
    400: _("Bad request."),
    403: _("You do not have permission to perform this action."),
    404: _("Not found."),
    405: _("Method not allowed."),
    413: _("Request body too large."),
    500: _("Internal server error."),
    503: _("A service this answer depends on is unavailable. Try again shortly."),
}
# The machine-readable ``code`` of each of those bodies (DRF's codes where
# DRF has the same error).
GENERIC_ERROR_CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    500: "server_error",
    503: "service_unavailable",
}


class JSONErrorMiddleware:
    """Turn any non-JSON error page Django produces outside DRF (unknown URLs,
    the debug pages, CSRF failures) into a JSON body, so API clients never get
    HTML. The admin and the pages for account holders (``/conta/``) keep
    their own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and not request.path.startswith(HTML_PATHS)
            and "json" not in response.get("Content-Type", "")
        ):
            error = json_error(response.status_code)
            # A 405 says which methods would do (RFC 9110).
            if "Allow" in response:
                error["Allow"] = response["Allow"]
            return error
        return response


# Pages, not API: their errors stay HTML.
HTML_PATHS = ("/admin/", "/conta/")


class MethodNotAllowedMiddleware:
    """405 for a method the API route does not have, before authentication
    and permissions.

    DRF checks the permissions first and looks for the method's handler
    after, so ``TRACE /api/v1/resellers/`` (open registration, staff's list)
    answered a reseller 403 and an anonymous caller 401, as if some account
    could use it. Which methods a route has is public (the schema, ``Allow``);
    the answer is DRF's own 405, with the ``Allow`` header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if view_class is None or not issubclass(view_class, APIView):
            return None
        allowed = _allowed_methods(view_func, view_class)
        if request.method in allowed:
            return None
        detail = MethodNotAllowed(request.method).detail
        response = JsonResponse({"detail": str(detail), "code": detail.code}, status=405)
        response["Allow"] = ", ".join(allowed)
        return response


def _allowed_methods(view_func, view_class) -> list[str]:
    # A viewset route has the methods of its action map (``as_view(actions)``);
    # any other view those it defines. HEAD comes with GET, as Django serves it.
    actions = getattr(view_func, "actions", None)
    if actions is not None:
        names = [name for name in view_class.http_method_names if name in actions or name == "options"]
    else:
        names = [name for name in view_class.http_method_names if hasattr(view_class, name)]
    if "get" in names and "head" not in names:
        names.insert(names.index("get") + 1, "head")
    return [name.upper() for name in names]


def json_error(status: int) -> JsonResponse:
    message = GENERIC_ERROR_MESSAGES.get(status) or HTTPStatus(status).phrase
    code = GENERIC_ERROR_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_")
    return JsonResponse({"detail": str(message), "code": code}, status=status)


def service_unavailable(request) -> HttpResponse:
    """503 for a database that does not answer: JSON for the API, a plain
    page for the admin (whose pages are HTML)."""
    if request.path.startswith("/admin/"):
        message = GENERIC_ERROR_MESSAGES[503]
        response = HttpResponse(f"503 Service Unavailable\n\n{message}\n", status=503)
        response["Content-Type"] = "text/plain; charset=utf-8"
    else:
        response = json_error(503)
    response["Retry-After"] = "5"
    return response


class BodySizeLimitMiddleware:
    """Refuse bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before
    anything reads them (DRF's parsers stream the body and would not stop)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400)
        if limit is not None and length > limit:
            return json_error(413)
        return self.get_response(request)


class HealthCheckMiddleware:
    """Answer the health probes before anything validates the Host header.

    Load balancers and container engines probe by address (``Host:
    10.0.3.7:8000``, ``127.0.0.1``), which a production ALLOWED_HOSTS rightly
    refuses with a 400 and a DisallowedHost log line on every probe. The
    probes reveal nothing and change nothing, so they are served here, ahead
    of the middleware that reads the host (security, CORS, CSRF, common).
    Sits right after RequestIDMiddleware, which never reads the host, so a
    failing readiness check still logs with its request id.
    """

    PROBES = {
        "/health/live": "live",
        "/health/live/": "live",
        "/health/ready": "ready",
        "/health/ready/": "ready",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self.PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return getattr(health, probe)(request)
        # Anything else, other methods on the probe paths included, goes
        # through the whole chain (and its host validation).
        return self.get_response(request)
