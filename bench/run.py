#!/usr/bin/env python
"""Seed a dataset, then time the main API routes in-process.

Runs against a scratch database made with Django's test-database machinery,
never the configured one: SQLite gets a temporary file, PostgreSQL a
``<name>_bench`` database on the same server (created, migrated, dropped).
Each route is requested through django.test.Client with a JWT, like a real
client, and timed end to end (middleware, authentication, view, rendering);
the SQL queries of every request are counted. See bench/README.md.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resellers", type=int, default=200, help="resellers to seed (default 200)")
    parser.add_argument("--purchases", type=int, default=20_000, help="purchases to seed (default 20,000)")
    parser.add_argument("--products", type=int, default=100, help="products to seed (default 100)")
    parser.add_argument("--months", type=int, default=12, help="months the purchases span (default 12)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data (default 42)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route (default 200)")
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the scratch database afterwards and reuse it (and its seed) next time",
    )
    return parser.parse_args()


def configure_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    # Measure the code as it runs in production: no DEBUG bookkeeping, quiet logs.
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    # A shared Redis keeps the bench's keys apart from everyone else's.
    os.environ.setdefault("CACHE_KEY_PREFIX", "cashback-bench")
    # collectstatic is not part of a benchmark.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    from django.conf import settings

    # One user sends hundreds of requests a minute here: no throttling. DRF
    # reads this lazily, so it must change before anything imports its views.
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []

    import django

    django.setup()


def create_scratch_database(keep: bool) -> str:
    """Point the default connection at a fresh scratch database; return the
    configured name, to restore it afterwards."""
    from django.db import connection

    configured = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        scratch = str(Path(tempfile.gettempdir()) / "cashback-bench.sqlite3")
    else:
        scratch = f"{configured}_bench"
    connection.settings_dict["TEST"]["NAME"] = scratch
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=keep)
    return configured


def destroy_scratch_database(configured: str, keep: bool) -> None:
    from django.db import connection

    connection.creation.destroy_test_db(configured, verbosity=0, keepdb=keep)


# --- The routes ---------------------------------------------------------------


@dataclass
class Case:
    name: str
    role: str  # "reseller" or "staff"
    path: str
    method: str = "get"
    body: Callable[[int], dict] | None = None  # request number -> JSON body
    before: Callable[[], None] | None = None  # untimed, before every request (e.g. empty the cache)


def cases(*, month: str, first_month: str, last_month: str, today: str) -> list[Case]:
    from core.cache import ANALYTICS as ANALYTICS_CACHE_NAMESPACE
    from core.cache import CATALOGUE as CATALOGUE_CACHE_NAMESPACE
    from core.cache import bump_version

    def cold(namespace: str) -> Callable[[], None]:
        # A new namespace version makes every cached answer unreachable,
        # without clearing a cache that may be shared.
        return lambda: bump_version(namespace)

    stamp = time.strftime("%Y%m%d%H%M%S")
    analytics = cold(ANALYTICS_CACHE_NAMESPACE)
    return [
        Case("purchases, reseller, page_size=100", "reseller", "/api/v1/purchases/?page_size=100"),
        Case("purchases, staff, page_size=100", "staff", "/api/v1/purchases/?page_size=100"),
        Case(f"purchases, staff, month={month}", "staff", f"/api/v1/purchases/?month={month}&page_size=100"),
        Case("resellers/me/summary", "reseller", "/api/v1/resellers/me/summary/"),
        Case("products, cold cache", "reseller", "/api/v1/products/", before=cold(CATALOGUE_CACHE_NAMESPACE)),
        Case("products, warm cache", "reseller", "/api/v1/products/"),
        Case("resellers, staff, page_size=100", "staff", "/api/v1/resellers/?page_size=100"),
        Case(
            f"analytics/summary {month}, cold",
            "staff",
            f"/api/v1/analytics/summary/?month={month}",
            before=analytics,
        ),
        Case(
            "analytics/monthly, cold",
            "staff",
            f"/api/v1/analytics/monthly/?from={first_month}&to={last_month}",
            before=analytics,
        ),
        Case(
            "analytics/top-resellers, cold",
            "staff",
            f"/api/v1/analytics/top-resellers/?month={month}&limit=10",
            before=analytics,
        ),
        Case(
            "analytics/top-products, cold",
            "staff",
            f"/api/v1/analytics/top-products/?month={month}&limit=10",
            before=analytics,
        ),
        Case(
            "POST purchases (create)",
            "reseller",
            "/api/v1/purchases/",
            method="post",
            body=lambda number: {"code": f"BENCH-{stamp}-{number:05d}", "value": "123.45", "date": today},
        ),
    ]


def send(client, case: Case, number: int):
    if case.method == "post":
        return client.post(case.path, case.body(number), content_type="application/json")
    return client.get(case.path)


def percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def measure(case: Case, client, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result = {"name": case.name, "method": case.method.upper(), "path": case.path}
    if case.before:
        case.before()
    first = send(client, case, 0)
    result["status"] = first.status_code
    if not 200 <= first.status_code < 300:
        # A route answering an error is reported, not measured.
        result["skipped"] = True
        return result

    latencies, queries, statuses = [], [], set()
    for number in range(1, requests + 1):
        if case.before:
            case.before()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = send(client, case, number)
            latencies.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured.captured_queries))
        statuses.add(response.status_code)
    result.update(
        skipped=False,
        statuses=sorted(statuses),
        requests=requests,
        p50_ms=round(statistics.median(latencies), 2),
        p95_ms=round(percentile(latencies, 95), 2),
        max_ms=round(max(latencies), 2),
        requests_per_second=round(requests / (sum(latencies) / 1000), 1),
        queries_min=min(queries),
        queries_max=max(queries),
    )
    return result


# --- Run ------------------------------------------------------------------------


def seed_dataset(args) -> dict:
    from django.core.management import call_command

    from purchases.models import Purchase, PurchaseItem
    from resellers.models import Reseller

    started = time.perf_counter()
    call_command(
        "seed",
        seed=args.seed,
        resellers=args.resellers,
        purchases=args.purchases,
        products=args.products,
        months=args.months,
        no_progress=True,
        verbosity=0,
    )
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "resellers": Reseller.objects.count(),
        "purchases": Purchase.objects.count(),
        "items": PurchaseItem.objects.count(),
    }


def environment() -> dict:
    import django
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        server = f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
    else:
        import sqlite3

        server = f"SQLite {sqlite3.sqlite_version}"
    return {
        "database": server,
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }


def run(args) -> dict:
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from accounts.serializers import tokens_for
    from config.seeding import generate
    from purchases.months import format_month
    from resellers.models import Reseller

    dataset = seed_dataset(args)
    # The busiest reseller: the worst case of the reseller routes.
    reseller = Reseller.objects.annotate(count=Count("purchases")).order_by("-count", "pk").first()
    staff = User.objects.get(email=generate.STAFF_EMAIL)
    dataset["reseller_purchases"] = reseller.count
    clients = {
        role: Client(
            headers={"Authorization": f"Bearer {tokens_for(user)['access']}"},
            raise_request_exception=False,  # a 500 is an answer to report
        )
        for role, user in (("reseller", reseller.user), ("staff", staff))
    }
    today = timezone.localdate()
    results = [
        measure(case, clients[case.role], args.requests)
        for case in cases(
            month=format_month(generate.first_month(today, 2)),  # the last full month
            first_month=format_month(generate.first_month(today, args.months)),
            last_month=format_month(today),
            today=today.isoformat(),
        )
    ]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "dataset": dataset,
        "requests_per_route": args.requests,
        "routes": results,
    }


def markdown(report: dict) -> str:
    env, data = report["environment"], report["dataset"]
    lines = [
        f"{env['database']}, {env['cache']} cache, Python {env['python']}, Django {env['django']}, "
        f"{env['cpus']} CPUs",
        "",
        f"Dataset: {data['resellers']} resellers, {data['purchases']} purchases ({data['items']} items), "
        f"seeded in {data['seconds']} s; the reseller routes use the busiest reseller "
        f"({data['reseller_purchases']} purchases).",
        f"{report['requests_per_route']} requests per route.",
        "",
        "| route | status | queries | p50 ms | p95 ms | max ms | req/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for route in report["routes"]:
        if route["skipped"]:
            lines.append(f"| {route['name']} | n/a ({route['status']}) | | | | | |")
            continue
        queries = str(route["queries_min"])
        if route["queries_max"] != route["queries_min"]:
            queries += f" to {route['queries_max']}"
        status = "/".join(str(code) for code in route["statuses"])
        lines.append(
            f"| {route['name']} | {status} | {queries} | {route['p50_ms']} | {route['p95_ms']} | "
            f"{route['max_ms']} | {route['requests_per_second']} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    configure_django()
    configured = create_scratch_database(args.keep_db)
    try:
        report = run(args)
    finally:
        destroy_scratch_database(configured, args.keep_db)

    print(markdown(report))
    RESULTS.mkdir(parents=True, exist_ok=True)
    vendor = report["environment"]["database"].split()[0].lower()
    path = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{vendor}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nSaved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
