"""GET /metrics: Prometheus text for authorised scrapers only (core/metrics.py).

Disabled (the default) it is an unknown URL and nothing of it runs; enabled,
a scrape needs the bearer token and/or an allowed address, and everyone else
still gets the JSON 404 of an unknown URL. The numbers of several gunicorn
workers adding up is proved by the container check (.ci/container)."""

import json
import os
import runpy
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from core.tests.settings_process import import_settings

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[2]
METRICS_MIDDLEWARE = "core.metrics.MetricsMiddleware"
TIMED = {
    "django_redis.cache.RedisCache": "core.metrics.TimedRedisCache",
    "django.core.cache.backends.locmem.LocMemCache": "core.metrics.TimedLocMemCache",
}


def enabled_middleware() -> list[str]:
    """MIDDLEWARE as base.py lays it out with METRICS_ENABLED=true (held equal
    by test_enabling_adds_the_middlewares_and_timed_caches)."""
    middleware = list(settings.MIDDLEWARE)
    probes = middleware.index("core.middleware.HealthCheckMiddleware") + 1
    return [*middleware[:probes], METRICS_MIDDLEWARE, *middleware[probes:]]


def timed_caches() -> dict:
    return {
        alias: {**config, "BACKEND": TIMED[config["BACKEND"]]} for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def metrics_on():
    """Metrics enabled, scrapes with TOKEN only; yields the override so a
    test can change the restrictions (``metrics_on.enable()`` again)."""
    with override_settings(
        METRICS_ENABLED=True,
        METRICS_TOKEN=TOKEN,
        METRICS_ALLOWED_IPS=[],
        MIDDLEWARE=enabled_middleware(),
        CACHES=timed_caches(),
    ):
        yield


def scrape(client=None, **extra) -> dict[tuple[str, frozenset], float]:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **extra)
    assert response.status_code == 200, response.content[:300]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def family_total(samples, name, **labels) -> float:
    wanted = set(labels.items())
    return sum(
        v for (sample, sample_labels), v in samples.items() if sample == name and wanted <= sample_labels
    )


def grew_by(before, after, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def family_grew_by(before, after, name, **labels) -> float:
    return family_total(after, name, **labels) - family_total(before, name, **labels)


def assert_unknown_url(response, client):
    """The answer is exactly the JSON 404 of a URL that does not exist."""
    unknown = client.get("/no-such-url")
    assert response.status_code == unknown.status_code == 404
    assert response["Content-Type"] == unknown["Content-Type"] == "application/json"
    assert response.content == unknown.content


# --- Disabled -------------------------------------------------------------------


def test_metrics_disabled_is_the_json_404_of_an_unknown_url(client):
    assert not settings.METRICS_ENABLED
    assert_unknown_url(client.get("/metrics"), client)
    assert_unknown_url(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"), client)


def test_metrics_disabled_adds_nothing_to_the_request_path():
    assert not [name for name in settings.MIDDLEWARE if "metrics" in name.lower()]
    assert not [c for c in settings.CACHES.values() if c["BACKEND"].startswith("core.metrics")]


@override_settings(METRICS_ENABLED=False, MIDDLEWARE=enabled_middleware())
def test_metrics_middleware_listed_while_disabled_drops_out(client):
    assert_unknown_url(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"), client)


# --- Enabled: what a scrape shows -------------------------------------------------


@pytest.mark.usefixtures("metrics_on")
def test_scrape_counts_requests_by_view_and_status_and_times_queries_and_cache(staff_client):
    before = scrape()
    assert staff_client.get("/api/v1/products/").status_code == 200
    assert staff_client.get("/api/v1/purchases/999999/").status_code == 404

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    after = scrape()

    # By the URL pattern's name and the status, never by the raw path.
    responses = "django_http_responses_total_by_status_view_method_total"
    assert grew_by(before, after, responses, view="product-list", method="GET", status="200") == 1
    assert grew_by(before, after, responses, view="purchase-detail", method="GET", status="404") == 1
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert grew_by(before, after, latency, view="product-list", method="GET") == 1
    assert not [labels for _, labels in after for _, label in labels if "999999" in label or "/api/" in label]
    # Queries (the staff user is read from the database) and cache calls
    # (throttle counters, the catalogue's cached answer), with their time.
    vendor = {"alias": "default", "vendor": connection.vendor}
    assert grew_by(before, after, "django_db_query_duration_seconds_count", **vendor) >= 2
    assert grew_by(before, after, "django_db_query_duration_seconds_sum", **vendor) > 0
    assert family_grew_by(before, after, "django_cache_operation_duration_seconds_count", operation="get") > 0
    assert (
        family_grew_by(before, after, "django_cache_get_hits_total")
        + family_grew_by(before, after, "django_cache_get_misses_total")
        > 0
    )


@pytest.mark.usefixtures("metrics_on")
def test_an_unknown_url_is_counted_under_one_label():
    before = scrape()
    Client().get("/no/such/path/1")
    Client().get("/no/such/path/2")
    after = scrape()
    name = "django_http_responses_total_by_status_view_method_total"
    labels = {"view": "<unnamed view>", "method": "GET", "status": "404"}
    assert value(after, name, **labels) - value(before, name, **labels) == 2


@pytest.mark.usefixtures("metrics_on")
def test_an_unknown_method_is_counted_as_other():
    before = scrape()
    Client().generic("BREW", "/api/v1/products/")
    after = scrape()
    name = "django_http_responses_total_by_status_view_method_total"
    labels = {"view": "product-list", "method": "other", "status": "405"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert not [labels for _, labels in after if ("method", "BREW") in labels]


@pytest.mark.usefixtures("metrics_on")
def test_a_failing_query_is_counted_by_error_type():
    from django.db import DatabaseError, transaction

    from core.metrics import _time_query

    before = scrape()
    with (
        connection.execute_wrapper(_time_query),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT * FROM no_such_table")
    after = scrape()
    errors = [key for key in after if key[0] == "django_db_errors_total" and after[key] > before.get(key, 0)]
    assert errors, "no django_db_errors_total sample grew"


# --- Enabled: who may scrape ------------------------------------------------------


@pytest.mark.usefixtures("metrics_on")
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Token {TOKEN}", f"Bearer {TOKEN}x", "Bearer "],
)
def test_scrape_without_the_token_is_the_json_404(authorization):
    client = Client()
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    assert_unknown_url(client.get("/metrics", **extra), client)


@pytest.mark.usefixtures("metrics_on")
def test_only_get_scrapes():
    client = Client()
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.usefixtures("metrics_on")
@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_IPS=["10.0.0.0/8", "192.0.2.7"])
def test_scrape_from_an_allowed_address_needs_no_token():
    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::ffff:10.1.1.1").get("/metrics").status_code == 200
    outsider = Client(REMOTE_ADDR="192.0.2.8")
    assert_unknown_url(outsider.get("/metrics"), outsider)


@pytest.mark.usefixtures("metrics_on")
@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_IPS=["10.0.0.0/8"])
def test_allowed_addresses_follow_num_proxies_as_throttling_does():
    # No proxy (NUM_PROXIES=0): the header is the client's to forge, ignored.
    forged = Client(REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert_unknown_url(forged.get("/metrics"), forged)
    # One proxy: the address it appended, not what the client sent before it.
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        behind = Client(REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="10.9.9.9")
        assert behind.get("/metrics").status_code == 200
        spoofed = Client(REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.1")
        assert_unknown_url(spoofed.get("/metrics"), spoofed)


@pytest.mark.usefixtures("metrics_on")
@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1"])
def test_token_and_addresses_set_together_must_both_pass():
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics", **auth).status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics", **auth).status_code == 404


@pytest.mark.usefixtures("metrics_on")
@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_IPS=[])
def test_enabled_without_any_restriction_serves_nobody():
    # Production refuses to start so (below); elsewhere it fails closed.
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404


@pytest.mark.usefixtures("metrics_on")
@override_settings(ALLOWED_HOSTS=["api.example.com"], SECURE_SSL_REDIRECT=True)
def test_authorised_scrape_by_address_over_plain_http_skips_host_validation():
    # Prometheus scrapes each replica by address over the internal network.
    scraper = Client(HTTP_HOST="10.0.3.7:8000")
    assert scraper.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    # Anyone else meets the whole chain, as for any other URL.
    assert scraper.get("/metrics").status_code == 400
    assert Client(HTTP_HOST="api.example.com").get("/metrics").status_code == 301


@pytest.mark.usefixtures("metrics_on")
def test_metrics_is_not_in_the_openapi_schema(client):
    paths = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert not [path for path in paths if "metrics" in path]


# --- The timed cache backends keep the backends' answers --------------------------


@pytest.mark.usefixtures("metrics_on")
def test_timed_cache_answers_as_the_backend_does():
    cache = caches["default"]
    assert type(cache).__module__ == "core.metrics"
    before = scrape()
    cache.set("metrics-zero", 0)
    cache.set("metrics-empty", "")
    assert cache.get("metrics-zero", "default") == 0  # a falsy value is a hit
    assert cache.get("metrics-empty", "default") == ""
    assert cache.get("metrics-missing", "default") == "default"
    assert cache.get("metrics-missing") is None
    assert cache.get_many(["metrics-zero", "metrics-missing"]) == {"metrics-zero": 0}
    assert cache.add("metrics-counter", 1)
    assert cache.incr("metrics-counter") == 2
    assert cache.decr("metrics-counter") == 1
    assert cache.has_key("metrics-counter")
    assert cache.delete("metrics-counter")
    assert cache.get_or_set("metrics-set", 5) == 5
    after = scrape()
    backend = cache.metrics_backend
    assert grew_by(before, after, "django_cache_get_hits_total", backend=backend) >= 2
    assert grew_by(before, after, "django_cache_get_misses_total", backend=backend) >= 2
    for operation in ("set", "add", "incr", "delete"):
        assert (
            grew_by(
                before,
                after,
                "django_cache_operation_duration_seconds_count",
                backend=backend,
                operation=operation,
            )
            >= 1
        )


def test_timed_redis_cache_that_does_not_answer_is_a_miss(metrics_on):
    unreachable = {
        "BACKEND": "core.metrics.TimedRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
    }
    with override_settings(CACHES={"default": unreachable}):
        cache = caches["default"]
        assert cache.get("anything", "fallback") == "fallback"
        assert cache.set("anything", 1) is None
        cache.close()


# --- Settings: where the middlewares go, production refuses an open endpoint ------

PRINT_SETTINGS = (
    "import json, importlib, os; s = importlib.import_module(os.environ['DJANGO_SETTINGS_MODULE']);"
    "caches = {alias: cache['BACKEND'] for alias, cache in s.CACHES.items()};"
    "print(json.dumps({'middleware': s.MIDDLEWARE, 'caches': caches}))"
)
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 64,
    "ALLOWED_HOSTS": "api.example.com",
    "CPF_ENCRYPTION_KEYS": "bmQD2eQ8bvmITRj7Vly_arLCubDqhWp7xEkEFXiIed8=",
    "CPF_BLIND_INDEX_KEY": "y" * 32,
    "PUBLIC_BASE_URL": "https://api.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "amqp://cashback:secret@rabbitmq:5672/cashback",
}


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import a settings module in a fresh interpreter with these variables
    (and none of the machine's METRICS_* or secrets)."""
    read = {*PRODUCTION, "ALLOW_LOCAL_CACHE", "ALLOW_IN_PROCESS_JOBS", "DATABASE_URL", "REDIS_SENTINELS"}

    def unset(key: str) -> bool:
        return key.startswith("METRICS_") or key in read

    return import_settings(PRINT_SETTINGS, unset=unset, env=env)


def test_enabling_adds_the_middlewares_and_timed_caches():
    disabled = json.loads(load_settings(DJANGO_SETTINGS_MODULE="config.settings.local").stdout)
    result = load_settings(DJANGO_SETTINGS_MODULE="config.settings.local", METRICS_ENABLED="true")
    assert result.returncode == 0, result.stderr
    enabled = json.loads(result.stdout)
    middleware = disabled["middleware"]
    probes = middleware.index("core.middleware.HealthCheckMiddleware") + 1
    assert enabled["middleware"] == [*middleware[:probes], METRICS_MIDDLEWARE, *middleware[probes:]]
    assert set(disabled["caches"].values()) == {"django.core.cache.backends.locmem.LocMemCache"}
    assert set(enabled["caches"].values()) == {"core.metrics.TimedLocMemCache"}


def test_production_refuses_metrics_without_a_token_or_allowed_addresses():
    result = load_settings(**PRODUCTION, METRICS_ENABLED="true")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "METRICS_TOKEN" in result.stderr
    assert "METRICS_ALLOWED_IPS" in result.stderr


@pytest.mark.parametrize(
    "restriction", [{"METRICS_TOKEN": TOKEN}, {"METRICS_ALLOWED_IPS": "10.0.0.0/8,192.0.2.1"}]
)
def test_production_starts_with_metrics_restricted(restriction):
    result = load_settings(**PRODUCTION, METRICS_ENABLED="true", **restriction)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert METRICS_MIDDLEWARE in loaded["middleware"]
    assert set(loaded["caches"].values()) == {"core.metrics.TimedRedisCache"}


def test_production_refuses_an_allowed_address_that_is_not_one():
    result = load_settings(**PRODUCTION, METRICS_ENABLED="true", METRICS_ALLOWED_IPS="10.0.0.0/8,prometheus")
    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS: 'prometheus'" in result.stderr


def test_production_without_metrics_has_none_of_it():
    result = load_settings(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert not [name for name in loaded["middleware"] if name.startswith("core.metrics")]
    assert set(loaded["caches"].values()) == {"django_redis.cache.RedisCache"}


# --- gunicorn: the workers' shared directory --------------------------------------


def unset_multiproc_dir(monkeypatch):
    # Set, then removed: monkeypatch restores "not set" after the test, also
    # when a hook set it (a scrape in a later test would read that directory).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


def test_gunicorn_hooks_prepare_and_remove_the_multiprocess_directory(monkeypatch):
    monkeypatch.setenv("METRICS_ENABLED", "true")
    unset_multiproc_dir(monkeypatch)
    hooks = runpy.run_path(str(REPO_ROOT / "config" / "gunicorn.py"))

    hooks["on_starting"](None)
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert directory.name == f"cashback-metrics-{os.getpid()}"
    assert str(directory.parent) in ("/dev/shm", tempfile.gettempdir())  # noqa: S108
    assert directory.is_dir()
    (directory / "counter_1.db").write_bytes(b"")  # a worker's file
    hooks["on_exit"](None)
    assert not directory.exists()


def test_gunicorn_hooks_empty_an_operator_directory_without_removing_it(monkeypatch, tmp_path):
    monkeypatch.setenv("METRICS_ENABLED", "true")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")
    hooks = runpy.run_path(str(REPO_ROOT / "config" / "gunicorn.py"))
    hooks["on_starting"](None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    hooks["on_exit"](None)
    assert tmp_path.is_dir()


def test_gunicorn_hooks_do_nothing_with_metrics_off(monkeypatch):
    monkeypatch.delenv("METRICS_ENABLED", raising=False)
    unset_multiproc_dir(monkeypatch)
    hooks = runpy.run_path(str(REPO_ROOT / "config" / "gunicorn.py"))
    hooks["on_starting"](None)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


@pytest.mark.usefixtures("metrics_on")
def test_the_cache_breaker_state_is_exported():
    from core.cache import _breaker

    breaker = _breaker("cache-test-server:6379")
    for _ in range(settings.CACHE_BREAKER_FAILURES):
        breaker.failed()
    opened = scrape()
    assert value(opened, "cache_breaker_open", server="cache-test-server:6379") == 1
    assert value(opened, "cache_breaker_opened_total", server="cache-test-server:6379") == 1

    breaker.succeeded()
    closed = scrape()
    assert value(closed, "cache_breaker_open", server="cache-test-server:6379") == 0
    assert value(closed, "cache_breaker_opened_total", server="cache-test-server:6379") == 1


@pytest.mark.usefixtures("metrics_on")
def test_the_replicas_state_is_exported():
    from core import routing

    routing.health("metrics-replica")  # as a process that measured it
    routing._tell("metrics-replica", usable=True, lag=0.4)
    measured = scrape()
    assert value(measured, "cashback_replica_available", replica="metrics-replica") == 1
    assert value(measured, "cashback_replica_lag_seconds", replica="metrics-replica") == 0.4

    routing._tell("metrics-replica", usable=False, lag=12.0)  # lagging beyond the bound
    routing._tell("metrics-replica", usable=False, lag=None)  # then not answering
    failed = scrape()
    assert value(failed, "cashback_replica_available", replica="metrics-replica") == 0
    assert value(failed, "cashback_replica_lag_seconds", replica="metrics-replica") == 12.0
    assert value(failed, "cashback_replica_failures_total", replica="metrics-replica") == 1


# --- Background work ------------------------------------------------------------


@pytest.mark.django_db
def test_jobs_by_kind_and_status_and_tasks_by_name_and_outcome(metrics_on):
    from core import tasks
    from core.metrics import connect_task_signals
    from core.models import Job

    connect_task_signals()
    Job.objects.create(kind=Job.Kind.PURCHASE_EXPORT, task="t", permission="p", status=Job.Status.SUCCEEDED)
    Job.objects.create(kind=Job.Kind.PURCHASE_EXPORT, task="t", permission="p", status=Job.Status.FAILED)
    before = scrape()
    tasks.jobs_resend_queued.apply()
    tasks.jobs_remove_expired_files.apply()
    after = scrape()
    assert value(after, "cashback_jobs", kind="purchase_export", status="succeeded") == 1
    assert value(after, "cashback_jobs", kind="purchase_export", status="failed") == 1
    assert value(after, "cashback_jobs", kind="purchase_review", status="queued") == 0
    name = "core.tasks.jobs_resend_queued"
    assert grew_by(before, after, "cashback_tasks_total", task=name, outcome="succeeded") == 1
    assert grew_by(before, after, "cashback_tasks_total", task=name, outcome="failed") == 0
