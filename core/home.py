"""``/``, the first address a newcomer opens: where the documentation, the
schema, the admin and the liveness probe are. A JSON document for API
clients (the default), a small page for browsers (which ask for HTML first),
nothing loaded from anywhere."""

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

NAME = _("Reseller cashback")
# (key in the JSON document, URL name, title)
LINKS = (
    ("docs", "swagger-ui", _("API documentation (Swagger UI)")),
    ("redoc", "redoc", _("API reference (ReDoc)")),
    ("schema", "schema", _("OpenAPI 3 schema")),
    ("admin", "admin:index", _("Back office (staff)")),
    ("health", "health-live", _("Liveness probe")),
)


@require_safe
def home(request):
    links = [{"rel": rel, "href": reverse(name), "title": title} for rel, name, title in LINKS]
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        response = render(request, "core/home.html", {"name": NAME, "links": links})
    else:
        response = JsonResponse(
            {
                "name": str(NAME),
                "links": {link["rel"]: {"href": link["href"], "title": str(link["title"])} for link in links},
            }
        )
    patch_vary_headers(response, ["Accept"])
    return response
