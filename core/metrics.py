"""Prometheus metrics, served at GET /metrics to authorised scrapers only.

Off unless ``METRICS_ENABLED`` (config/settings/base.py): disabled, nothing
here is imported, ``MetricsMiddleware`` is not in the chain and the cache
backends are Django's own. Enabled:

- requests: counted by status, view name (the URL pattern's name, never the
  raw path: bounded label values) and method, and timed by view and method;
- database: every query a request makes is timed, through Django's
  ``execute_wrapper``, by alias and vendor; failed ones counted by error type;
- cache: every call timed by backend and operation; ``get`` counts hits and
  misses (``TimedRedisCache``, ``TimedLocMemCache``); whether the circuit
  breaker in front of Redis skips it, and how often it opened (core.cache).

The names are django-prometheus's, so dashboards made for it read these. Its
middlewares are not used: they update a dozen series per request (body sizes,
charsets, transports...), measured at 95-135 microseconds of CPU per request
against 10-25 for this one (docs/operations.md, "Metrics"). Nor are its
wrapped database engines (they replace the ENGINE name that the settings
compare) or its cache backends (they time nothing, and the local-memory one
answers a cached 0 or "" as a miss).

Under gunicorn, prometheus_client's multiprocess mode adds up every worker's
numbers (config/gunicorn.py sets PROMETHEUS_MULTIPROC_DIR on start).
"""

import hmac
import ipaddress
import logging
import os
from time import perf_counter

import django_redis.cache
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends import locmem
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.db import connection
from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from rest_framework.throttling import BaseThrottle

from core.cache import breaker_listeners
from core.routing import replica_listeners

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# Seconds: the API answers in milliseconds, a query or a cache call in less.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Any other method (clients may send anything) is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
UNRESOLVED = "<unnamed view>"  # no URL matched (404s, static files), as django-prometheus says

responses_total = Counter(
    "django_http_responses_total_by_status_view_method",
    "Count of responses by status, view, method.",
    ["status", "view", "method"],
)
request_latency_seconds = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Histogram of request processing time labelled by view.",
    ["view", "method"],
    buckets=BUCKETS,
)
query_duration_seconds = Histogram(
    "django_db_query_duration_seconds",
    "Histogram of query duration by database and vendor.",
    ["alias", "vendor"],
    buckets=BUCKETS,
)
query_errors_total = Counter(
    "django_db_errors_total",
    "Counter of execution errors by database, vendor and exception type.",
    ["alias", "vendor", "type"],
)
cache_duration_seconds = Histogram(
    "django_cache_operation_duration_seconds",
    "Histogram of cache call duration by backend and operation.",
    ["backend", "operation"],
    buckets=BUCKETS,
)
cache_hits_total = Counter("django_cache_get_hits_total", "Total hits on cache", ["backend"])
cache_misses_total = Counter("django_cache_get_misses_total", "Total misses on cache", ["backend"])
# The circuit breaker in front of Redis (core.cache), per process: the gauge
# is 1 while a live worker skips the server.
cache_breaker_open = Gauge(
    "cache_breaker_open",
    "1 while the cache server is skipped (circuit breaker open or half-open).",
    ["server"],
    multiprocess_mode="livemax",
)
cache_breaker_opened_total = Counter(
    "cache_breaker_opened_total", "Times the circuit breaker in front of a cache server opened.", ["server"]
)


def _breaker_changed(server: str, *, is_open: bool) -> None:
    cache_breaker_open.labels(server).set(1 if is_open else 0)
    if is_open:
        cache_breaker_opened_total.labels(server).inc()


breaker_listeners.append(_breaker_changed)

# The read replicas (core.routing), per process, as each measure finds them:
# the minimum over live workers (0 if any of them skips the replica) and the
# largest lag any of them measured.
replica_available = Gauge(
    "cashback_replica_available",
    "1 while reads go to the replica: it answers, is a standby and lags less than the bound.",
    ["replica"],
    multiprocess_mode="livemin",
)
replica_lag_seconds = Gauge(
    "cashback_replica_lag_seconds",
    "Seconds since the last transaction the replica replayed, when it was last measured.",
    ["replica"],
    multiprocess_mode="livemax",
)
replica_failures_total = Counter(
    "cashback_replica_failures_total",
    "Times a replica did not answer (or was not a standby) and its reads went to the primary.",
    ["replica"],
)


def _replica_measured(alias: str, *, usable: bool, lag: float | None) -> None:
    replica_available.labels(alias).set(1 if usable else 0)
    if lag is not None:
        replica_lag_seconds.labels(alias).set(lag)
    else:
        replica_failures_total.labels(alias).inc()


replica_listeners.append(_replica_measured)


class _Children(dict):
    """A metric's children by label values: after the first time, a dict
    lookup instead of ``labels()`` (a lock and argument checks) per update."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric

    def __missing__(self, labels):
        child = self[labels] = self.metric.labels(*labels)
        return child


_responses = _Children(responses_total)
_latency = _Children(request_latency_seconds)
_queries = _Children(query_duration_seconds)
_cache_calls = _Children(cache_duration_seconds)
_cache_hits = _Children(cache_hits_total)
_cache_misses = _Children(cache_misses_total)


# --- Who may scrape -------------------------------------------------------------


def allowed_networks(entries) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOWED_IPS as networks (an address is a /32 or /128);
    ValueError for an entry that is neither."""
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def client_address(request) -> str:
    """The client's address exactly as throttling sees it: the socket's peer,
    or the X-Forwarded-For entry that REST_FRAMEWORK["NUM_PROXIES"] trusts."""
    return BaseThrottle().get_ident(request) or ""


def _from_allowed_address(request, networks) -> bool:
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _has_token(request, token: str) -> bool:
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def scrape_allowed(request) -> bool:
    """Every configured restriction must pass; with none configured (only
    possible outside production, which refuses to start so) nobody passes."""
    token = settings.METRICS_TOKEN
    networks = allowed_networks(settings.METRICS_ALLOWED_IPS)
    if not token and not networks:
        return False
    if token and not _has_token(request, token):
        return False
    return not networks or _from_allowed_address(request, networks)


def export(request) -> HttpResponse:
    """Every worker's numbers added up under gunicorn; this process's (and
    its CPU and memory) under runserver. Background work is every process's:
    jobs from the database, tasks from the shared cache."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessRegistry())
    registry.register(BackgroundWorkCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)


class _ProcessRegistry:
    """This process's default registry, as one collector of another."""

    def collect(self):
        return REGISTRY.collect()


# --- Background work --------------------------------------------------------------

TASK_OUTCOMES = ("succeeded", "failed", "retried")


def _task_key(name: str, outcome: str) -> str:
    return f"metrics:tasks:{name}:{outcome}"


def count_task(name: str, outcome: str) -> None:
    """Add one to a task's outcome, in the cache every process shares (a
    worker's own counters would be invisible to the api's /metrics)."""
    key = _task_key(name, outcome)
    try:
        cache.add(key, 0, timeout=None)
        cache.incr(key)
    except Exception:  # a count lost is better than a task failed for it
        logger.warning("Could not count a task outcome (%s %s).", name, outcome)


def _on_task_success(sender=None, **kwargs):
    count_task(sender.name, "succeeded")


def _on_task_failure(sender=None, **kwargs):
    count_task(sender.name, "failed")


def _on_task_retry(sender=None, **kwargs):
    count_task(sender.name, "retried")


def connect_task_signals() -> None:
    from celery import signals

    signals.task_success.connect(_on_task_success, dispatch_uid="core.metrics.task_success")
    signals.task_failure.connect(_on_task_failure, dispatch_uid="core.metrics.task_failure")
    signals.task_retry.connect(_on_task_retry, dispatch_uid="core.metrics.task_retry")


class BackgroundWorkCollector:
    """``cashback_jobs{kind,status}``: the jobs in the database by kind and
    status; ``cashback_tasks_total{task,outcome}``: Celery tasks run, by
    name and outcome, whichever process ran them."""

    def collect(self):
        from celery import current_app
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from core.models import Job

        jobs = GaugeMetricFamily(
            "cashback_jobs", "Background jobs by kind and status.", labels=["kind", "status"]
        )
        counts = {
            (row["kind"], row["status"]): row["n"]
            for row in Job.objects.order_by().values("kind", "status").annotate(n=Count("pk"))
        }
        for kind in Job.Kind.values:
            for status in Job.Status.values:
                jobs.add_metric([kind, status], counts.get((kind, status), 0))
        yield jobs

        tasks = CounterMetricFamily(
            "cashback_tasks", "Celery tasks run, by task name and outcome.", labels=["task", "outcome"]
        )
        # Every app's tasks module, not only those this process happened to
        # import: a task run by a worker is listed whichever process scrapes.
        current_app.loader.import_default_modules()
        names = sorted(name for name in current_app.tasks if not name.startswith("celery."))
        keys = [_task_key(name, outcome) for name in names for outcome in TASK_OUTCOMES]
        try:
            values = cache.get_many(keys)
        except Exception:
            values = {}
        for name in names:
            for outcome in TASK_OUTCOMES:
                tasks.add_metric([name, outcome], int(values.get(_task_key(name, outcome)) or 0))
        yield tasks


# --- Requests and queries ---------------------------------------------------------


def _time_query(execute, sql, params, many, context):
    db = context["connection"]
    start = perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        query_errors_total.labels(db.alias, db.vendor, type(error).__name__).inc()
        raise
    finally:
        _queries[db.alias, db.vendor].observe(perf_counter() - start)


class MetricsMiddleware:
    """Serve /metrics to an authorised scraper; count and time every other
    request, and time the queries made while serving it.

    Sits right after the health probes (unmeasured) and ahead of host
    validation and the HTTPS redirect: Prometheus scrapes each replica by
    its address over the internal network (``Host: 10.0.3.7:8000``, plain
    HTTP), which a production ALLOWED_HOSTS and SECURE_SSL_REDIRECT refuse.
    Anyone else asking for /metrics goes on down the chain, where no URL
    matches it: the JSON 404 of any unknown URL, which does not tell whether
    metrics exist. Never routed, so never in the OpenAPI schema.

    A request's time runs until its response is returned: for a streamed
    response (the admin's CSV export), until its first byte.
    """

    def __init__(self, get_response):
        if not settings.METRICS_ENABLED:  # listed by hand, or by a test
            raise MiddlewareNotUsed
        try:
            allowed_networks(settings.METRICS_ALLOWED_IPS)
        except ValueError as error:
            raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {error}") from None
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == METRICS_PATH and request.method == "GET" and scrape_allowed(request):
            return export(request)
        start = perf_counter()
        with connection.execute_wrapper(_time_query):
            response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None else UNRESOLVED
        method = request.method if request.method in METHODS else "other"
        _latency[view, method].observe(perf_counter() - start)
        _responses[str(response.status_code), view, method].inc()
        return response


# --- Cache backends ---------------------------------------------------------------

_MISSING = object()


class _TimedCacheMixin:
    """Times ``get`` and the calls named in ``timed_operations``; ``get``
    also counts hits and misses (a cache that does not answer is a miss)."""

    metrics_backend = ""
    timed_operations: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for operation in cls.timed_operations:
            setattr(cls, operation, _timed(operation))

    def get(self, key, default=None, version=None, **kwargs):
        start = perf_counter()
        try:
            value = super().get(key, _MISSING, version=version, **kwargs)
        finally:
            _cache_calls[self.metrics_backend, "get"].observe(perf_counter() - start)
        if value is _MISSING:
            _cache_misses[self.metrics_backend,].inc()
            return default
        _cache_hits[self.metrics_backend,].inc()
        return value


def _timed(operation: str):
    def method(self, *args, **kwargs):
        start = perf_counter()
        try:
            return getattr(super(_TimedCacheMixin, self), operation)(*args, **kwargs)
        finally:
            _cache_calls[self.metrics_backend, operation].observe(perf_counter() - start)

    method.__name__ = method.__qualname__ = operation
    return method


class TimedRedisCache(_TimedCacheMixin, django_redis.cache.RedisCache):
    metrics_backend = "redis"
    timed_operations = (
        "set",
        "add",
        "delete",
        "get_many",
        "set_many",
        "delete_many",
        "incr",
        "decr",
        "has_key",
        "touch",
    )


class TimedLocMemCache(_TimedCacheMixin, locmem.LocMemCache):
    metrics_backend = "locmem"
    # Its *_many calls and decr go through get, set, delete and incr, timed
    # there once each.
    timed_operations = ("set", "add", "delete", "incr", "has_key", "touch")
