from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config import health
from config.middleware import json_error
from purchases.admin_views import analytics_admin_view

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("resellers.urls")),
    path("", include("purchases.urls")),
    path("", include("products.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

admin.site.site_header = _("Reseller cashback — back office")
admin.site.site_title = _("Reseller cashback")
admin.site.index_title = _("Back office")

urlpatterns = [
    path("admin/analytics/", analytics_admin_view, name="admin-analytics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
]


def handler404(request, exception=None):
    return json_error(404)


def handler500(request):
    return json_error(500)


def handler400(request, exception=None):
    return json_error(400)


def handler403(request, exception=None):
    return json_error(403)
