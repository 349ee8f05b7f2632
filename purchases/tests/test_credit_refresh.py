"""Beat's refresh of the brand's credit: the active resellers', oldest
first, a batch per run."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from purchases.tasks import cashback_credits_refresh_active
from resellers.models import CashbackCredit
from resellers.tasks import cashback_credit_refresh
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def configured(settings):
    settings.CASHBACK_API_URL = "http://127.0.0.1:1"
    settings.CASHBACK_API_CACHE_SECONDS = 300
    settings.CASHBACK_CREDIT_ACTIVE_DAYS = 30
    settings.CASHBACK_CREDIT_REFRESH_BATCH = 100


@pytest.fixture
def queued():
    sent = []
    with mock.patch.object(cashback_credit_refresh, "delay", side_effect=lambda *args: sent.append(args[0])):
        yield sent


def checked(reseller, *, seconds_ago: int) -> None:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    CashbackCredit.objects.create(reseller=reseller, credit=Decimal("1"), fetched_at=at, checked_at=at)


@pytest.mark.usefixtures("configured")
def test_active_resellers_with_an_old_or_no_credit_are_refreshed_oldest_first(make_purchase, queued):
    today = timezone.localdate()
    never, old, older, fresh, inactive = (ResellerFactory() for _ in range(5))
    for reseller in (never, old, older, fresh):
        make_purchase(reseller, date=today - timedelta(days=29))
    make_purchase(inactive, date=today - timedelta(days=31))
    checked(old, seconds_ago=600)
    checked(older, seconds_ago=6000)
    checked(fresh, seconds_ago=60)

    assert cashback_credits_refresh_active() == 3

    assert queued == [never.pk, older.pk, old.pk]


@pytest.mark.usefixtures("configured")
def test_one_batch_per_run_and_nothing_queued_twice(settings, make_purchase, queued):
    settings.CASHBACK_CREDIT_REFRESH_BATCH = 2
    resellers = [ResellerFactory() for _ in range(3)]
    for reseller in resellers:
        make_purchase(reseller)

    assert cashback_credits_refresh_active() == 2
    # The same two are still due (their refresh has not run), but queued already.
    assert cashback_credits_refresh_active() == 0
    assert queued == [resellers[0].pk, resellers[1].pk]


def test_nothing_to_refresh_without_the_api(settings, make_purchase, queued):
    settings.CASHBACK_API_URL = ""
    make_purchase()
    assert cashback_credits_refresh_active() == 0
    assert queued == []


def test_beat_runs_it_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["cashback-credits-refresh-active"]
    assert entry == {"task": cashback_credits_refresh_active.name, "schedule": 60.0}
