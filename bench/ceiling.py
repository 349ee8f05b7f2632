"""The load test's ceiling: the fastest a Django answer can be on this machine.

A bare Django view (no middleware, no apps, no database, no authentication)
returning a 50-row JSON list shaped like a page of purchases. bench/loadtest.py
serves it under the same gunicorn and worker settings as the application and
divides each route's requests per second by this one's. Bench-only: nothing
in config/ refers to it and it is never deployed.

    gunicorn bench.ceiling:application   (from the repository root)
"""

import os
from datetime import date, timedelta

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-ceiling-only",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    DATABASES={},
    USE_TZ=True,
    TIME_ZONE="America/Sao_Paulo",
    LOGGING_CONFIG=None,
)

ROWS = 50
FIRST_DAY = date(2026, 1, 1)


def purchases(request):
    # The rows are built on every request, as a view building plain dicts would.
    rows = [
        {
            "id": number,
            "code": f"NF-{number:08d}",
            "value": f"{100 + number}.90",
            "date": (FIRST_DAY + timedelta(days=number % 28)).isoformat(),
            "status": "approved",
            "status_display": "Aprovado",
            "cashback_percent": "10.00",
            "cashback_value": f"{10 + number // 10}.09",
            "items": [],
            "created_at": "2026-01-01T12:00:00-03:00",
            "updated_at": "2026-01-01T12:00:00-03:00",
        }
        for number in range(1, ROWS + 1)
    ]
    return JsonResponse(rows, safe=False)


urlpatterns = [path("ceiling/", purchases)]

application = get_wsgi_application()
