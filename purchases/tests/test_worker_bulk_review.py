"""A bulk approval of 5,000 purchases through the admin, run by a real Celery
worker over RabbitMQ (``-m worker``): the request only starts the job, the
worker approves every purchase once, records each review, and e-mails each
reseller once."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from accounts.tests.factories import StaffFactory
from conftest import wait_until
from core.models import Job, OutboxEmail
from purchases.models import Purchase
from resellers.tests.factories import ResellerFactory

# The worker's tests run on a flushed database: the policy is set up again.
pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("default_cashback_policy")]

PURCHASES = 5_000
RESELLERS = 50


def test_approving_5000_purchases_through_the_admin(celery_worker):
    resellers = [ResellerFactory() for _ in range(RESELLERS)]
    # Inserted directly: the job under test is the review, not 5,000 creations.
    Purchase.objects.bulk_create(
        Purchase(
            reseller=resellers[n % RESELLERS],
            code=f"BULK-{n:05d}",
            value=Decimal("10.00") + n % 90,
            date=date(2026, 3, 1 + n % 28),
        )
        for n in range(PURCHASES)
    )
    staff = StaffFactory(is_superuser=True)
    client = Client()
    client.force_login(staff)

    response = client.post(
        "/admin/purchases/purchase/?status=validating",
        {"action": "approve_selected", "_selected_action": ["1"], "select_across": "1", "apply": "yes"},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert response["Location"] == f"/admin/core/job/{job.pk}/change/"

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_finished

    wait_until(finished, timeout=300, what="the worker to approve 5,000 purchases")
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.total, job.done, job.failures) == (PURCHASES, PURCHASES, 0)
    assert not Purchase.objects.exclude(status=Purchase.Status.APPROVED).exists()
    assert Purchase.objects.filter(reviewed_by=staff).count() == PURCHASES
    # Each review in the admin's history, once.
    assert LogEntry.objects.filter(user=staff).count() == PURCHASES
    # One e-mail per reseller, each sent once.
    emails = OutboxEmail.objects.filter(key__startswith=f"job:{job.pk}:reseller:")
    wait_until(lambda: not emails.filter(sent_at=None).exists(), timeout=120, what="the e-mails")
    assert emails.count() == RESELLERS
    assert set(emails.values_list("attempts", flat=True)) == {1}
