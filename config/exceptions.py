"""Domain exceptions and the API's single exception handler.

Services raise plain Python/Django exceptions (they are called from the API,
the admin and commands alike); this handler is the one place that turns them
into HTTP answers, always JSON.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
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


def exception_handler(exc, context):
    if isinstance(exc, ConflictError):
        exc = Conflict(exc.message)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        # A service may say why (the first argument); otherwise DRF's default.
        exc = exceptions.PermissionDenied(exc.args[0] if exc.args else None)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.exception("Database unavailable")
        return Response(
            {"detail": str(SERVICE_UNAVAILABLE_MESSAGE)},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    elif isinstance(exc, DatabaseError):
        # Other database errors are bugs: log and fall through to a JSON 500.
        logger.exception("Database error")
    return drf_exception_handler(exc, context)
