import threading

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.serializers import tokens_for
from accounts.tests.factories import StaffFactory, UserFactory
from resellers.tests.factories import ResellerFactory


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


@pytest.fixture
def api_client():
    return APIClient()


def authenticated_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user)['access']}")
    return client


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


@pytest.fixture
def reseller(db):
    return ResellerFactory()


@pytest.fixture
def reseller_client(reseller):
    return authenticated_client(reseller.user)


@pytest.fixture
def staff_user(db):
    return StaffFactory()


@pytest.fixture
def staff_client(staff_user):
    return authenticated_client(staff_user)


@pytest.fixture
def user(db):
    return UserFactory()


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"database: {database}, cache: {cache}"


def pytest_collection_modifyitems(config, items):
    from django.db import connection

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
