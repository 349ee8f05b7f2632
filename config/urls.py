"""The root URLconf: the one place that includes every app's routes."""

import sys

from django.contrib import admin
from django.db import InterfaceError, OperationalError
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import health, home
from core.favicon import favicon
from core.middleware import json_error, service_unavailable

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("resellers.urls")),
    path("", include("products.urls")),
    path("", include("purchases.urls")),
    path("", include("purchases.analytics.urls")),
    path("", include("core.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

urlpatterns = [
    path("", home.home, name="home"),
    # Ahead of the admin: its "forgotten your password?" pages.
    path("admin/password-reset/", include("accounts.admin_urls")),
    path("admin/", admin.site.urls),
    # Pages for account holders (the password reset e-mail's link).
    path("conta/", include("accounts.page_urls")),
    path("api/v1/", include(api_v1)),
    # With or without the trailing slash (HealthCheckMiddleware answers GET
    # and HEAD first; other methods reach these and get a 405).
    re_path(r"^health/live/?$", health.live, name="health-live"),
    re_path(r"^health/ready/?$", health.ready, name="health-ready"),
    path("favicon.ico", favicon, name="favicon"),
]


def handler404(request, exception=None):
    return json_error(404)


def handler500(request):
    # Django calls this while handling the exception, from any view or
    # middleware: a database that does not answer (admin pages, sessions,
    # anything outside DRF's own handler) is a 503, not a server error.
    if isinstance(sys.exception(), OperationalError | InterfaceError):
        return service_unavailable(request)
    return json_error(500)


def handler400(request, exception=None):
    return json_error(400)


def handler403(request, exception=None):
    return json_error(403)
