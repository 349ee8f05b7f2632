#!/usr/bin/env python
"""EXPLAIN (ANALYZE, BUFFERS) of the SQL the hot routes really run, against
the load test's database, with each route's server time (cold: empty
caches; best of three runs); writes bench/EXPLAIN.md.

Each route is requested in-process (Django's test client, the whole stack),
its queries are captured, and every SELECT among them is explained. Run it
after ``make loadtest``, which leaves ``cashback_loadtest`` with 1,000,000
purchases; it only reads (caches are bypassed by fresh namespaces):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cashback_loadtest \\
    CPF_ENCRYPTION_KEYS=... CPF_BLIND_INDEX_KEY=... \\
        .venv/bin/python bench/explain.py

(the CPF keys of bench/loadtest.py, which this script uses when unset).
"""

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "EXPLAIN.md"


NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"


def shift_days(month: str, days: int) -> str:
    """The ISO date ``days`` after the first day of ``month`` (YYYY-MM)."""
    from datetime import date, timedelta

    return (date.fromisoformat(f"{month}-01") + timedelta(days=days)).isoformat()


def kept_notes() -> list[str]:
    """The hand-written findings of the current EXPLAIN.md, kept across runs."""
    if not OUTPUT.exists():
        return []
    text = OUTPUT.read_text()
    if NOTES_START not in text or NOTES_END not in text:
        return []
    notes = text.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0]
    return ["", NOTES_START + notes + NOTES_END]


def main() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from inprocess import setup_django

    setup_django(cache_prefix="cashback-explain")

    from django.core.cache import cache
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from accounts.serializers import tokens_for
    from purchases.models import Purchase
    from purchases.months import current_month, format_month, shift_month
    from resellers.models import Reseller

    busiest = Reseller.objects.annotate(n=Count("purchases")).order_by("-n").select_related("user").first()
    staff = User.objects.filter(is_staff=True, is_superuser=True).first()
    month = format_month(shift_month(current_month(), -1))
    routes = [
        ("Reseller purchase list (busiest reseller)", busiest.user, "/api/v1/purchases/?page_size=50"),
        ("Staff purchase list, first page", staff, "/api/v1/purchases/?page_size=50"),
        ("Staff purchase list, month filter", staff, f"/api/v1/purchases/?page_size=50&month={month}"),
        ("Staff purchase list, ordering=-value", staff, "/api/v1/purchases/?page_size=50&ordering=-value"),
        ("Staff purchase list, page=200", staff, "/api/v1/purchases/?page_size=50&page=200"),
        ("Staff purchase list, search by code", staff, "/api/v1/purchases/?page_size=50&search=NF-000123"),
        ("Month summary (busiest reseller)", busiest.user, "/api/v1/resellers/me/summary/"),
        ("Analytics summary, cold", staff, f"/api/v1/analytics/summary/?month={month}"),
        ("Analytics monthly, cold", staff, "/api/v1/analytics/monthly/"),
        ("Analytics top resellers, cold", staff, f"/api/v1/analytics/top-resellers/?month={month}"),
        ("Analytics top products, cold", staff, f"/api/v1/analytics/top-products/?month={month}"),
        ("Admin purchase changelist", None, "/admin/purchases/purchase/"),
        ("Admin purchase search by code", None, "/admin/purchases/purchase/?q=NF-000123"),
        (
            "Admin purchase search by e-mail",
            None,
            "/admin/purchases/purchase/?q=revendedor-00042%40demo.example.com",
        ),
        ("Admin purchase search by exact CPF", None, "/admin/purchases/purchase/?q=153.509.460-56"),
        ("Admin purchase month filter", None, f"/admin/purchases/purchase/?month={month}"),
    ]
    # The staff list as the mixed workload asks for it (bench/workload.py):
    # a random month, page and ordering, other filters; its slowest shapes.
    old_month = format_month(shift_month(current_month(), -6))
    days = f"date_from={old_month}-03&date_to={shift_days(old_month, 47)}"
    shapes = [
        ("month, page 100, ordering=-value", f"month={old_month}&page=100&ordering=-value"),
        ("month, page 60, ordering=created_at", f"month={old_month}&page=60&ordering=created_at"),
        ("month, page 100, default ordering", f"month={old_month}&page=100"),
        (
            "month and status, page 40, ordering=value",
            f"month={old_month}&status=validating&page=40&ordering=value",
        ),
        (
            "month and status, page 80, ordering=-value",
            f"month={old_month}&status=rejected&page=80&ordering=-value",
        ),
        ("status=rejected, page 100, default ordering", "status=rejected&page=100"),
        ("status=approved, page 1, ordering=-value", "status=approved&ordering=-value"),
        ("45 days, page 80, ordering=-created_at", f"{days}&page=80&ordering=-created_at"),
        ("search by a code fragment, ordering=-value", "search=NF-00012&ordering=-value"),
        ("search by a code, page 1", "search=NF-000123"),
        ("search by the first code (the oldest purchases), default ordering", "search=NF-000001"),
        ("search by a code fragment, ordering=date", "search=NF-00019&ordering=date"),
        ("no filter, page 100, ordering=value", "page=100&ordering=value"),
    ]
    routes += [
        (f"Mixed: staff list, {title}", staff, f"/api/v1/purchases/?page_size=50&{params}")
        for title, params in shapes
    ]
    routes += [
        (
            f"Mixed: reseller list (busiest), {title}",
            busiest.user,
            f"/api/v1/purchases/?page_size=50&{params}",
        )
        for title, params in (
            ("month, page 3, ordering=-value", f"month={old_month}&page=3&ordering=-value"),
            (
                "status=validating, page 10, ordering=created_at",
                "status=validating&page=10&ordering=created_at",
            ),
            ("search by a code fragment", "search=NF-00013"),
        )
    ]
    sections = [
        "# EXPLAIN of the hot queries",
        "",
        f"Made by `bench/explain.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC against "
        f"`{connection.settings_dict['NAME']}`: {Purchase.objects.count():,} purchases, "
        f"{Reseller.objects.count():,} resellers, the busiest with {busiest.n:,} purchases. "
        "Each route was requested three times through the whole stack, its caches emptied "
        "before each request (the best time is shown); every SELECT of the last request "
        "(authentication and sessions left out) is shown with `EXPLAIN (ANALYZE, BUFFERS)`. "
        "In-process times on the same shared 2-core machine as the load test.",
    ]

    def clear_cache():
        # This script's keys only (its own CACHE_KEY_PREFIX): never the whole store.
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")
        else:
            cache.clear()

    admin = Client(HTTP_HOST="127.0.0.1")
    admin.force_login(staff)
    timings = ["", "| route | server time, cold (best of 3) | queries |", "|---|---|---|"]
    for title, user, path in routes:
        client = admin
        headers = {}
        if user is not None:
            client = Client(HTTP_HOST="127.0.0.1")
            headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens_for(user)['access']}"}
        best = None
        for _ in range(3):
            clear_cache()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                status = client.get(path, **headers).status_code
                elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        timings.append(f"| {title} | {best * 1000:,.0f} ms | {len(captured.captured_queries)} |")
        sections += ["", f"## {title}", "", f"`GET {path}` answered {status} in {best * 1000:,.0f} ms."]
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.startswith("SELECT") or any(
                table in sql.split(" WHERE ")[0] for table in ('FROM "accounts_user"', '"django_session"')
            ):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            sections += ["", "```sql", sql, "```", "", "```", plan, "```"]
    OUTPUT.write_text("\n".join(sections[:3] + kept_notes() + timings + sections[3:]) + "\n")
    print(f"Wrote {OUTPUT}")


if __name__ == "__main__":
    main()
