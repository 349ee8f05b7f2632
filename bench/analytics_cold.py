#!/usr/bin/env python
"""Cold server time of every analytics read: the four API routes over every
month of the data (and limits 10 and 100), the admin's analytics page and
its index; then EXPLAIN (ANALYZE, BUFFERS) of each route's SQL.

Each request goes through the whole stack in-process (Django's test client)
with this script's cache keys deleted first, so nothing is answered from
the cache (the policy and the user are read again too). The SQL column is
the time the database took (as the driver saw it), the rest is Python; the
floor is ``GET /`` (Django alone, no database) measured the same way, for
what the machine gives any request at the moment. Run it against a
copy of the load test's template (it only reads):

    createdb -T cashback_loadtest_seed cashback_mine_1m
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cashback_mine_1m .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cashback_mine_1m REDIS_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/analytics_cold.py [--repeat 3] [--explain /tmp/explain.md]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Requests per route and month (3).")
    parser.add_argument("--explain", type=Path, help="Write the EXPLAIN of each route's SQL here.")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from inprocess import setup_django

    setup_django(cache_prefix="cashback-analytics-cold")

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from accounts.serializers import tokens_for
    from purchases.models import MonthTotals, Purchase
    from purchases.months import format_month, shift_month

    staff = User.objects.filter(is_staff=True, is_superuser=True).first()
    months = [format_month(month) for month in MonthTotals.objects.values_list("month", flat=True)]
    last = MonthTotals.objects.values_list("month", flat=True).last()
    empty = format_month(shift_month(last, -24))
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {tokens_for(staff)['access']}")
    admin = Client(HTTP_HOST="127.0.0.1")
    admin.force_login(staff)
    base = "/api/v1/analytics"
    routes: dict[str, list[tuple[Client, str]]] = {
        "floor: GET / (no database)": [(api, "/")],
        "summary": [(api, f"{base}/summary/?month={month}") for month in [*months, empty]],
        "monthly, 12 months": [(api, f"{base}/monthly/?to={format_month(last)}")],
        "monthly, 120 months": [
            (api, f"{base}/monthly/?from={format_month(shift_month(last, -119))}&to={format_month(last)}")
        ],
        "top-resellers, limit 10": [(api, f"{base}/top-resellers/?month={month}") for month in months],
        "top-resellers, limit 100": [
            (api, f"{base}/top-resellers/?month={month}&limit=100") for month in months
        ],
        "top-products, limit 10": [(api, f"{base}/top-products/?month={month}") for month in months],
        "top-products, limit 100": [
            (api, f"{base}/top-products/?month={month}&limit=100") for month in months
        ],
        "admin analytics page, 36 months": [
            (admin, f"/admin/analytics/?from={format_month(shift_month(last, -35))}&to={format_month(last)}")
        ],
        "admin index (pending, month panels)": [(admin, "/admin/")],
    }

    def clear_cache():
        # This script's keys only (its own CACHE_KEY_PREFIX): never the whole store.
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")
        else:
            cache.clear()

    def timed(client: Client, path: str):
        clear_cache()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
        sql = sum(float(query["time"]) for query in captured.captured_queries)
        return elapsed * 1000, sql * 1000, captured.captured_queries

    for requests in routes.values():  # connections, imports, templates, the planner's caches
        timed(*requests[0])
    print(
        f"{Purchase.objects.count():,} purchases in {connection.settings_dict['NAME']}; "
        f"{len(months)} months; every request cold, {args.repeat} per route and month."
    )
    print("| route | requests | p50 | max | SQL p50 | SQL max | queries |")
    print("|---|---|---|---|---|---|---|")
    explained = []
    for name, requests in routes.items():
        times, sql_times, queries = [], [], None
        for client, path in requests:
            for _ in range(args.repeat):
                elapsed, sql, queries = timed(client, path)
                times.append(elapsed)
                sql_times.append(sql)
        print(
            f"| {name} | {len(times)} | {statistics.median(times):.1f} ms | {max(times):.1f} ms "
            f"| {statistics.median(sql_times):.1f} ms | {max(sql_times):.1f} ms | {len(queries)} |"
        )
        explained.append((name, requests[-1][1], queries))

    if args.explain:
        lines = [f"# EXPLAIN of the analytics reads ({connection.settings_dict['NAME']})"]
        for name, path, queries in explained:
            lines += ["", f"## {name}", "", f"`GET {path}`"]
            for query in queries:
                sql = query["sql"]
                if not sql.startswith("SELECT") or any(
                    table in sql.split(" WHERE ")[0]
                    for table in ('FROM "accounts_user"', '"django_session"', '"auth_')
                ):
                    continue
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                lines += ["", "```sql", sql, "```", "", "```", plan, "```"]
        args.explain.write_text("\n".join(lines) + "\n")
        print(f"Wrote {args.explain}")


if __name__ == "__main__":
    main()
