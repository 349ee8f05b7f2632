#!/usr/bin/env python
"""The performance page's chart and figures, from the load test's JSON.

Reads bench/results/mixed-<size>.json and best-<size>.json (written by
``make loadtest``), draws each route's ratio to the ceiling, best case and
mixed workload side by side, into docs/performance.svg (plain SVG, no
plotting library), and rewrites the figures section of docs/performance.md
(between its ``figures`` markers). Standard library only:

    python bench/chart.py              # the 1m results
    python bench/chart.py --size 10m
"""

import argparse
import json
import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SVG = ROOT / "docs" / "performance.svg"
PAGE = ROOT / "docs" / "performance.md"
START, END = "<!-- figures:start (bench/chart.py) -->", "<!-- figures:end -->"

sys.path.insert(0, str(ROOT / "bench"))
import report  # noqa: E402  (bench/report.py)
import workload  # noqa: E402  (bench/workload.py)

# Chart rows: label, the best-case route (its name starts with this), the
# mixed workload's route (or "<list>|<filter>" for a list's filter).
ROWS = [
    ("whole mix", None, "*"),
    ("reseller list", "purchase list, reseller", workload.RESELLER_LIST),
    ("staff list", "purchase list, staff, page_size", workload.STAFF_LIST),
    ("staff list, month filter", "purchase list, staff, month=", f"{workload.STAFF_LIST}|month"),
    ("reseller month summary", "resellers/me/summary", workload.RESELLER_SUMMARY),
    ("product list", "product list", workload.PRODUCT_LIST),
    ("analytics summary", "analytics summary", workload.ANALYTICS_SUMMARY),
    ("analytics monthly", "analytics/monthly", workload.ANALYTICS_MONTHLY),
    ("analytics top-resellers", None, workload.ANALYTICS_TOP_RESELLERS),
    ("analytics top-products", None, workload.ANALYTICS_TOP_PRODUCTS),
    ("create a purchase", "POST /purchases/, ", workload.CREATE),
    ("update a purchase", None, workload.UPDATE),
    ("delete a purchase", None, workload.DELETE),
    ("approve a purchase", None, workload.APPROVE),
]
BEST_COLOUR, MIXED_COLOUR, TARGET_COLOUR = "#9aa7b8", "#d9822b", "#1f6f43"


def load(results: Path, kind: str, size: str) -> dict | None:
    path = results / f"{kind}-{size}.json"
    return json.loads(path.read_text()) if path.exists() else None


def mixed_row(mixed: dict, key: str) -> dict | None:
    if key == "*":
        return mixed["whole"]
    group, _, part = key.partition("|")
    if part:
        rows = mixed["breakdown"].get(group, {}).get("filters", [])
    else:
        rows = mixed["routes"]
        part = group
    return next((row for row in rows if row["name"] == part), None)


def best_row(best: dict | None, prefix: str | None) -> dict | None:
    if best is None or prefix is None:
        return None
    return next((row for row in best["routes"] if row["name"].startswith(prefix)), None)


def rows(mixed: dict, best: dict | None) -> list[dict]:
    out = []
    for label, best_prefix, mixed_key in ROWS:
        found_mixed = mixed_row(mixed, mixed_key)
        found_best = best_row(best, best_prefix)
        if found_mixed is None and found_best is None:
            continue
        target = report.TARGETS.get(mixed_key.split("|")[0])
        out.append({"label": label, "best": found_best, "mixed": found_mixed, "target": target})
    return out


def svg(chart_rows: list[dict], title: str) -> str:
    label_width, bar_area, row_height, bar_height, top = 190, 520, 34, 12, 58
    ratios = [
        row[kind]["ratio"]
        for row in chart_rows
        for kind in ("best", "mixed")
        if row[kind] and row[kind]["ratio"]
    ]
    scale_max = max([0.1, *ratios, *(row["target"] or 0 for row in chart_rows)])
    step = 0.1 if scale_max > 0.3 else 0.05
    scale_max = step * (int(scale_max / step) + 1)
    width = label_width + bar_area + 70
    height = top + row_height * len(chart_rows) + 40

    def x(value: float) -> float:
        return label_width + bar_area * value / scale_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<rect x="10" y="32" width="12" height="10" fill="{BEST_COLOUR}"/>'
        '<text x="27" y="41">best case (the same URL again and again)</text>',
        f'<rect x="290" y="32" width="12" height="10" fill="{MIXED_COLOUR}"/>'
        '<text x="307" y="41">mixed workload</text>',
        f'<line x1="420" y1="37" x2="436" y2="37" stroke="{TARGET_COLOUR}" stroke-width="2" '
        'stroke-dasharray="3,2"/><text x="441" y="41">target (mixed)</text>',
    ]
    bottom = top + row_height * len(chart_rows)
    tick = 0.0
    while tick <= scale_max + 1e-9:
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{bottom}" stroke="#e4e7eb"/>'
            f'<text x="{x(tick):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{tick:.2f}</text>'
        )
        tick += step
    parts.append(
        f'<text x="{label_width + bar_area / 2:.0f}" y="{bottom + 32}" text-anchor="middle" fill="#555">'
        "ratio to the bare-Django ceiling measured in the same run (higher is better)</text>"
    )
    for index, row in enumerate(chart_rows):
        y = top + index * row_height
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row_height / 2 + 4:.0f}" text-anchor="end">'
            f"{escape(row['label'])}</text>"
        )
        for offset, kind, colour in ((3, "best", BEST_COLOUR), (3 + bar_height + 2, "mixed", MIXED_COLOUR)):
            found = row[kind]
            if not found or found.get("ratio") is None:
                continue
            value = found["ratio"]
            parts.append(
                f'<rect x="{label_width}" y="{y + offset}" width="{max(1.0, x(value) - label_width):.1f}" '
                f'height="{bar_height}" fill="{colour}"><title>{escape(row["label"])}, {kind}: '
                f"{value:.3f}</title></rect>"
                f'<text x="{x(value) + 4:.1f}" y="{y + offset + bar_height - 2}" font-size="10" fill="#333">'
                f"{value:.3f}</text>"
            )
        if row["target"]:
            parts.append(
                f'<line x1="{x(row["target"]):.1f}" y1="{y + 1}" x2="{x(row["target"]):.1f}" '
                f'y2="{y + row_height - 3}" stroke="{TARGET_COLOUR}" stroke-width="2" '
                'stroke-dasharray="3,2"/>'
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def figures_markdown(chart_rows: list[dict], mixed: dict, best: dict | None, size: str) -> str:
    data, setup = mixed["dataset"], mixed["setup"]
    ceilings = [run["requests_per_second"] for run in mixed["ceiling_runs"]]
    whole = mixed["whole"]
    lines = [
        START,
        "",
        f"Measured {mixed['started_local']} on {mixed['code']}: {data['purchases']:,} purchases, "
        f"{data['resellers']:,} resellers; {mixed['machine']['cores']} cores shared by wrk, two gunicorn "
        f"sync workers, PostgreSQL {mixed['versions']['postgresql']} and Redis; ceiling "
        f"{min(ceilings):,.0f} to {max(ceilings):,.0f} requests/s. Source: `bench/results/mixed-{size}.json`"
        + (f" and `best-{size}.json`" if best else "")
        + "; every figure of the run, with the lists broken down by filter, ordering and page, is in "
        "[bench/RESULTS.md](../bench/RESULTS.md).",
        "",
        f"Whole mixed workload: {whole['requests_per_second']:,.1f} requests/s, "
        f"**{whole['ratio']:.3f}** of the ceiling, p50 {report.milliseconds(whole['latency_ms']['p50'])}, "
        f"p99 {report.milliseconds(whole['latency_ms']['p99'])}, {whole['requests']:,} answers in "
        f"{setup['mixed_duration']} s, {whole['server_errors']} server errors.",
        "",
        "| route | best case | mixed | mixed p50 | mixed p99 | mixed: answered from cache | target (mixed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in chart_rows[1:]:
        best_ratio = f"{row['best']['ratio']:.3f}" if row["best"] else "—"
        found = row["mixed"]
        if found is None:
            mixed_cells = "— | — | — | —"
        else:
            write = row["label"].split()[0] in {"create", "update", "delete", "approve"}
            cache = "—" if write else report.percent(found["from_cache"])
            ratio = "—" if found.get("ratio") is None else f"{found['ratio']:.3f}"
            mixed_cells = (
                f"{ratio} | {report.milliseconds(found['latency_ms']['p50'])} | "
                f"{report.milliseconds(found['latency_ms']['p99'])} | {cache}"
            )
        target = f"≥ {row['target']:.2f}, p99 ≤ {report.TARGET_P99_MS} ms" if row["target"] else ""
        lines.append(f"| {row['label']} | {best_ratio} | {mixed_cells} | {target} |")
    lines += ["", "![Each route's ratio to the ceiling, best case and mixed](performance.svg)", "", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1m", help="which results: <kind>-SIZE.json (default 1m)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="their directory (default bench/results)"
    )
    args = parser.parse_args()
    mixed, best = load(args.results, "mixed", args.size), load(args.results, "best", args.size)
    if mixed is None:
        sys.exit(f"No {args.results / f'mixed-{args.size}.json'}: run `make loadtest` first.")
    chart_rows = rows(mixed, best)
    title = (
        f"Ratio to the ceiling, {mixed['dataset']['purchases']:,} purchases "
        f"({mixed['started_local'].split()[0]}, {mixed['code'].removeprefix('commit ')})"
    )
    SVG.write_text(svg(chart_rows, title))
    page = PAGE.read_text()
    if START not in page or END not in page:
        sys.exit(f"{PAGE} lacks the markers {START} and {END}.")
    before, _, rest = page.partition(START)
    _, _, after = rest.partition(END)
    PAGE.write_text(before + figures_markdown(chart_rows, mixed, best, args.size) + after)
    print(f"Wrote {SVG.relative_to(ROOT)} and the figures of {PAGE.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
