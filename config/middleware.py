import re
import uuid
from http import HTTPStatus

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _

from config.logging import request_id_var

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
}


class JSONErrorMiddleware:
    """Turn any non-JSON error page Django produces outside DRF (unknown URLs,
    the debug pages, CSRF failures) into a JSON body, so API clients never get
    HTML. The admin keeps its own pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and not request.path.startswith("/admin/")
            and "json" not in response.get("Content-Type", "")
        ):
            return json_error(response.status_code)
        return response


def json_error(status: int) -> JsonResponse:
    message = GENERIC_ERROR_MESSAGES.get(status) or HTTPStatus(status).phrase
    return JsonResponse({"detail": str(message)}, status=status)


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
