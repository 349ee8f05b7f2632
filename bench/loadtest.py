#!/usr/bin/env python
"""HTTP load test at full size, against a bare-Django ceiling in the same run.

Seeds (once) a PostgreSQL template database with ``manage.py seed``, copies it
to a scratch database for the run, serves the application with production
settings under gunicorn (sync workers) and a ceiling view (bench/ceiling.py)
under the same gunicorn, and drives both with wrk on loopback, alternating:
ceiling, route, ceiling, route, ..., ceiling. Each route's ratio is its
requests per second divided by the mean of the two ceiling runs around it.
Prints a table and writes it to bench/RESULTS.md, with a JSON copy in
bench/results/. See bench/README.md.
"""

# The subprocesses are the tools this script names itself (manage.py, gunicorn,
# wrk, git, apt-get), with arguments it builds; nothing comes from a request.
# ruff: noqa: S603, S607

import argparse
import base64
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WRK_SCRIPT = BENCH / "loadtest.lua"

# Bench-only keys. The load-test databases hold generated demo data only; the
# CPFs in them are encrypted and blind-indexed with these, fixed so that a
# seeded template stays readable from one run to the next.
CPF_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"cashback-loadtest cpf").digest()).decode()
CPF_BLIND_INDEX_KEY = hashlib.sha256(b"cashback-loadtest blind index").hexdigest()
CACHE_KEY_PREFIX = "cashback-loadtest"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
# Purchases created by the POST rounds carry this code prefix.
CODE_PREFIX = "LT"
RESERVED_DATABASES = {"postgres", "template0", "template1"}
# Below this many requests in a measured run, the report flags the figures.
FEW_REQUESTS = 30


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("dataset (manage.py seed)")
    data.add_argument("--resellers", type=int, default=5_000, help="resellers (default 5,000)")
    data.add_argument("--purchases", type=int, default=1_000_000, help="purchases (default 1,000,000)")
    data.add_argument("--products", type=int, default=100, help="catalogue products (default 100)")
    data.add_argument("--months", type=int, default=12, help="months the purchases span (default 12)")
    data.add_argument("--seed", type=int, default=42, help="random seed of the data (default 42)")
    data.add_argument("--reseed", action="store_true", help="drop and seed the template even when it matches")
    load = parser.add_argument_group("load")
    load.add_argument("--duration", type=int, default=8, help="measured seconds per run (default 8)")
    load.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each (default 2)")
    load.add_argument(
        "--connections",
        type=int,
        default=8,
        help="wrk connections, one thread each; also the resellers of the parallel POST (default 8)",
    )
    load.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    load.add_argument(
        "--only", metavar="TEXT", help="run only the routes whose name contains TEXT (case-insensitive)"
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
        help=f"Redis database for the cache and throttling, keys under {CACHE_KEY_PREFIX}: "
        "(default redis://127.0.0.1:6379/13)",
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
    args = parser.parse_args()
    args.app_dir = args.app_dir.resolve()
    if not (args.app_dir / "manage.py").is_file():
        parser.error(f"--app-dir: no manage.py in {args.app_dir}")
    if args.connections < 1 or args.workers < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--connections, --workers and --duration must be positive, --warmup not negative")
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
        "(about a minute at full size).",
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


@dataclass
class Logins:
    password: str
    staff_email: str
    reseller_emails: list[str]  # busiest first
    reseller_purchases: list[int]


def prepare_logins(args) -> Logins:
    """Pick the staff login and the busiest resellers in the scratch copy and
    give them a password for this run (the seed's demo passwords are not
    assumed)."""
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    from django.contrib.auth.hashers import make_password

    with connect(args.postgres, args.database) as conn:
        busiest = conn.execute(
            """
            SELECT u.id, u.email, counted.purchases
            FROM (SELECT reseller_id, count(*) AS purchases FROM purchases_purchase GROUP BY reseller_id)
                AS counted
            JOIN resellers_reseller r ON r.id = counted.reseller_id
            JOIN accounts_user u ON u.id = r.user_id
            WHERE u.is_active
            ORDER BY counted.purchases DESC, r.id
            LIMIT %s
            """,
            (args.connections,),
        ).fetchall()
        staff = conn.execute(
            "SELECT id, email FROM accounts_user WHERE is_staff AND is_active "
            "ORDER BY is_superuser DESC, id LIMIT 1"
        ).fetchone()
        if staff is None or len(busiest) < args.connections:
            sys.exit("The dataset lacks a staff login or enough resellers with purchases.")
        password = secrets.token_urlsafe(18)
        conn.execute(
            "UPDATE accounts_user SET password = %s WHERE id = ANY(%s)",
            (make_password(password), [staff[0], *(row[0] for row in busiest)]),
        )
    return Logins(
        password=password,
        staff_email=staff[1],
        reseller_emails=[row[1] for row in busiest],
        reseller_purchases=[row[2] for row in busiest],
    )


# --- Redis ------------------------------------------------------------------------


def clear_cache(url: str) -> int:
    """Forget the previous run's cached answers, versions and throttle
    history; only this bench's keys, in its own database number."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{CACHE_KEY_PREFIX}:*", count=1000))
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
        CACHE_KEY_PREFIX=CACHE_KEY_PREFIX,
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
        PYTHONUNBUFFERED="1",
    )
    # Variants, e.g. --app-env PURCHASE_LIST_CACHE_SECONDS=0 (the list without its cache).
    env.update(args.app_env)
    return env


class Server:
    """One gunicorn, with the application's own config/gunicorn.py, bound to
    loopback, in its own process group."""

    def __init__(self, name: str, app: str, *, cwd: Path, args, env: dict, ready_path: str):
        self.name, self.app, self.cwd, self.env, self.ready_path = name, app, cwd, env, ready_path
        self.config = args.app_dir / "config" / "gunicorn.py"
        self.workers = args.workers
        self.port = free_port()
        self.log = RESULTS / f"loadtest-{name}.log"
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
            "--no-control-socket", self.app,
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


# --- Routes and measurements ---------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    role: str  # "reseller" (the busiest), "resellers" (one per connection), "staff", "none"
    path: str
    method: str = "GET"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def routes(today: date, months: int, connections: int) -> list[Route]:
    last_month = month_label(today.replace(day=1) - timedelta(days=1))
    index = today.year * 12 + today.month - 1 - (months - 1)
    first_month = f"{index // 12:04d}-{index % 12 + 1:02d}"
    staff_list = "/api/v1/purchases/?page_size=50"
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
class Measurement:
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    statuses: dict[str, int]
    sample: str = ""
    # How long the server took to finish what wrk left queued (see Server.wait_idle).
    idle_wait_seconds: float = 0.0


def run_wrk(wrk: str, url: str, *, seconds: int, connections: int, env: dict) -> Measurement:
    command = [
        wrk, f"--threads={connections}", f"--connections={connections}", f"--duration={seconds}s",
        "--timeout=10s", f"--script={WRK_SCRIPT}", url,
    ]  # fmt: skip
    process = start(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=seconds + 60)
    finally:
        stop(process)
    line = next((line for line in out.splitlines() if line.startswith("LOADTEST_JSON ")), None)
    if line is None:
        sys.exit(f"wrk printed no summary (exit {process.returncode}):\n{out}\n{err}")
    raw = json.loads(line.removeprefix("LOADTEST_JSON "))
    latency = raw["latency_us"]
    errors = raw["errors"]
    return Measurement(
        requests_per_second=round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        requests=raw["requests"],
        non2xx=raw["non2xx"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        statuses=raw["statuses"],
        sample=raw["sample"],
    )


@dataclass
class Load:
    wrk: str
    args: argparse.Namespace
    today: date
    tokens: dict[str, list[str]] = field(default_factory=dict)
    runs: int = 0

    def measure(
        self, server: Server, path: str, *, role: str, method: str = "GET", database: str | None = None
    ) -> Measurement:
        self.runs += 1
        env = {"LOADTEST_METHOD": method, "LOADTEST_TOKENS": ",".join(self.tokens.get(role, []))}
        if method == "POST":
            env["LOADTEST_DATE"] = self.today.isoformat()
        result = None
        for phase, seconds in (("w", self.args.warmup), ("m", self.args.duration)):
            if not seconds:
                continue
            if method == "POST":
                # Unique per run and phase: codes are unique per reseller.
                env["LOADTEST_CODE_PREFIX"] = f"{CODE_PREFIX}{time.strftime('%H%M%S')}{self.runs}{phase}"
            result = run_wrk(
                self.wrk, server.url + path, seconds=seconds, connections=self.args.connections, env=env
            )
            result.idle_wait_seconds = server.wait_idle(postgres=self.args.postgres, database=database)
        return result


# --- Report ----------------------------------------------------------------------


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


def milliseconds(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def markdown(report: dict) -> str:
    host, soft, data, setup = report["machine"], report["versions"], report["dataset"], report["setup"]
    ceilings = [run["requests_per_second"] for run in report["ceiling_runs"]]
    lines = [
        "# Load test results",
        "",
        f"Run {report['started_local']} (`make loadtest`), {report['code']}.",
        "",
        f"- Machine: {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB, {host['system']}; "
        f"load average {report['load_average']['start']} at the start, {report['load_average']['end']} "
        "at the end (the machine is shared: compare ratios, not raw figures).",
        f"- Software: PostgreSQL {soft['postgresql']}, Redis {soft['redis']}, Python {soft['python']}, "
        f"Django {soft['django']}, gunicorn {soft['gunicorn']} ({setup['workers']} sync workers, "
        f"production settings), wrk {soft['wrk']}.",
        f"- Dataset: {data['resellers']:,} resellers, {data['purchases']:,} purchases "
        f"({data['items']:,} items), {data['products']} products over {data['months']} months "
        f"(`manage.py seed --seed {data['seed']}`); the reseller routes run as the reseller with the most "
        f"purchases ({data['busiest_reseller_purchases']:,}).",
        f"- Load: wrk on loopback, {setup['connections']} connections ({setup['connections']} threads), "
        f"{setup['warmup']} s warm-up then {setup['duration']} s measured per run; the ceiling "
        "(bench/ceiling.py, a bare Django view returning a 50-row JSON list) ran before each route and "
        "after the last. A route's ratio is its requests/s divided by the mean of the two ceiling runs "
        "around it.",
        f"- Ceiling: {min(ceilings):,.0f} to {max(ceilings):,.0f} requests/s over {len(ceilings)} runs "
        f"(mean {sum(ceilings) / len(ceilings):,.0f}).",
        "",
        "| route | as | requests/s | ratio to ceiling | p50 | p99 | non-2xx |",
        "|---|---|---|---|---|---|---|",
    ]
    few = False
    for row in report["routes"]:
        result = row["result"]
        non2xx = f"{result['non2xx']:,}"
        if result["socket_errors"]:
            non2xx += f" (+{result['socket_errors']:,} socket errors)"
        rate = f"{result['requests_per_second']:,.1f}"
        if result["requests"] < FEW_REQUESTS:
            rate += f" ({result['requests']} requests)*"
            few = True
        p50, p99 = (
            (milliseconds(result["p50_ms"]), milliseconds(result["p99_ms"]))
            if result["requests"]
            else ("—", "—")
        )
        lines.append(
            f"| {row['name']} | {row['as']} | {rate} | {row['ratio']:.3f} | {p50} | {p99} | {non2xx} |"
        )
    if few:
        lines += [
            "",
            f"\\* Fewer than {FEW_REQUESTS} requests completed in the measured seconds (wrk counts only "
            "the requests that end inside them): the rate is rough and the percentiles rougher.",
        ]
    failing = [row for row in report["routes"] if row["result"]["non2xx"]]
    if failing:
        lines += ["", "Non-2xx answers (first one of each route):", ""]
        lines += [f"- {row['name']}: {row['result']['sample'][:200]}" for row in failing]
    seeding = "template reused" if setup["template_reused"] else f"seeded in {setup['seed_seconds']} s"
    lines += [
        "",
        f"Set-up: {seeding}; template copied in {setup['copy_seconds']} s; whole run "
        f"{report['total_seconds']:.0f} s. JSON copy in bench/results/.",
    ]
    return "\n".join(lines) + "\n"


def role_label(role: str, connections: int) -> str:
    return {
        "reseller": "busiest reseller",
        "resellers": f"{connections} busiest resellers",
        "staff": "staff",
    }.get(role, role)


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    load_start = " ".join(f"{value:.2f}" for value in os.getloadavg())
    today = datetime.now(SAO_PAULO).date()
    RESULTS.mkdir(parents=True, exist_ok=True)
    check_database_names(args)
    wrk = ensure_wrk()

    chosen = routes(today, args.months, args.connections)
    if args.only:
        chosen = [route for route in chosen if args.only.lower() in route.name.lower()]
        if not chosen:
            sys.exit(f"No route name contains {args.only!r}.")
    runs = 2 * len(chosen) + 1
    print(
        f"{len(chosen)} routes and {len(chosen) + 1} ceiling runs of {args.warmup} + {args.duration} s: "
        f"about {runs * (args.warmup + args.duration) / 60:.1f} minutes of load after set-up.",
        flush=True,
    )

    env = app_environment(args)
    template = prepare_template(args, env, today)
    copy_seconds = copy_template(args)
    print(f"Copied the template to {args.database} in {copy_seconds} s.", flush=True)
    logins = prepare_logins(args)
    cleared = clear_cache(args.redis)
    print(f"Cleared {cleared} cache keys under {CACHE_KEY_PREFIX}: in {args.redis}.", flush=True)

    app_env = {**env, "DATABASE_URL": database_url(args.postgres, args.database)}
    app = Server(
        "app", "config.wsgi:application", cwd=args.app_dir, args=args, env=app_env, ready_path="/health/live"
    )
    ceiling = Server(
        "ceiling", "bench.ceiling:application", cwd=ROOT, args=args, env=app_env, ready_path="/ceiling/"
    )
    load = Load(wrk=wrk, args=args, today=today)
    results, ceiling_runs = [], []
    try:
        for server in (app, ceiling):
            server.start()
        for server in (app, ceiling):
            server.wait_ready()
        staff = log_in(app, logins.staff_email, logins.password)
        resellers = [log_in(app, email, logins.password) for email in logins.reseller_emails]
        load.tokens = {"staff": [staff], "reseller": resellers[:1], "resellers": resellers}
        for route in chosen:
            if route.method == "GET":
                status, _ = request_json(app.url + route.path, token=load.tokens[route.role][0])
                if status != 200:
                    print(f"  note: {route.name} answers {status}", flush=True)

        def ceiling_run() -> None:
            result = load.measure(ceiling, "/ceiling/", role="none")
            ceiling_runs.append(asdict(result))
            print(f"[{load.runs:2d}/{runs}] ceiling: {result.requests_per_second:,.0f} req/s", flush=True)

        ceiling_run()
        for route in chosen:
            result = load.measure(
                app, route.path, role=route.role, method=route.method, database=args.database
            )
            print(
                f"[{load.runs:2d}/{runs}] {route.name}: {result.requests_per_second:,.1f} req/s, "
                f"p50 {milliseconds(result.p50_ms)}, p99 {milliseconds(result.p99_ms)}, "
                f"non-2xx {result.non2xx}",
                flush=True,
            )
            ceiling_run()
            around = (ceiling_runs[-2]["requests_per_second"] + ceiling_runs[-1]["requests_per_second"]) / 2
            results.append(
                {
                    "name": route.name,
                    "as": role_label(route.role, args.connections),
                    "method": route.method,
                    "path": route.path,
                    "ceiling_requests_per_second": round(around, 1),
                    "ratio": round(result.requests_per_second / around, 4),
                    "result": asdict(result),
                }
            )
    finally:
        for server in (app, ceiling):
            server.stop()

    report = {
        "started": started_at.isoformat(timespec="seconds"),
        "started_local": started_at.astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "code": code_under_test(args),
        "machine": machine(),
        "versions": versions(args, wrk),
        "load_average": {"start": load_start, "end": " ".join(f"{value:.2f}" for value in os.getloadavg())},
        "dataset": {
            "resellers": template["resellers_reseller"],
            "purchases": template["purchases_purchase"],
            "items": template["purchases_purchaseitem"],
            "products": args.products,
            "months": args.months,
            "seed": args.seed,
            "busiest_reseller_purchases": logins.reseller_purchases[0],
        },
        "setup": {
            "workers": args.workers,
            "connections": args.connections,
            "warmup": args.warmup,
            "duration": args.duration,
            "template_reused": template["reused"],
            "seed_seconds": template["seconds"],
            "copy_seconds": copy_seconds,
            "database": args.database,
            "app_dir": str(args.app_dir),
        },
        "ceiling_runs": ceiling_runs,
        "routes": results,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    text = markdown(report)
    print("\n" + text)
    args.output.write_text(text)
    path = RESULTS / f"loadtest-{started_at.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"Wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output} "
        f"and {path.relative_to(ROOT)}."
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("Interrupted.")
