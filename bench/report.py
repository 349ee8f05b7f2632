"""Figures and the Markdown report of bench/loadtest.py, from the records of
bench/loadtest.lua (one per answer: route, status, latency, probe header).

Definitions (bench/README.md, "Reading the results"):

- requests/s: answers received during the measured seconds / those seconds;
- p50, p90, p99: nearest-rank percentiles of the client-side latencies;
- server time: the application's own time per request (bench/probe.py), no
  queueing, no socket;
- answered from cache: the share of the 2xx answers that read no data (no
  SELECT but the authentication's user lookup);
- counted without COUNT: of the list answers that did read data, the share
  that ran no ``SELECT COUNT(*)`` (their count came from maintained figures,
  a short cache, or a page that was not full);
- ratio to the ceiling: requests/s / the ceiling's, measured just before and
  after. The mixed run is measured in segments with a ceiling run between
  them; its ratio is the segments' ratios weighted by their seconds. A
  route's share of the mix's capacity is attributed by its server time:
  ratio = the whole mix's ratio x the mix's mean server time / the route's
  mean server time, i.e. the rate the server would reach if every request
  cost what this route's cost in the mix.
"""

from collections import Counter, defaultdict

import workload

# Targets of the mixed workload (issue 20).
TARGETS = {
    workload.RESELLER_LIST: 0.20,
    workload.STAFF_LIST: 0.12,
}
TARGET_P99_MS = 100
FEW_REQUESTS = 30
LISTS = (workload.RESELLER_LIST, workload.STAFF_LIST)
BREAKDOWN = ("filters", "ordering", "pages")


def milliseconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def role_label(role: str, connections: int) -> str:
    return {
        "reseller": "busiest reseller",
        "resellers": f"{connections} busiest resellers",
        "staff": "staff",
    }.get(role, role)


def percentile(ordered: list, fraction: float):
    """Nearest rank: the smallest value with at least ``fraction`` of the values at or below it."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def figures(records: list, seconds: float) -> dict:
    latencies = sorted(record.latency_us / 1000 for record in records)
    statuses = Counter(record.status for record in records)
    ok = [record for record in records if 200 <= record.status < 300 and record.probe]
    probed = [record for record in records if record.probe]
    server = sorted(record.probe["t"] / 1000 for record in probed)
    reading = [record for record in ok if record.probe["d"]]
    return {
        "requests": len(records),
        "requests_per_second": round(len(records) / seconds, 2) if seconds else 0.0,
        "latency_ms": {
            "p50": percentile(latencies, 0.50),
            "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else None,
            "mean": round(sum(latencies) / len(latencies), 3) if latencies else None,
        },
        "server_ms": {
            "p50": percentile(server, 0.50),
            "p99": percentile(server, 0.99),
            "mean": round(sum(server) / len(server), 3) if server else None,
        }
        if server
        else None,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "non2xx": sum(count for status, count in statuses.items() if not 200 <= status < 300),
        "server_errors": sum(count for status, count in statuses.items() if status >= 500),
        "from_cache": round(1 - len(reading) / len(ok), 4) if ok else None,
        "count_from_cache": round(sum(1 for record in reading if not record.probe["c"]) / len(reading), 4)
        if reading
        else None,
        "queries_per_request": round(sum(record.probe["q"] for record in probed) / len(probed), 2)
        if probed
        else None,
    }


def route_figures(records: list, seconds: float, key=lambda route: route.split("|")[0]) -> list[dict]:
    grouped = defaultdict(list)
    for record in records:
        grouped[key(record.route)].append(record)
    return [{"name": name, **figures(items, seconds)} for name, items in grouped.items()]


def _wrk(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key != "records"}


def mixed_run(segments: list[tuple[dict, float]], *, workers: int) -> dict:
    """``segments``: (wrk summary with its records, the ceiling's requests/s
    around it) of each measured segment, in order. The whole mix's ratio is
    the segments' ratios weighted by their seconds: each against the
    ceiling runs on its either side, so a machine whose speed drifts during
    the minute is followed."""
    records = [record for summary, _ in segments for record in summary["records"]]
    seconds = sum(summary["duration_us"] for summary, _ in segments) / 1e6
    whole = figures(records, seconds)
    parts = [
        {
            "seconds": round(summary["duration_us"] / 1e6, 2),
            "requests_per_second": round(len(summary["records"]) / (summary["duration_us"] / 1e6), 2),
            "ceiling_requests_per_second": round(ceiling, 1),
        }
        for summary, ceiling in segments
    ]
    for part in parts:
        part["ratio"] = round(part["requests_per_second"] / part["ceiling_requests_per_second"], 4)
    whole["ratio"] = round(sum(part["ratio"] * part["seconds"] for part in parts) / seconds, 4)
    probed = [record for record in records if record.probe]
    busy = sum(record.probe["t"] for record in probed) / 1e6
    whole["workers_busy"] = round(busy / (workers * seconds), 3)
    mean_server = busy / len(probed) if probed else None

    def attributed(row: dict) -> dict:
        route_mean = row["server_ms"]["mean"] / 1000 if row["server_ms"] else None
        row["share"] = round(row["requests"] / len(records), 4)
        row["ratio"] = round(whole["ratio"] * mean_server / route_mean, 4) if route_mean else None
        return row

    order = {name: index for index, name in enumerate(workload.MIX)}
    routes = sorted(route_figures(records, seconds), key=lambda row: order.get(row["name"], len(order)))
    breakdown = {}
    for group in LISTS:
        mine = [record for record in records if record.route.split("|")[0] == group]
        breakdown[group] = {
            part: sorted(
                (
                    attributed(row)
                    for row in route_figures(mine, seconds, key=lambda route, i=i: route.split("|")[i])
                ),
                key=lambda row: -row["requests"],
            )
            for i, part in enumerate(BREAKDOWN, start=1)
        }
    wrk = {
        "requests": sum(summary["requests"] for summary, _ in segments),
        "errors": {
            name: sum(summary["errors"][name] for summary, _ in segments) for name in segments[0][0]["errors"]
        },
        "wraps": sum(summary["wraps"] for summary, _ in segments),
        "idle_wait_seconds": [summary["idle_wait_seconds"] for summary, _ in segments],
    }
    return {
        # The ceiling the whole mix's rate and ratio imply.
        "ceiling_requests_per_second": round(whole["requests_per_second"] / whole["ratio"], 1),
        "segments": parts,
        "whole": whole,
        "routes": [attributed(row) for row in routes],
        "breakdown": breakdown,
        "wrk": wrk,
    }


def route_run(name: str, summary: dict, *, ceiling_rps: float, repeated: bool) -> dict:
    row = {"name": name, **figures(summary["records"], summary["duration_us"] / 1e6)}
    row["ceiling_requests_per_second"] = round(ceiling_rps, 1)
    row["ratio"] = round(row["requests_per_second"] / ceiling_rps, 4)
    row["wrk"] = _wrk(summary)
    row["repeated"] = repeated
    return row


def documents(meta: dict, results: dict, description: dict) -> dict:
    out = {}
    if results["mixed"]:
        out["mixed"] = {"kind": "mixed", **meta, "workload": description, **results["mixed"]}
    if results["alone"]:
        out["alone"] = {"kind": "alone", **meta, "workload": description, "routes": results["alone"]}
    if results["best"]:
        out["best"] = {"kind": "best", **meta, "routes": results["best"]}
    return out


def failures(docs: dict) -> list[str]:
    found = []
    if "mixed" in docs and docs["mixed"]["whole"]["server_errors"]:
        found.append(f"the mixed workload had {docs['mixed']['whole']['server_errors']} 5xx answers")
    for kind in ("alone", "best"):
        for row in docs.get(kind, {}).get("routes", []):
            if row["server_errors"]:
                found.append(f"{kind}: {row['name']} had {row['server_errors']} 5xx answers")
    return found


def _statuses(row: dict) -> str:
    text = f"{row['non2xx']:,}"
    wrk = row.get("wrk", {})
    errors = sum(wrk.get("errors", {}).get(name, 0) for name in ("connect", "read", "write", "timeout"))
    if errors:
        text += f" (+{errors:,} socket errors)"
    if row["non2xx"]:
        others = ", ".join(
            f"{count:,} x {status}" for status, count in row["statuses"].items() if status[0] != "2"
        )
        text += f": {others}"
    return text


def _rate(row: dict) -> str:
    text = f"{row['requests_per_second']:,.1f}"
    if row["requests"] < FEW_REQUESTS:
        text += f" ({row['requests']} requests)*"
    if row.get("wrk", {}).get("wraps") and not row.get("repeated"):
        text += " (request files ran out: repeated requests)"
    return text


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _context(doc: dict) -> list[str]:
    host, soft, data, setup = doc["machine"], doc["versions"], doc["dataset"], doc["setup"]
    ceilings = [run["requests_per_second"] for run in doc["ceiling_runs"]]
    seeding = "template reused" if setup["template_reused"] else f"seeded in {setup['seed_seconds']:,} s"
    return [
        f"Run {doc['started_local']} (`make loadtest`), {doc['code']}.",
        "",
        f"- Machine: {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB, {host['system']}; "
        f"load average {doc['load_average']['start']} at the start, {doc['load_average']['end']} "
        "at the end (the machine is shared: compare ratios, not raw figures).",
        f"- Software: PostgreSQL {soft['postgresql']}, Redis {soft['redis']}, Python {soft['python']}, "
        f"Django {soft['django']}, gunicorn {soft['gunicorn']} ({setup['workers']} sync workers, "
        f"production settings), wrk {soft['wrk']}.",
        f"- Dataset: {data['resellers']:,} resellers, {data['purchases']:,} purchases "
        f"({data['items']:,} items), {data['products']} products over {data['months']} months "
        f"(`manage.py seed --seed {data['seed']}`); the busiest reseller has "
        f"{data['busiest_reseller_purchases']:,} purchases.",
        f"- Load: wrk on loopback, {setup['connections']} connections (one thread each). "
        f"Ceiling (bench/ceiling.py): {min(ceilings):,.0f} to {max(ceilings):,.0f} requests/s over "
        f"{len(ceilings)} runs (mean {sum(ceilings) / len(ceilings):,.0f}).",
        f"- Set-up: {seeding}; template copied in {setup['copy_seconds']} s; whole run "
        f"{doc['total_seconds']:,.0f} s.",
    ]


def _mixed(doc: dict) -> list[str]:
    whole, setup = doc["whole"], doc["setup"]
    wraps = doc["wrk"].get("wraps", 0)
    lines = [
        "## Mixed workload",
        "",
        f"{doc['dataset']['resellers_with_purchases']:,} resellers chosen Zipf-like (the k-th busiest in "
        f"proportion to 1/k), random filters, orderings and pages, staff lists and analytics, the "
        f"catalogue, and 10 % writes, all interleaved on {setup['connections']} connections "
        f"(bench/workload.py); {setup['mixed_warmup']} s of warm-up, then {setup['mixed_duration']} s "
        + (
            f"measured in {len(doc['segments'])} segments with a ceiling run between them (the segments' "
            f"ratios: {', '.join(_ratio(part['ratio']) for part in doc['segments'])})."
            if len(doc["segments"]) > 1
            else "measured."
        ),
        "",
        f"Whole mix: **{whole['requests_per_second']:,.1f} requests/s, {whole['ratio']:.3f} of the ceiling** "
        f"(the segments' ratios weighted by their seconds), p50 "
        f"{milliseconds(whole['latency_ms']['p50'])}, p99 {milliseconds(whole['latency_ms']['p99'])}, "
        f"{whole['requests']:,} answers, non-2xx {_statuses(whole)}; the workers spent "
        # The window's edges (wrk's start and stop) can put it a little over 100 %.
        f"{min(1.0, whole['workers_busy']):.0%} of the measured time inside the application."
        + (f" **The request files ran out and started again {wraps} times.**" if wraps else ""),
        "",
        "| route | share | requests/s | ratio to ceiling | p50 | p99 | server p50 | server p99 "
        "| answered from cache | counted without COUNT | SQL per request | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in doc["routes"]:
        write = row["name"] in workload.WRITES
        server = row["server_ms"] or {}
        lines.append(
            f"| {row['name']} | {row['share']:.1%} | {_rate(row)} | {_ratio(row['ratio'])} | "
            f"{milliseconds(row['latency_ms']['p50'])} | {milliseconds(row['latency_ms']['p99'])} | "
            f"{milliseconds(server.get('p50'))} | {milliseconds(server.get('p99'))} | "
            f"{'—' if write else percent(row['from_cache'])} | "
            f"{percent(row['count_from_cache']) if row['name'] in LISTS else '—'} | "
            f"{row['queries_per_request'] if row['queries_per_request'] is not None else '—'} | "
            f"{_statuses(row)} |"
        )
    lines += ["", "Targets on this workload (issue 20):", ""]
    by_name = {row["name"]: row for row in doc["routes"]}
    for name, target in TARGETS.items():
        row = by_name.get(name)
        if row is None:
            continue
        met = row["ratio"] is not None and row["ratio"] >= target
        p99 = row["latency_ms"]["p99"]
        lines.append(
            f"- {name}: ratio {_ratio(row['ratio'])} "
            f"(target ≥ {target:.2f}: {'met' if met else '**not met**'}), "
            f"p99 {milliseconds(p99)} (target ≤ {TARGET_P99_MS} ms: "
            f"{'met' if p99 is not None and p99 <= TARGET_P99_MS else '**not met**'})."
        )
    for group, parts in doc["breakdown"].items():
        lines += [
            "",
            f"### {group[0].upper()}{group[1:]}, by filter, ordering and page (same run)",
            "",
            "| by | value | requests | ratio to ceiling | p50 | p99 | server p50 | server p99 "
            "| answered from cache |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for part, rows in parts.items():
            for row in rows:
                server = row["server_ms"] or {}
                lines.append(
                    f"| {part} | {row['name']} | {row['requests']:,} | {_ratio(row['ratio'])} | "
                    f"{milliseconds(row['latency_ms']['p50'])} | {milliseconds(row['latency_ms']['p99'])} | "
                    f"{milliseconds(server.get('p50'))} | {milliseconds(server.get('p99'))} | "
                    f"{percent(row['from_cache'])} |"
                )
    return lines


def _alone(doc: dict) -> list[str]:
    setup = doc["setup"]
    lines = [
        "## Each route of the mix, alone",
        "",
        "The same random requests as the mix draws for the route (all four analytics routes together), "
        "without any other route: the reads without writes, each write on purchases no other run "
        f"changes; {setup['warmup']} s of warm-up, then {setup['duration']} s "
        "measured, the ceiling run before and after.",
        "",
        "| route | requests/s | ratio to ceiling | p50 | p99 | server p50 | server p99 | answered from cache "
        "| non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in doc["routes"]:
        server = row["server_ms"] or {}
        lines.append(
            f"| {row['name']} | {_rate(row)} | {row['ratio']:.3f} | "
            f"{milliseconds(row['latency_ms']['p50'])} | "
            f"{milliseconds(row['latency_ms']['p99'])} | {milliseconds(server.get('p50'))} | "
            f"{milliseconds(server.get('p99'))} | {percent(row['from_cache'])} | {_statuses(row)} |"
        )
    return lines


def _best(doc: dict) -> list[str]:
    setup = doc["setup"]
    lines = [
        "## Best case: the same URL again and again",
        "",
        f"Each route alone, every request the same bytes; {setup['warmup']} s of warm-up, then "
        f"{setup['duration']} s measured, the ceiling run before and after.",
        "",
        "| route | as | requests/s | ratio to ceiling | p50 | p99 | server p50 | answered from cache "
        "| non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in doc["routes"]:
        server = row["server_ms"] or {}
        cache = "—" if row.get("method") == "POST" else percent(row["from_cache"])
        lines.append(
            f"| {row['name']} | {row.get('as', '')} | {_rate(row)} | {row['ratio']:.3f} | "
            f"{milliseconds(row['latency_ms']['p50'])} | {milliseconds(row['latency_ms']['p99'])} | "
            f"{milliseconds(server.get('p50'))} | {cache} | {_statuses(row)} |"
        )
    return lines


def markdown(docs: dict) -> str:
    first = next(iter(docs.values()))
    lines = ["# Load test results", "", *_context(first)]
    if "mixed" in docs:
        lines += ["", *_mixed(docs["mixed"])]
    if "alone" in docs:
        lines += ["", *_alone(docs["alone"])]
    if "best" in docs:
        lines += ["", *_best(docs["best"])]
    few = any(row["requests"] < FEW_REQUESTS for doc in docs.values() for row in doc.get("routes", []))
    if few:
        lines += [
            "",
            f"\\* Fewer than {FEW_REQUESTS} requests in the measured seconds: the rate is rough and the "
            "percentiles rougher.",
        ]
    lines += [
        "",
        'Definitions: bench/README.md, "Reading the results". JSON: bench/results/<kind>-<size>.json.',
    ]
    return "\n".join(lines) + "\n"
