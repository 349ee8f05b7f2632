#!/usr/bin/env python
"""Each route's cost at two dataset sizes, side by side, from the load
test's JSON: bench/results/{mixed,alone,best}-<size>.json of two runs of
``make loadtest`` (e.g. 1,000,000 and 10,000,000 purchases).

A route's cost is the inverse of its ratio to the ceiling (the number of
ceiling requests one of its requests is worth), measured against the
ceiling of its own run, so two runs compare even on a shared machine. The
growth is the cost at the larger size over the cost at the smaller; the
scaling guide asks for 1.5 at most. Rewrites the section of
docs/scaling.md between its ``sizes`` markers. Standard library only:

    python bench/sizes.py                     # 1m against 10m
    python bench/sizes.py --small 1m --large 10m
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "scaling.md"
START, END = "<!-- sizes:start (bench/sizes.py) -->", "<!-- sizes:end -->"
MAX_GROWTH = 1.5

sys.path.insert(0, str(ROOT / "bench"))
import report  # noqa: E402  (bench/report.py)


def load(results: Path, kind: str, size: str) -> dict | None:
    path = results / f"{kind}-{size}.json"
    return json.loads(path.read_text()) if path.exists() else None


def growth(small: dict | None, large: dict | None) -> float | None:
    """The large run's cost over the small run's (cost: 1 / ratio)."""
    if not small or not large or not small.get("ratio") or not large.get("ratio"):
        return None
    return small["ratio"] / large["ratio"]


def _ratio(row: dict | None) -> str:
    return "—" if not row or row.get("ratio") is None else f"{row['ratio']:.3f}"


def _server_p50(row: dict | None) -> str:
    if not row or not row.get("server_ms"):
        return "—"
    return report.milliseconds(row["server_ms"]["p50"])


def _growth_cell(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}\N{MULTIPLICATION SIGN}"
    return text if value <= MAX_GROWTH else f"**{text}**"


def table(small: dict, large: dict, labels: tuple[str, str]) -> tuple[list[str], list[str]]:
    """The rows of both runs by route name (the small run's order), and the
    names of the routes that grew more than MAX_GROWTH."""
    by_name = {row["name"]: row for row in large["routes"]}
    lines = [
        f"| route | ratio, {labels[0]} | ratio, {labels[1]} | cost growth | server p50, {labels[0]} "
        f"| server p50, {labels[1]} |",
        "|---|---|---|---|---|---|",
    ]
    over = []
    for row in small["routes"]:
        other = by_name.get(row["name"])
        grown = growth(row, other)
        if grown is not None and grown > MAX_GROWTH:
            over.append(row["name"])
        lines.append(
            f"| {row['name']} | {_ratio(row)} | {_ratio(other)} | {_growth_cell(grown)} | "
            f"{_server_p50(row)} | {_server_p50(other)} |"
        )
    return lines, over


def label(run: dict) -> str:
    purchases = run["dataset"]["purchases"]
    return f"{purchases / 1e6:g}M" if purchases >= 1_000_000 else f"{purchases:,}"


def section(runs: dict) -> str:
    (small_mixed, small_alone, small_best) = runs["small"]
    (large_mixed, large_alone, large_best) = runs["large"]
    labels = (label(small_mixed), label(large_mixed))
    lines = [START, ""]
    for name, run in zip(labels, (small_mixed, large_mixed), strict=True):
        data, ceilings = run["dataset"], [part["requests_per_second"] for part in run["ceiling_runs"]]
        lines.append(
            f"- {name}: {data['purchases']:,} purchases, {data['resellers']:,} resellers; measured "
            f"{run['started_local']} on {run['code']}; ceiling {min(ceilings):,.0f} to "
            f"{max(ceilings):,.0f} requests/s."
        )
    grown = growth(small_mixed["whole"], large_mixed["whole"])
    lines += [
        "",
        f"Whole mixed workload: **{small_mixed['whole']['ratio']:.3f}** of the ceiling at {labels[0]}, "
        f"**{large_mixed['whole']['ratio']:.3f}** at {labels[1]} (cost growth {_growth_cell(grown)}).",
        "",
        "Mixed workload, by route:",
        "",
    ]
    mixed_lines, mixed_over = table(small_mixed, large_mixed, labels)
    lines += mixed_lines
    alone_over: list[str] = []
    if small_alone and large_alone:
        alone_lines, alone_over = table(small_alone, large_alone, labels)
        title = "Each route of the mix alone (its random requests, nothing else at once):"
        lines += ["", title, "", *alone_lines]
    best_over: list[str] = []
    if small_best and large_best:
        best_lines, best_over = table(small_best, large_best, labels)
        lines += ["", "Best case (the same URL again and again), by route:", "", *best_lines]
    over = (
        [f"{name} (mixed)" for name in mixed_over]
        + [f"{name} (alone)" for name in alone_over]
        + [f"{name} (best case)" for name in best_over]
    )
    grew = ", ".join(over) if over else "none"
    lines += ["", f"Routes whose cost grew more than {MAX_GROWTH}\N{MULTIPLICATION SIGN}: {grew}.", "", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", default="1m", help="the smaller size's results (default 1m)")
    parser.add_argument("--large", default="10m", help="the larger size's results (default 10m)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="their directory (default bench/results)"
    )
    args = parser.parse_args()
    runs = {}
    for which, size in (("small", args.small), ("large", args.large)):
        mixed = load(args.results, "mixed", size)
        if mixed is None:
            sys.exit(f"No {args.results / f'mixed-{size}.json'}: run `make loadtest` at that size first.")
        runs[which] = (mixed, load(args.results, "alone", size), load(args.results, "best", size))
    page = PAGE.read_text()
    if START not in page or END not in page:
        sys.exit(f"{PAGE} lacks the markers {START} and {END}.")
    before, _, rest = page.partition(START)
    _, _, after = rest.partition(END)
    PAGE.write_text(before + section(runs) + after)
    print(f"Wrote the sizes section of {PAGE.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
