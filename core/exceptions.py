"""Domain exceptions and the API's single exception handler.

Services raise plain Python/Django exceptions (they are called from the API,
the admin and commands alike); this handler is the one place that turns them
into HTTP answers, always JSON.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

SERVICE_UNAVAILABLE_MESSAGE = _("A service this answer depends on is unavailable. Try again shortly.")


class ConflictError(Exception):
    """The request is valid but conflicts with the current state (HTTP 409)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with the current state of the resource.")
    default_code = "conflict"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = _("This link has expired or its file was removed.")
    default_code = "gone"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = SERVICE_UNAVAILABLE_MESSAGE
    default_code = "service_unavailable"


def exception_handler(exc, context):
    """DRF's handler, after mapping domain and Django exceptions; every body it
    writes is either field errors (400) or ``{"detail": message, "code": code}``."""
    if isinstance(exc, ConflictError):
        exc = Conflict(exc.message)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: a row deleted by a concurrent request between
        # the lookup and a later read or lock (e.g. two deletes of one purchase).
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        # A service may say why (the first argument); otherwise DRF's default.
        exc = exceptions.PermissionDenied(exc.args[0] if exc.args else None)
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.exception("Database unavailable")
        exc = ServiceUnavailable()
    elif isinstance(exc, DatabaseError):
        # Other database errors are bugs: log and fall through to a JSON 500.
        logger.exception("Database error")
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc, response.data)
    return response


def error_body(exc: exceptions.APIException, data):
    if isinstance(exc, exceptions.ValidationError):
        # Errors raised without a field name (a plain message or a list) are
        # keyed like DRF's object-level errors, so a 400 is always an object.
        return data if isinstance(data, dict) else {api_settings.NON_FIELD_ERRORS_KEY: data}
    if not isinstance(data, dict):
        data = {"detail": data}
    code = data.get("code")
    if not isinstance(code, str):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    # Those two only: SimpleJWT adds a list of reasons per token class
    # ("messages"), in no documented shape.
    return {"detail": str(data.get("detail", exc.default_detail)), "code": code}
