"""``/favicon.ico``: browsers ask for it on every page that names no icon of
its own (the API's JSON answers, Swagger UI, ReDoc); the answer is the icon the
admin pages link (core/static/), rather than a 404."""

from pathlib import Path

from django.http import FileResponse
from django.views.decorators.http import require_safe

ICON = Path(__file__).resolve().parent / "static" / "favicon.ico"
MAX_AGE = 7 * 24 * 3600  # a week: browsers ask again rarely, a new icon still shows up


@require_safe
def favicon(request):
    response = FileResponse(ICON.open("rb"), content_type="image/x-icon")
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response
