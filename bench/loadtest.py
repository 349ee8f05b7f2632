#!/usr/bin/env python
"""HTTP load test at full size, against a bare-Django ceiling in the same run.

Seeds (once) a PostgreSQL template database with ``manage.py seed``, copies it
to a scratch database for the run, serves the application with production
settings under gunicorn (sync workers) and a ceiling view (bench/ceiling.py)
under the same gunicorn, and drives both with wrk on loopback, alternating
ceiling runs with the measured ones:

1. the mixed workload (bench/workload.py): thousands of resellers chosen
   Zipf-like, random pages, filters and orderings, staff lists and
   analytics, the catalogue, and 10 % writes, all interleaved; the headline;
2. each route of the mix alone, with the same random parameters (the
   writes too: their share of the mix gives them few requests there);
3. the best case: each route with the same URL again and again.

Every request's latency, status and cost (bench/probe.py's header: SQL
statements, time in the application, whether the cache answered) is
recorded by bench/loadtest.lua; this script turns the records into figures
per route. Writes bench/RESULTS.md and bench/results/<kind>-<size>.json
(bench/report.py). See bench/README.md.
"""

# The subprocesses are the tools this script names itself (manage.py, gunicorn,
# wrk, git, apt-get), with arguments it builds; nothing comes from a request.
# ruff: noqa: S603, S607

import argparse
import base64
import hashlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
WRK_SCRIPT = BENCH / "loadtest.lua"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402  (bench/report.py)
import workload  # noqa: E402  (bench/workload.py)

# Bench-only keys. The load-test databases hold generated demo data only; the
# CPFs in them are encrypted and blind-indexed with these, fixed so that a
# seeded template stays readable from one run to the next.
CPF_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"cashback-loadtest cpf").digest()).decode()
CPF_BLIND_INDEX_KEY = hashlib.sha256(b"cashback-loadtest blind index").hexdigest()
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
# Purchases created by the best case's POST rounds carry this code prefix.
CODE_PREFIX = "LT"
RESERVED_DATABASES = {"postgres", "template0", "template1"}
RUN_KINDS = ("mixed", "alone", "best")
# Request files hold enough lines for this rate over the measured seconds;
# a thread that runs out starts its file again (the report says so).
MAX_RATE = 1500
# A write route alone: each line takes a validating purchase from the pools
# (no purchase is changed twice), and no write route comes near this rate.
MAX_WRITE_RATE = 400


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("dataset (manage.py seed)")
    data.add_argument("--resellers", type=int, default=5_000, help="resellers (default 5,000)")
    data.add_argument("--purchases", type=int, default=1_000_000, help="purchases (default 1,000,000)")
    data.add_argument("--products", type=int, default=100, help="catalogue products (default 100)")
    data.add_argument("--months", type=int, default=12, help="months the purchases span (default 12)")
    data.add_argument(
        "--seed", type=int, default=42, help="random seed of the data and the requests (default 42)"
    )
    data.add_argument("--reseed", action="store_true", help="drop and seed the template even when it matches")
    load = parser.add_argument_group("load")
    load.add_argument(
        "--runs",
        default=",".join(RUN_KINDS),
        help="which runs, comma-separated: mixed, alone (each route of the mix alone), best "
        "(same URL) (default: all three)",
    )
    load.add_argument("--duration", type=int, default=8, help="measured seconds per route run (default 8)")
    load.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each (default 2)")
    load.add_argument(
        "--mixed-duration", type=int, default=60, help="measured seconds of the mixed run (default 60)"
    )
    load.add_argument(
        "--mixed-warmup", type=int, default=15, help="unmeasured seconds before it (default 15)"
    )
    load.add_argument(
        "--connections",
        type=int,
        default=8,
        help="wrk connections, one thread each; also the resellers of the parallel POST (default 8)",
    )
    load.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    load.add_argument(
        "--only",
        metavar="TEXT",
        help="the alone and best-case runs: only the routes whose name contains TEXT (case-insensitive)",
    )
    where = parser.add_argument_group("where")
    where.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server, without a database name (default postgres://postgres@127.0.0.1:5432)",
    )
    where.add_argument(
        "--database",
        default="cashback_loadtest",
        help="scratch database, recreated every run; the seeded template is NAME_seed "
        "(default cashback_loadtest)",
    )
    where.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/13",
        help="Redis database for the cache and throttling (default redis://127.0.0.1:6379/13)",
    )
    where.add_argument(
        "--cache-prefix",
        default="cashback-loadtest",
        help="the application's CACHE_KEY_PREFIX; its keys are deleted at the start "
        "(default cashback-loadtest)",
    )
    where.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        help="serve and seed the application from this source tree, e.g. an export of an "
        "older commit for a before/after comparison (default: this repository)",
    )
    where.add_argument("--label", default="", help="names the code under test in the report")
    where.add_argument(
        "--app-env",
        action="append",
        default=[],
        type=lambda item: (
            tuple(item.split("=", 1)) if "=" in item else parser.error(f"--app-env {item}: KEY=VALUE")
        ),
        metavar="KEY=VALUE",
        help="an environment variable for the application's gunicorn (repeatable)",
    )
    where.add_argument(
        "--output", type=Path, default=BENCH / "RESULTS.md", help="Markdown report (default bench/RESULTS.md)"
    )
    where.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="directory of the JSON results, <kind>-<size>.json (default bench/results)",
    )
    args = parser.parse_args()
    args.app_dir = args.app_dir.resolve()
    if not (args.app_dir / "manage.py").is_file():
        parser.error(f"--app-dir: no manage.py in {args.app_dir}")
    if min(args.connections, args.workers, args.duration, args.mixed_duration) < 1:
        parser.error("--connections, --workers and the durations must be positive")
    if min(args.warmup, args.mixed_warmup) < 0:
        parser.error("the warm-ups must not be negative")
    args.runs = [kind.strip() for kind in args.runs.split(",") if kind.strip()]
    unknown = set(args.runs) - set(RUN_KINDS)
    if unknown or not args.runs:
        parser.error(f"--runs: choose among {', '.join(RUN_KINDS)}")
    return args


# --- Processes ------------------------------------------------------------------


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """Start a child in its own process group, so that stop() ends it and
    everything it started (gunicorn's workers), whatever happens here."""
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def stop(process: subprocess.Popen | None, grace: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def on_sigterm(signum, frame):
    # Turns `kill` into the same clean-up path as Ctrl-C.
    raise KeyboardInterrupt


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if not shutil.which("apt-get"):
        sys.exit("wrk is not installed and there is no apt-get here: install wrk, then run again.")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    print("wrk is missing: installing it from Debian's packages.", flush=True)
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    return shutil.which("wrk") or sys.exit("wrk is still missing after apt-get install.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- PostgreSQL -----------------------------------------------------------------


def database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def connect(server: str, name: str):
    import psycopg

    return psycopg.connect(database_url(server, name), autocommit=True)


def check_database_names(args) -> None:
    """Never touch a database anyone configured for real use."""
    names = {args.database, template_name(args)}
    configured = set()
    for source in (os.environ.get("DATABASE_URL", ""), *dotenv_values(args.app_dir, "DATABASE_URL")):
        if source:
            configured.add(urlsplit(source).path.lstrip("/"))
    clash = names & (configured | RESERVED_DATABASES)
    if clash:
        sys.exit(f"Refusing to use {', '.join(sorted(clash))}: it is a configured or system database.")


def dotenv_values(app_dir: Path, key: str) -> list[str]:
    path = app_dir / ".env"
    if not path.is_file():
        return []
    values = []
    for line in path.read_text().splitlines():
        name, _, value = line.strip().partition("=")
        if name.strip() == key:
            values.append(value.strip().strip("'\""))
    return values


def template_name(args) -> str:
    return f"{args.database}_seed"


def dataset_marker(args, today: date) -> dict:
    return {
        "resellers": args.resellers,
        "purchases": args.purchases,
        "products": args.products,
        "months": args.months,
        "seed": args.seed,
        # The seed dates purchases up to today: another month is another dataset.
        "month": today.strftime("%Y-%m"),
    }


def read_marker(admin, name: str) -> dict | None:
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
    ).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0] or "")
    except ValueError:
        return {}


def table_counts(server: str, name: str) -> dict[str, int]:
    with connect(server, name) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("resellers_reseller", "purchases_purchase", "purchases_purchaseitem")
        }


def prepare_template(args, env: dict, today: date) -> dict:
    """The seeded template: reused when its marker and row counts match the
    requested dataset, else dropped and seeded again. Returns what was done."""
    name = template_name(args)
    wanted = dataset_marker(args, today)
    url = database_url(args.postgres, name)
    with connect(args.postgres, "postgres") as admin:
        marker = read_marker(admin, name)
    if marker == wanted and not args.reseed:
        counts = table_counts(args.postgres, name)
        if (counts["resellers_reseller"], counts["purchases_purchase"]) == (args.resellers, args.purchases):
            print(
                f"Reusing the seeded template {name} ({args.resellers:,} resellers, "
                f"{args.purchases:,} purchases); applying any new migrations.",
                flush=True,
            )
            manage(args, env, url, "migrate", "--no-input", "--verbosity", "1")
            return {"reused": True, "seconds": 0.0, **counts}
        print(f"The template {name} has other row counts than its marker says: seeding again.")
    elif args.reseed:
        print(f"--reseed: seeding {name} again.")
    elif marker is not None:
        print(f"The template {name} holds another dataset ({marker or 'no marker'}): seeding again.")

    started = time.perf_counter()
    with connect(args.postgres, "postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    print(
        f"Seeding {name}: {args.resellers:,} resellers, {args.purchases:,} purchases "
        "(a minute or more per million purchases on 2 cores, several when they are busy).",
        flush=True,
    )
    manage(args, env, url, "migrate", "--no-input", "--verbosity", "0")
    manage(
        args, env, url, "seed",
        f"--resellers={args.resellers}", f"--purchases={args.purchases}", f"--products={args.products}",
        f"--months={args.months}", f"--seed={args.seed}", "--no-progress",
    )  # fmt: skip
    with connect(args.postgres, name) as conn:
        # Hint bits, visibility map and statistics settled once, in the
        # template, instead of by the first requests of every run.
        conn.execute("VACUUM (ANALYZE)")
    with connect(args.postgres, "postgres") as admin:
        # Written last: a seed that failed half-way leaves no marker.
        marker_sql = f"COMMENT ON DATABASE \"{name}\" IS '{json.dumps(wanted)}'"
        admin.execute(marker_sql)
    counts = table_counts(args.postgres, name)
    return {"reused": False, "seconds": round(time.perf_counter() - started, 1), **counts}


def copy_template(args) -> float:
    """A fresh scratch database for every run, so the purchases the POST
    rounds create never reach the next run or the template."""
    started = time.perf_counter()
    with connect(args.postgres, "postgres") as admin:
        version = admin.info.server_version
        strategy = " STRATEGY FILE_COPY" if version >= 150000 else ""
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}" TEMPLATE "{template_name(args)}"{strategy}')
    return round(time.perf_counter() - started, 1)


def manage(args, env: dict, url: str, *command: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=args.app_dir, env={**env, "DATABASE_URL": url}
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {command[0]} failed (exit {result.returncode}).")


def staff_login(args) -> tuple[str, str]:
    """The staff login of the scratch copy, given a password for this run
    (the seed's demo passwords are not assumed): the run logs in once through
    the API, as any client, before the load starts."""
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    from django.contrib.auth.hashers import make_password

    with connect(args.postgres, args.database) as conn:
        staff = conn.execute(
            "SELECT id, email FROM accounts_user WHERE is_staff AND is_active "
            "ORDER BY is_superuser DESC, id LIMIT 1"
        ).fetchone()
        if staff is None:
            sys.exit("The dataset lacks a staff login.")
        password = secrets.token_urlsafe(18)
        conn.execute(
            "UPDATE accounts_user SET password = %s WHERE id = %s", (make_password(password), staff[0])
        )
    return staff[1], password


# --- Redis ------------------------------------------------------------------------


def clear_cache(url: str, prefix: str) -> int:
    """Forget the previous run's cached answers, versions and throttle
    history; only this bench's keys, in its own database number."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start_at in range(0, len(keys), 1000):
        client.delete(*keys[start_at : start_at + 1000])
    return len(keys)


# --- Servers ----------------------------------------------------------------------


def app_environment(args) -> dict:
    """Production settings, configured as a deployment would be, with every
    variable that changes behaviour set here (a .env file only fills gaps)."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if key in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        CPF_ENCRYPTION_KEYS=CPF_ENCRYPTION_KEY,
        CPF_BLIND_INDEX_KEY=CPF_BLIND_INDEX_KEY,
        PUBLIC_BASE_URL="http://127.0.0.1",
        REDIS_URL=args.redis,
        CACHE_KEY_PREFIX=args.cache_prefix,
        # Plain HTTP on loopback; TLS is the proxy's job in production.
        SECURE_SSL_REDIRECT="false",
        DJANGO_DEBUG="false",
        # Throttling stays on (its cost is part of every request), at rates no
        # run reaches (a fixed-window counter per client: the same cost at
        # any rate).
        USER_THROTTLE_RATE="1000000/s",
        ANON_THROTTLE_RATE="1000000/s",
        LOGIN_THROTTLE_RATE="1000/min",
        JWT_ACCESS_TOKEN_MINUTES="120",
        CASHBACK_API_URL="",
        # No broker to start: the one task a measured route sends (an
        # approval's e-mail) runs in the request after its commit, and the
        # e-mail is discarded (no EMAIL_URL). A broker's publish would cost
        # the approval less.
        ALLOW_IN_PROCESS_JOBS="true",
        PYTHONUNBUFFERED="1",
    )
    # Variants, e.g. --app-env PURCHASE_LIST_CACHE_SECONDS=0 (the list without its cache).
    env.update(args.app_env)
    return env


class Server:
    """One gunicorn, with the application's own config/gunicorn.py, bound to
    loopback, in its own process group."""

    def __init__(
        self,
        name: str,
        app: str,
        *,
        cwd: Path,
        args,
        env: dict,
        ready_path: str,
        pythonpath: Path | None = None,
    ):
        self.name, self.app, self.cwd, self.env, self.ready_path = name, app, cwd, env, ready_path
        self.config = args.app_dir / "config" / "gunicorn.py"
        self.workers = args.workers
        self.pythonpath = pythonpath
        self.port = free_port()
        self.log = LOGS / f"loadtest-{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn), "--config", str(self.config), "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--threads", "1", "--worker-class", "sync",
            # Two masters run side by side: neither may take the shared control socket.
            "--no-control-socket",
            *(["--pythonpath", str(self.pythonpath)] if self.pythonpath else []),
            self.app,
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = start(command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn ({self.name}) exited at start-up; see {self.log}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        sys.exit(
            f"gunicorn ({self.name}) did not answer {self.ready_path} in {timeout:.0f} s:\n{self.tail()}"
        )

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop(self.process)

    def wait_idle(self, *, postgres: str, database: str | None, timeout: float = 90) -> float:
        """Wait until this server has finished the requests wrk left behind.

        When wrk stops, its connections go, but a sync worker still serves
        every request already queued for it, and a slow route can leave
        seconds of work (and running queries) that would otherwise be charged
        to the next measurement. Idle: the workers used no CPU for 0.3 s and
        no query of theirs is running."""
        started = time.monotonic()
        before = self.cpu_ticks()
        while time.monotonic() - started < timeout:
            time.sleep(0.3)
            now = self.cpu_ticks()
            if now - before <= 2 and not (database and active_queries(postgres, database)):
                break
            before = now
        return round(time.monotonic() - started, 1)

    def cpu_ticks(self) -> int:
        """CPU time (clock ticks) used so far by the workers of this gunicorn."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            # After the command name: state, ppid, ..., utime (12th), stime (13th).
            if int(fields[1]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])
        return total


def active_queries(postgres: str, database: str) -> int:
    with connect(postgres, "postgres") as admin:
        return admin.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND state = 'active' AND backend_type = 'client backend'",
            (database,),
        ).fetchone()[0]


def request_json(url: str, *, body: dict | None = None, token: str = "") -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    request.add_header("Accept", "application/json")
    if data:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:300].decode(errors="replace")


def log_in(app: Server, email: str, password: str) -> str:
    status, answer = request_json(
        f"{app.url}/api/v1/auth/token/", body={"email": email, "password": password}
    )
    if status != 200:
        sys.exit(f"Login as {email} answered {status}: {answer}")
    return answer["access"]


# --- Access tokens -----------------------------------------------------------------


def mint_tokens(args, env: dict, user_ids: list[int]) -> list[str]:
    """Access tokens for these users, made by the application (bench/tokens.py)."""
    result = subprocess.run(
        [sys.executable, str(BENCH / "tokens.py")],
        cwd=args.app_dir,
        env={**env, "DATABASE_URL": database_url(args.postgres, args.database)},
        input=json.dumps(user_ids),
        capture_output=True,
        text=True,
    )
    tokens = result.stdout.split()
    if result.returncode != 0 or len(tokens) != len(user_ids):
        sys.exit(f"bench/tokens.py failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return tokens


# --- Runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A best-case route: the same request again and again."""

    name: str
    role: str  # "reseller" (the busiest), "resellers" (one per connection), "staff"
    path: str
    method: str = "GET"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def best_routes(today: date, months: int, connections: int) -> list[Route]:
    last_month = month_label(today.replace(day=1) - timedelta(days=1))
    index = today.year * 12 + today.month - 1 - (months - 1)
    first_month = f"{index // 12:04d}-{index % 12 + 1:02d}"
    staff_list = f"/api/v1/purchases/?page_size={workload.PAGE_SIZE}"
    return [
        Route("purchase list, reseller with the most purchases, page_size=50", "reseller", staff_list),
        Route("purchase list, staff, page_size=50", "staff", staff_list),
        Route(f"purchase list, staff, month={last_month}", "staff", f"{staff_list}&month={last_month}"),
        Route("purchase list, staff, ordering=-value", "staff", f"{staff_list}&ordering=-value"),
        Route("purchase list, staff, page=200", "staff", f"{staff_list}&page=200"),
        Route("resellers/me/summary", "reseller", "/api/v1/resellers/me/summary/"),
        Route("analytics summary, warm", "staff", f"/api/v1/analytics/summary/?month={last_month}"),
        Route(
            f"analytics/monthly {first_month} to {month_label(today)}",
            "staff",
            f"/api/v1/analytics/monthly/?from={first_month}&to={month_label(today)}",
        ),
        Route("product list, warm cache", "reseller", "/api/v1/products/"),
        # Writes last: they invalidate the analytics answers cached above.
        Route(
            f"POST /purchases/, {connections} resellers in parallel",
            "resellers",
            "/api/v1/purchases/",
            "POST",
        ),
        Route("POST /purchases/, one reseller", "reseller", "/api/v1/purchases/", "POST"),
    ]


@dataclass
class Record:
    route: str
    status: int
    latency_us: int
    probe: dict[str, int] | None


def parse_probe(value: str) -> dict[str, int] | None:
    if not value:
        return None
    try:
        return {name: int(number) for name, _, number in (part.partition("=") for part in value.split())}
    except ValueError:
        return None


def read_records(prefix: Path, threads: int) -> list[Record]:
    records = []
    for thread in range(threads):
        path = Path(f"{prefix}-{thread}.tsv")
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            route, status, latency, probe = [*line.split("\t"), "", "", ""][:4]
            if not latency:
                continue  # a line cut by wrk's exit
            records.append(Record(route, int(status), int(latency), parse_probe(probe)))
    return records


def run_wrk(wrk: str, url: str, *, seconds: int, threads: int, env: dict) -> dict:
    command = [
        wrk, f"--threads={threads}", f"--connections={threads}", f"--duration={seconds}s",
        "--timeout=10s", f"--script={WRK_SCRIPT}", url,
    ]  # fmt: skip
    process = start(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=seconds + 120)
    finally:
        stop(process)
    line = next((line for line in out.splitlines() if line.startswith("LOADTEST_JSON ")), None)
    if line is None:
        sys.exit(f"wrk printed no summary (exit {process.returncode}):\n{out}\n{err}")
    return json.loads(line.removeprefix("LOADTEST_JSON "))


@dataclass
class Load:
    """Runs wrk against a server, one warm-up and one measured phase, each
    with its own request files, and reads back the measured phase's records."""

    wrk: str
    args: argparse.Namespace
    workdir: Path
    tokens_file: Path
    runs: int = 0
    planned: int = 0
    ceiling_runs: list[dict] = field(default_factory=list)

    def measure(self, server, files: dict[str, Path], *, seconds: int, warmup: int, database=None) -> dict:
        """``files``: request-file prefixes by phase ("w" warm-up, "m" measured)."""
        self.runs += 1
        threads = self.args.connections
        summary = None
        for phase, length in (("w", warmup), ("m", seconds)):
            if not length:
                continue
            records = self.workdir / f"records-{self.runs}-{phase}"
            env = {
                "LOADTEST_REQUESTS": str(files[phase]),
                "LOADTEST_TOKENS": str(self.tokens_file),
                "LOADTEST_RECORDS": str(records),
            }
            summary = run_wrk(self.wrk, server.url, seconds=length, threads=threads, env=env)
            summary["idle_wait_seconds"] = server.wait_idle(postgres=self.args.postgres, database=database)
        summary["records"] = read_records(records, threads)
        return summary

    def ceiling(self, server, files: dict[str, Path]) -> dict:
        summary = self.measure(server, files, seconds=self.args.duration, warmup=self.args.warmup)
        routes = report.route_figures(summary["records"], summary["duration_us"] / 1e6)
        figures = {"requests_per_second": routes[0]["requests_per_second"] if routes else 0.0, **summary}
        figures.pop("records")
        figures["latency_ms"] = routes[0]["latency_ms"] if routes else {}
        self.ceiling_runs.append(figures)
        print(
            f"[{self.runs:2d}/{self.planned}] ceiling: {figures['requests_per_second']:,.0f} req/s",
            flush=True,
        )
        return figures

    def around(self) -> float:
        """The mean of the two last ceiling runs (before and after a run)."""
        return (
            self.ceiling_runs[-2]["requests_per_second"] + self.ceiling_runs[-1]["requests_per_second"]
        ) / 2


def mixed_segments(args) -> list[int]:
    """The mixed run's measured seconds, in segments of about 15 s with a
    ceiling run between them (at least 5 s each)."""
    count = max(1, min(args.mixed_duration // 5, round(args.mixed_duration / 15)))
    base, extra = divmod(args.mixed_duration, count)
    return [base + (1 if number < extra else 0) for number in range(count)]


def lines_for(seconds: int, threads: int, rate: int = MAX_RATE) -> int:
    return max(200, math.ceil(rate * seconds / threads))


# --- Report context ------------------------------------------------------------------


def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "memory_gib": None}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    info["system"] = f"{platform.system()} {platform.release()}"
    return info


def versions(args, wrk: str) -> dict:
    import django
    import gunicorn
    import redis

    with connect(args.postgres, "postgres") as admin:
        postgres = admin.execute("SHOW server_version").fetchone()[0].split()[0]
    redis_version = redis.Redis.from_url(args.redis).info("server")["redis_version"]
    wrk_banner = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    wrk_version = (wrk_banner.stdout or wrk_banner.stderr).split()[1]
    return {
        "postgresql": postgres,
        "redis": redis_version,
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "wrk": wrk_version,
    }


def code_under_test(args) -> str:
    if args.label:
        return args.label
    commit = subprocess.run(
        ["git", "-C", str(args.app_dir), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if commit.returncode != 0:
        return str(args.app_dir)
    dirty = subprocess.run(
        ["git", "-C", str(args.app_dir), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"commit {commit.stdout.strip()}" + (" with uncommitted changes" if dirty else "")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --- Main ---------------------------------------------------------------------------


def new_purchase(code: str, day: date) -> str:
    return json.dumps(
        {"code": f"{CODE_PREFIX}{code}", "value": "123.45", "date": day.isoformat()}, separators=(",", ":")
    )


def write_tokens(path: Path, tokens: list[str]) -> None:
    path.write_text("\n".join(tokens) + "\n")


def request_files(args, workdir: Path, dataset, today: date, *, mixed: bool, alone: list, best: list) -> dict:
    """Every run's request files, made before any load: {run name: {phase: prefix}},
    phase "w" (warm-up) and "m" (measured)."""
    threads = args.connections
    phases = (("w", args.warmup), ("m", args.duration))
    ceiling = workload.write_fixed(workdir, "ceiling", [[("ceiling", "GET", 0, "/ceiling/", "")]] * threads)
    files = {"ceiling": {"w": ceiling, "m": ceiling}}
    # Shared by every run: no purchase is updated, deleted or approved twice.
    pools = workload.validating_pools(dataset, args.seed)

    def random_requests(name: str, mix: dict, phases, rate: int = MAX_RATE, tag: str = "") -> dict:
        # The codes of the purchases created carry the tag and the phase: no
        # two runs create the same code for a reseller.
        return {
            phase: workload.write_phase(
                workdir,
                f"{name}-{phase}",
                dataset,
                mix,
                seed=args.seed,
                threads=threads,
                lines=lines_for(length, threads, rate),
                code_tag=f"{tag}{phase}",
                pools=pools,
            )
            for phase, length in phases
        }

    if mixed:
        segments = [(f"m{number}", seconds) for number, seconds in enumerate(mixed_segments(args))]
        files["mixed"] = random_requests("mixed", workload.MIX, [("w", args.mixed_warmup), *segments])
    for number, group in enumerate(alone):
        mix = dict.fromkeys(workload.ANALYTICS, 1) if group == "analytics" else {group: 1}
        rate = MAX_WRITE_RATE if group in workload.WRITES else MAX_RATE
        files[group] = random_requests(f"alone-{number}", mix, phases, rate, tag=f"a{number}")
    busiest = workload.STAFF_TOKEN + 1
    for number, route in enumerate(best):
        token = {"staff": workload.STAFF_TOKEN, "reseller": busiest}.get(route.role)
        # "resellers": the busiest ones, one per connection.
        owners = [token or busiest + thread for thread in range(threads)]
        if route.method == "GET":
            lines = [[(route.name, "GET", owner, route.path, "")] for owner in owners]
            prefix = workload.write_fixed(workdir, f"best-{number}", lines)
            files[route.name] = {"w": prefix, "m": prefix}
            continue
        files[route.name] = {}
        for phase, length in phases:
            lines = [
                [
                    (
                        route.name,
                        "POST",
                        owner,
                        route.path,
                        new_purchase(f"{number}{phase}-{thread}-{n}", today),
                    )
                    for n in range(lines_for(length, threads))
                ]
                for thread, owner in enumerate(owners)
            ]
            files[route.name][phase] = workload.write_fixed(workdir, f"best-{number}-{phase}", lines)
    return files


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    load_start = load_average()
    today = datetime.now(SAO_PAULO).date()
    args.results.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    check_database_names(args)
    wrk = ensure_wrk()
    threads = args.connections

    def chosen(name: str) -> bool:
        return not args.only or args.only.lower() in name.lower()

    best = [route for route in best_routes(today, args.months, threads) if chosen(route.name)]
    best = best if "best" in args.runs else []
    alone = [group for group in workload.ALONE if chosen(group)] if "alone" in args.runs else []
    mixed = "mixed" in args.runs
    if not (mixed or alone or best):
        sys.exit(f"No route name contains {args.only!r}.")
    route_runs = len(alone) + len(best)
    ceilings = 1 + (len(mixed_segments(args)) if mixed else 0) + route_runs
    seconds = ceilings * (args.warmup + args.duration) + route_runs * (args.warmup + args.duration)
    seconds += (args.mixed_warmup + args.mixed_duration) if mixed else 0
    print(
        f"{'the mixed workload, ' if mixed else ''}{len(alone)} routes alone, {len(best)} best-case routes "
        f"and {ceilings} ceiling runs: about {seconds / 60:.1f} minutes of load after set-up.",
        flush=True,
    )

    env = app_environment(args)
    template = prepare_template(args, env, today)
    copy_seconds = copy_template(args)
    print(f"Copied the template to {args.database} in {copy_seconds} s.", flush=True)
    staff_email, staff_password = staff_login(args)
    prepared = time.perf_counter()
    with connect(args.postgres, args.database) as conn:
        dataset = workload.load_dataset(conn, today)
    if len(dataset.resellers) < threads:
        sys.exit("The dataset lacks enough resellers with purchases.")
    tokens = mint_tokens(args, env, [dataset.staff_user_id, *(r.user_id for r in dataset.resellers)])
    workdir = Path(tempfile.mkdtemp(prefix="cashback-loadtest-"))
    tokens_file = workdir / "tokens.txt"
    write_tokens(tokens_file, tokens)

    files = request_files(args, workdir, dataset, today, mixed=mixed, alone=alone, best=best)
    busiest = workload.STAFF_TOKEN + 1
    print(
        f"Read the dataset, made {len(tokens):,} access tokens and the request files in "
        f"{time.perf_counter() - prepared:.1f} s.",
        flush=True,
    )
    cleared = clear_cache(args.redis, args.cache_prefix)
    print(f"Cleared {cleared} cache keys under {args.cache_prefix}: in {args.redis}.", flush=True)

    app_env = {**env, "DATABASE_URL": database_url(args.postgres, args.database)}
    app = Server(
        "app", "probe:application", cwd=args.app_dir, args=args, env=app_env, ready_path="/health/live",
        pythonpath=BENCH,
    )  # fmt: skip
    ceiling = Server(
        "ceiling", "bench.ceiling:application", cwd=ROOT, args=args, env=app_env, ready_path="/ceiling/"
    )
    load = Load(wrk=wrk, args=args, workdir=workdir, tokens_file=tokens_file)
    load.planned = ceilings + (len(mixed_segments(args)) if mixed else 0) + route_runs
    results = {"mixed": None, "alone": [], "best": []}
    try:
        for server in (app, ceiling):
            server.start()
        for server in (app, ceiling):
            server.wait_ready()
        status, answer = request_json(
            f"{app.url}/api/v1/auth/token/", body={"email": staff_email, "password": staff_password}
        )
        if status != 200:
            sys.exit(f"The staff login answered {status}: {answer}")

        load.ceiling(ceiling, files["ceiling"])
        if mixed:
            segments = []
            for segment, seconds in enumerate(mixed_segments(args)):
                # The cache stays as the previous segment left it: one warm-up only.
                phases = {"w": files["mixed"]["w"], "m": files["mixed"][f"m{segment}"]}
                warmup = args.mixed_warmup if segment == 0 else 0
                summary = load.measure(app, phases, seconds=seconds, warmup=warmup, database=args.database)
                load.ceiling(ceiling, files["ceiling"])
                segments.append((summary, load.around()))
            results["mixed"] = report.mixed_run(segments, workers=args.workers)
            whole = results["mixed"]["whole"]
            print(
                f"[{load.runs - 1:2d}/{load.planned}] mixed workload: "
                f"{whole['requests_per_second']:,.1f} req/s ({whole['ratio']:.3f} of the ceiling), "
                f"p50 {report.milliseconds(whole['latency_ms']['p50'])}, "
                f"p99 {report.milliseconds(whole['latency_ms']['p99'])}, 5xx {whole['server_errors']}",
                flush=True,
            )
        for kind, items in (("alone", alone), ("best", best)):
            for item in items:
                name = item if kind == "alone" else item.name
                if kind == "best" and item.method == "GET":
                    # Asked once here, not before the mixed run: its answer
                    # would be cached for the mix.
                    token = tokens[(workload.STAFF_TOKEN if item.role == "staff" else busiest) - 1]
                    status, _ = request_json(app.url + item.path, token=token)
                    if status != 200:
                        print(f"  note: {name} answers {status}", flush=True)
                summary = load.measure(
                    app, files[name], seconds=args.duration, warmup=args.warmup, database=args.database
                )
                runs_done = load.runs
                load.ceiling(ceiling, files["ceiling"])
                row = report.route_run(
                    name, summary, ceiling_rps=load.around(), repeated=kind == "best" and item.method == "GET"
                )
                if kind == "best":
                    row.update(
                        {
                            "as": report.role_label(item.role, threads),
                            "method": item.method,
                            "path": item.path,
                        }
                    )
                results[kind].append(row)
                print(
                    f"[{runs_done:2d}/{load.planned}] {kind}: {name}: "
                    f"{row['requests_per_second']:,.1f} req/s "
                    f"({row['ratio']:.3f}), p50 {report.milliseconds(row['latency_ms']['p50'])}, "
                    f"p99 {report.milliseconds(row['latency_ms']['p99'])}, non-2xx {row['non2xx']}",
                    flush=True,
                )
    finally:
        for server in (app, ceiling):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    meta = {
        "started": started_at.isoformat(timespec="seconds"),
        "started_local": started_at.astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "code": code_under_test(args),
        "machine": machine(),
        "versions": versions(args, wrk),
        "load_average": {"start": load_start, "end": load_average()},
        "dataset": {
            "resellers": template["resellers_reseller"],
            "purchases": template["purchases_purchase"],
            "items": template["purchases_purchaseitem"],
            "products": args.products,
            "months": args.months,
            "seed": args.seed,
            "busiest_reseller_purchases": dataset.resellers[0].total,
            "resellers_with_purchases": len(dataset.resellers),
        },
        "setup": {
            "workers": args.workers,
            "connections": threads,
            "warmup": args.warmup,
            "duration": args.duration,
            "mixed_warmup": args.mixed_warmup,
            "mixed_duration": args.mixed_duration,
            "template_reused": template["reused"],
            "seed_seconds": template["seconds"],
            "copy_seconds": copy_seconds,
            "database": args.database,
            "app_dir": str(args.app_dir),
            "app_env": dict(args.app_env),
            "only": args.only,
        },
        "ceiling_runs": load.ceiling_runs,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    size = workload.size_label(template["purchases_purchase"])
    written = []
    documents = report.documents(meta, results, workload.describe())
    for kind, document in documents.items():
        path = args.results / f"{kind}-{size}.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        written.append(path)
    text = report.markdown(documents)
    print("\n" + text)
    args.output.write_text(text)
    shown = [
        path.relative_to(ROOT) if path.is_relative_to(ROOT) else path for path in [args.output, *written]
    ]
    print(f"Wrote {', '.join(map(str, shown))}.")
    failures = report.failures(documents)
    if failures:
        sys.exit("The run failed: " + "; ".join(failures))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("Interrupted.")
