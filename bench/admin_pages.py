"""Every admin page staff can open, timed cold, at every depth its
paginator offers: the contract asks each to answer under 300 ms cold.

For each registered model's changelist: the list, each of its filters'
first choices, a search, and the pages 2, 10, 100 and the last one the
paginator offers (it is bounded: see core.pagination); a change page; the
index and the pages apps add to the site (analytics). Each page is requested
in-process through the whole stack (sessions, middleware, templates) as a
superuser, with the application's cache emptied before every request; the
median of three is reported, with the slowest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cashback_loadtest \
        .venv/bin/python bench/admin_pages.py [--output bench/ADMIN.md] [--limit-ms 300]

Exits 1 when a page's median is over the limit. Notes written by hand in the
report between "<!-- notes:start -->" and "<!-- notes:end -->" are kept when
it is written again.
"""

import argparse
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"


def kept_notes(output: Path) -> list[str]:
    """The hand-written notes of the report being replaced (between the
    notes markers), kept across runs."""
    if not output.exists():
        return []
    text = output.read_text()
    if NOTES_START not in text or NOTES_END not in text:
        return []
    return ["", NOTES_START + text.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0] + NOTES_END]


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "ADMIN.md")
    parser.add_argument("--limit-ms", type=float, default=300.0)
    return parser.parse_args()


def setup() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from inprocess import setup_django

    setup_django(cache_prefix="cashback-admin-pages")


def pages() -> list[tuple[str, str]]:
    """(title, path) of every page to time."""
    from django.contrib import admin
    from django.urls import reverse

    found = [("Index", reverse("admin:index"))]
    for page in getattr(admin.site, "_pages", []):
        if page.title:
            found.append((f"Page: {page.title}", reverse(f"admin:{page.name}")))
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        name = str(opts.verbose_name_plural)
        found.append((f"{name}: list", changelist))
        first = model_admin.get_queryset(_request()).order_by("-pk").values_list("pk", flat=True).first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first])
            found.append((f"{name}: change page", change))
        if model_admin.search_fields:
            found.append((f"{name}: search", f"{changelist}?{urlencode({'q': 'maria'})}"))
        for query in _filter_choices(changelist):
            found.append((f"{name}: filter {query}", f"{changelist}?{query}"))
        for page_number in _pages_offered(changelist):
            found.append((f"{name}: page {page_number}", f"{changelist}?p={page_number}"))
    return found


_REQUEST = None


def _request():
    global _REQUEST
    if _REQUEST is None:
        from django.test import RequestFactory

        from accounts.models import User

        _REQUEST = RequestFactory().get("/")
        _REQUEST.user = User.objects.filter(is_superuser=True, is_active=True).first()
    return _REQUEST


def _client():
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(_request().user)
    return client


def _filter_choices(changelist: str) -> list[str]:
    """The first choice of each filter in the changelist's sidebar."""
    html = _client().get(changelist).content.decode()
    sidebar = html.split('id="changelist-filter"', 1)[-1] if 'id="changelist-filter"' in html else ""
    queries, seen = [], set()
    for href in re.findall(r'<a href="\?([^"]+)"', sidebar):
        query = href.replace("&amp;", "&")
        key = query.split("=", 1)[0]
        if key in seen or "=" not in query:
            continue
        seen.add(key)
        queries.append(query)
    return queries


def _pages_offered(changelist: str) -> list[int]:
    """Pages 2, 10, 100 and the last the paginator links to."""
    html = _client().get(changelist).content.decode()
    numbers = [int(n) for n in re.findall(r'href="\?p=(\d+)"', html)]
    if not numbers:
        return []
    last = max(numbers)
    return sorted({n for n in (2, 10, 100, last) if n <= last})


def main() -> None:
    args = parse_args()
    setup()
    from django.core.cache import cache
    from django.db import connection

    from purchases.models import Purchase

    def clear_cache():
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")
        else:
            cache.clear()

    from django.test.utils import CaptureQueriesContext

    client = _client()
    rows, over = [], []
    load_before = os.getloadavg()
    for title, path in pages():
        times, database, status, queries = [], [], None, 0
        for _ in range(REPEATS):
            clear_cache()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
            database.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
            status, queries = response.status_code, len(captured.captured_queries)
        median, worst = statistics.median(times), max(times)
        rows.append(
            f"| {title} | `{path}` | {status} | {median:,.0f} | {worst:,.0f} | "
            f"{queries} | {statistics.median(database):,.0f} |"
        )
        if median > args.limit_ms or status >= 400:
            over.append(title)
        print(f"{median:7.0f} ms  {worst:7.0f} ms  {status}  {title}", flush=True)
    load_after = os.getloadavg()
    purchases = Purchase.objects.count()
    text = [
        "# Admin pages, cold",
        "",
        f"Made by `bench/admin_pages.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC against "
        f"`{connection.settings_dict['NAME']}` ({purchases:,} purchases): every page requested "
        f"{REPEATS} times in-process as a superuser, the application's cache emptied before each. "
        f"Limit {args.limit_ms:,.0f} ms (median); {len(rows) - len(over)} of {len(rows)} pages within it. "
        f"The machine's load average (1 min) was {load_before[0]:.1f} before and {load_after[0]:.1f} "
        f'after, on {os.cpu_count()} CPUs. "queries" and "database ms" (the median of the time '
        "the queries took, as the client saw it) tell the database's share from the rest "
        "(templates, Python, waiting for a CPU).",
        "",
        "| page | path | status | median ms | slowest ms | queries | database ms |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    if over:
        text += ["", "Over the limit: " + "; ".join(over) + "."]
    text += kept_notes(args.output)
    args.output.write_text("\n".join(text) + "\n")
    print(f"Wrote {args.output}")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
