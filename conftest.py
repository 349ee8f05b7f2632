import contextlib
import datetime
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import TestCase, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.serializers import tokens_for
from accounts.tests.factories import StaffFactory, UserFactory
from purchases.services import purchase_create
from resellers.tests.factories import ResellerFactory

# The day `frozen_today` stops the clock on.
TODAY = datetime.date(2026, 3, 20)

# Extra arguments for a request whose messages the test reads in English (the
# project's default language is Portuguese): `client.get(url, **EN)`.
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _clear_cache():
    # Only this suite's keys: a shared Redis may hold other data.
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def clean_cache():
    _clear_cache()
    yield
    _clear_cache()


# Half a minute into a minute, an hour and a day.
MID_WINDOW = 1_800_000_030.0


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    """The throttles count in fixed windows of the clock: a test that fills a
    window would find a fresh one if its requests straddled a minute's edge.
    Their clock stands still mid-window; a test that moves it sets its own."""
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: MID_WINDOW))


# A Redis that does not answer: nothing listens on port 1.
DEAD_REDIS = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",
    "KEY_PREFIX": "dead",
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
}
CACHE_DOWN = {
    "default": DEAD_REDIS,
    "strict": {**DEAD_REDIS, "OPTIONS": {**DEAD_REDIS["OPTIONS"], "IGNORE_EXCEPTIONS": False}},
}


@pytest.fixture
def cache_down():
    with override_settings(CACHES=CACHE_DOWN):
        yield


@pytest.fixture(autouse=True)
def fresh_breakers():
    """Circuit breakers (and what is known of the read replicas) keep
    per-process state: each test starts afresh."""
    from core.cache import reset_cache_breakers
    from core.routing import reset_health
    from resellers import cashback_client

    cashback_client.reset_breaker()
    reset_cache_breakers()
    reset_health()
    yield
    cashback_client.reset_breaker()
    reset_cache_breakers()
    reset_health()


@pytest.fixture
def api_client():
    return APIClient()


def authenticated_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user)['access']}")
    return client


def committed():
    """A block whose on-commit callbacks (queued e-mail, a job's task) run
    when it ends, as they would once a request's transaction commits: tests
    run inside one that never does. pytest-django's
    ``django_capture_on_commit_callbacks(execute=True)``, for helpers that
    take no fixture."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def run_together(*calls):
    """Run the calls in threads released at the same moment (each on its own
    database connection); return their results in order. For race tests."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def runner(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


class ThrowawayRedis:
    """A redis-server of the test's own (no persistence, in a temporary
    directory), stopped by its PID: one a test may pause with SIGSTOP, never
    the machine's shared Redis."""

    def __init__(self, directory):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(  # noqa: S603 (a fixed binary on loopback)
            [
                *(shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
            time.sleep(0.02)

    def caches(self) -> dict:
        """The project's cache aliases (config/settings/base.py) on this server."""
        default = {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": self.url,
            "KEY_PREFIX": "throwaway",
            "OPTIONS": {**settings.REDIS_CACHE_OPTIONS, "IGNORE_EXCEPTIONS": True},
        }
        return {
            "default": default,
            "strict": {**default, "OPTIONS": {**default["OPTIONS"], "IGNORE_EXCEPTIONS": False}},
        }

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis(tmp_path, settings):
    """A redis-server of this test's own, and the settings' caches pointed at it
    (through pytest-django's ``settings``, which undoes its changes in order)."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary")
    server = ThrowawayRedis(tmp_path)
    try:
        settings.CACHES = server.caches()
        yield server
    finally:
        server.stop()


@pytest.fixture
def reseller(db):
    return ResellerFactory()


@pytest.fixture
def reseller_client(reseller):
    return authenticated_client(reseller.user)


@pytest.fixture
def staff_user(db):
    # A superuser: holds every permission, so tests of what staff do need not
    # list them. What each permission opens is tested with StaffFactory(permissions=...).
    return StaffFactory(is_superuser=True)


@pytest.fixture
def staff_client(staff_user):
    return authenticated_client(staff_user)


@pytest.fixture
def user(db):
    return UserFactory()


# Admin pages use pytest-django's own `admin_client` (a Django test client logged
# in as `admin_user`, a superuser). Its `admin_user` works with the custom user
# model: it looks the user up by USERNAME_FIELD ("email", as admin@example.com)
# and creates it with create_superuser, leaving the required `full_name` empty.


@pytest.fixture
def frozen_today():
    """Stop the clock at noon UTC on TODAY: 09:00 in Sao Paulo, so
    `timezone.localdate()` is TODAY and month arithmetic never straddles a real
    month edge. Modules opt in with `pytest.mark.usefixtures("frozen_today")`."""
    # time-machine leaves the monotonic clocks alone, so pytest's own timer
    # (--durations) keeps measuring.
    with time_machine.travel(datetime.datetime(2026, 3, 20, 12, tzinfo=datetime.UTC), tick=False):
        yield TODAY


@pytest.fixture
def make_purchase(db):
    """Record a purchase as production does, through `purchase_create`, so its
    cashback and its month's are computed. Every argument is optional: a new
    reseller, a value of 100.00 (or, with items, their sum), today, a fresh code
    (P-1, P-2, ...); other keywords (`items`, `created_by`) go to the service.

        make_purchase(reseller, "600.00", date(2026, 3, 1), "A")
        make_purchase(items=[ItemInput(product=product, quantity=2)])
    """
    codes = itertools.count(1)

    def make(reseller=None, value=None, date=None, code=None, **kwargs):
        if value is None and not kwargs.get("items"):
            value = "100.00"
        return purchase_create(
            reseller=ResellerFactory() if reseller is None else reseller,
            value=None if value is None else Decimal(value),
            date=timezone.localdate() if date is None else date,
            code=f"P-{next(codes)}" if code is None else code,
            **kwargs,
        )

    return make


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"database: {database}, cache: {cache}"


def pytest_collection_modifyitems(config, items):
    from django.conf import settings
    from django.db import connection

    if not settings.REDIS_SENTINELS:
        skip_sentinel = pytest.mark.skip(reason="needs Redis with Sentinel (bash .ci/sentinel)")
        for item in items:
            if item.get_closest_marker("sentinel"):
                item.add_marker(skip_sentinel)
    if not (settings.REDIS_URL or settings.REDIS_SENTINELS):
        skip_redis = pytest.mark.skip(reason="needs Redis (set REDIS_URL)")
        for item in items:
            if item.get_closest_marker("redis"):
                item.add_marker(skip_redis)
    if not settings.DATABASE_REPLICAS:
        skip_scale = pytest.mark.skip(
            reason="needs a primary and a standby (DATABASE_REPLICA_URLS; .ci/scale)"
        )
        for item in items:
            if item.get_closest_marker("scale"):
                item.add_marker(skip_scale)
    worker_tests = [item for item in items if item.get_closest_marker("worker")]
    missing = _worker_tests_possible() if worker_tests else ""
    if missing and os.environ.get("WORKER_TESTS_REQUIRED"):
        raise pytest.UsageError(f"WORKER_TESTS_REQUIRED is set, but a real Celery worker {missing}")
    for item in worker_tests if missing else ():
        item.add_marker(pytest.mark.skip(reason=f"a real Celery worker {missing}"))
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def default_cashback_policy(transactional_db):
    """Transactional tests flush the database after each test, which drops
    the default policy the data migration created: put it back."""
    from datetime import date

    from purchases.cashback import DEFAULT_TIERS
    from purchases.models import CashbackPolicy, CashbackTier

    policy, created = CashbackPolicy.objects.get_or_create(effective_from=date(2000, 1, 1))
    if created:
        CashbackTier.objects.bulk_create(
            CashbackTier(policy=policy, up_to=tier.up_to, percent=tier.percent) for tier in DEFAULT_TIERS
        )
    return policy


# --- Real-browser tests (`-m browser`): headless Debian Chromium through Playwright ---

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The machine has no outside network: keep Chromium from trying to reach it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make around it are still plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="pt-BR")
    page = context.new_page()
    external = []
    page.on(
        "request",
        lambda request: (
            external.append(request.url)
            if not request.url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    yield page
    context.close()
    assert not external, f"the page tried to reach the internet: {external}"


@pytest.fixture
def log_in_admin(live_server):
    """Log ``user`` (whose password is the factories' PASSWORD) in to the
    admin through its login form, landing on ``next_url``."""
    from accounts.tests.factories import PASSWORD

    def log_in(page, user, next_url="/admin/"):
        page.goto(f"{live_server.url}/admin/login/?{urlencode({'next': next_url})}")
        page.fill("#id_username", user.email)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")

    return log_in


@pytest.fixture
def screenshot(tmp_path):
    """Save a page's screenshot under the test's temporary directory, or,
    with SCREENSHOTS_DIR set (`make screenshots` sets it to docs/), there:
    tests never write into the source tree."""
    directory = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)

    def save(page, name, **options):
        path = directory / name
        page.screenshot(path=str(path), **options)
        return path

    return save


# --- Real Celery worker tests (`-m worker`) ------------------------------------------
#
# The rest of the suite runs every task in-process (config/settings/test.py).
# Tests marked `worker` send theirs through RabbitMQ to a real worker: they
# run when CELERY_BROKER_URL names a broker and DATABASE_URL a PostgreSQL
# database (the worker is another process: it needs the committed rows of a
# real server, so these tests use `transactional_db`), and are skipped
# otherwise, unless WORKER_TESTS_REQUIRED is set (CI), which makes a missing
# broker or database an error rather than a silent skip.

WORKER_START_SECONDS = 60


class CeleryWorker:
    """``celery -A config worker`` (prefork, 2 processes) in a session of its
    own, on the test database and a queue of this run's own; started,
    stopped and killed by its PID."""

    def __init__(self, *, app, broker_url: str, queue: str, directory: Path, env: dict[str, str]):
        self.app, self.broker_url, self.queue = app, broker_url, queue
        self.directory, self.env = directory, env
        self.process: subprocess.Popen | None = None
        self.started = 0
        self.log_path: Path | None = None

    @property
    def nodename(self) -> str:
        return f"test-worker-{self.started}@{socket.gethostname()}"

    def start(self) -> None:
        """Start a new worker and wait until it answers a ping."""
        self.started += 1
        self.log_path = self.directory / f"worker-{self.started}.log"
        command = [
            sys.executable,
            *("-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "2"),
            *("--loglevel", "INFO", "-n", f"test-worker-{self.started}@%h", "-Q", self.queue),
            *("-I", "core.tests.worker_tasks", "--without-gossip", "--without-mingle"),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
                command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its pool processes share its group: killed together
            )
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not self.app.control.ping(destination=[self.nodename], timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the Celery worker did not start:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        """Warm shutdown (SIGTERM: running tasks end first), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a lost
        machine or the OOM killer would: nothing ends, nothing is acknowledged."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def wait_for_log(self, pattern: str, *, count: int = 1, timeout: float = 30) -> None:
        """Wait until the regular expression ``pattern`` matches ``count``
        times in the worker's log."""
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.log())) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{pattern!r} not {count} times in the worker's log:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def messages_ready(self) -> int:
        """Messages waiting in this run's queue (none taken by a worker)."""
        with self.app.connection_for_write() as connection_:
            return connection_.default_channel.queue_declare(queue=self.queue, passive=True).message_count

    def delete_queue(self) -> None:
        with self.app.connection_for_write() as connection_:
            connection_.default_channel.queue_delete(queue=self.queue)


def wait_until(condition, *, timeout: float = 30, what: str = "the condition") -> None:
    """Poll ``condition()`` (database reads, say) until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _use_celery(app, **conf) -> None:
    """Point the Celery app of this process elsewhere: its configuration,
    then a fresh AMQP layer (queues, router, producers) built from it."""
    # The connection pool goes too (kombu keeps pools by broker: not closed).
    app._pool = None
    # Read from Django's settings, a value is found under its CELERY_ name first.
    app.conf.update({**conf, **{f"CELERY_{key.upper()}": value for key, value in conf.items()}})
    app.__dict__.pop("amqp", None)


def _worker_tests_possible() -> str:
    """Why the worker tests cannot run here, or ""."""
    from django.conf import settings as django_settings

    if not django_settings.TEST_CELERY_BROKER_URL:
        return "needs a broker (set CELERY_BROKER_URL)"
    if connection.vendor != "postgresql":
        return "needs PostgreSQL (set DATABASE_URL): the worker reads what the tests commit"
    return ""


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup, django_db_blocker, make_httpserver, tmp_path_factory):
    from django.conf import settings as django_settings

    from config.celery import app

    database = django_settings.DATABASES["default"]  # the test database, once set up
    database_url = "postgres://{user}:{password}@{host}:{port}/{name}".format(
        user=quote(database["USER"] or ""),
        password=quote(database["PASSWORD"] or ""),
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        name=quote(database["NAME"]),
    )
    directory = tmp_path_factory.mktemp("celery-worker")
    for name in ("mail", "jobs"):
        (directory / name).mkdir()
    queue = f"cashback-test-{os.getpid()}-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.worker_tests",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": django_settings.TEST_CELERY_BROKER_URL,
        "CELERY_TEST_QUEUE": queue,
        "EMAIL_FILE_PATH": str(directory / "mail"),
        "JOB_FILES_DIR": str(directory / "jobs"),
        "CASHBACK_API_URL": make_httpserver.url_for("").rstrip("/"),
        "CASHBACK_API_TOKEN": "worker-test-token",
    }
    # Only where tasks would go: the worker tests themselves turn off the
    # in-process mode (celery_worker), so that the others keep it.
    # (The exchange and routing key were derived from the queue's name when
    # the configuration was read: the three go together.)
    names = ("task_default_queue", "task_default_exchange", "task_default_routing_key")
    previous = {key: app.conf[key] for key in ("broker_url", *names)}
    _use_celery(app, broker_url=env["CELERY_BROKER_URL"], **dict.fromkeys(names, queue))
    worker = CeleryWorker(
        app=app, broker_url=env["CELERY_BROKER_URL"], queue=queue, directory=directory, env=env
    )
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            worker.delete_queue()
        _use_celery(app, **previous)


@pytest.fixture
def celery_worker(_celery_worker_session, transactional_db, settings):
    """A real Celery worker for this test, as production runs one: the
    tasks this test sends go through RabbitMQ to it, after their
    transaction commits. The worker lives for the session (a test that
    kills it starts another); its mail lands in ``worker.directory / "mail"``,
    and it calls the brand's API at pytest-httpserver's ``httpserver``.

    The tests of later features that need the real thing belong in the
    same marked set: a bulk approval of 5,000 purchases, an export
    downloaded once the worker wrote it (``JOB_FILES_DIR`` is
    ``worker.directory / "jobs"`` for both processes)."""
    worker = _celery_worker_session
    settings.CELERY_BROKER_URL = worker.broker_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.STORAGES = {
        **settings.STORAGES,
        "jobs": {**settings.STORAGES["jobs"], "OPTIONS": {"location": str(worker.directory / "jobs")}},
    }
    if worker.process is None or worker.process.poll() is not None:
        worker.start()  # a test before this one killed it
    in_process, worker.app.conf.task_always_eager = worker.app.conf.task_always_eager, False
    try:
        yield worker
    finally:
        worker.app.conf.task_always_eager = in_process
