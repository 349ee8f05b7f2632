"""A bulk review above the immediate limit in Chromium, at 1366 px: "select
all" in the list, the confirmation with the count, then the job's page.
Selected with `-m browser`; the screenshots (admin-purchases-bulk-review.png,
admin-job-review-queued.png, admin-job-review.png) go to docs/ with
`make screenshots`."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from core import jobs
from core.models import Job
from purchases import admin as purchases_admin
from purchases import tasks
from purchases.models import Purchase
from resellers.tests.factories import ResellerFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]

CHANGELIST = "/admin/purchases/purchase/"
PENDING = 1234


@pytest.fixture
def many_pending():
    """1,234 purchases in validation of three resellers (written directly:
    the page is about their number), and two already reviewed."""
    today = timezone.localdate()
    resellers = [
        ResellerFactory(user__full_name=name) for name in ("Maria Souza", "João Pedro Oliveira", "Ana Lima")
    ]
    Purchase.objects.bulk_create(
        Purchase(
            reseller=resellers[n % 3],
            code=f"NF-{50_000 + n}",
            value=Decimal("100.00") + n,
            date=today - timedelta(days=n % 20),
        )
        for n in range(PENDING)
    )
    Purchase.objects.bulk_create(
        Purchase(reseller=resellers[0], code=f"OK-{n}", value=Decimal("10.00"), date=today, status="approved")
        for n in range(2)
    )


def test_approving_thousands_is_confirmed_then_followed_on_the_jobs_page(
    live_server, page, log_in_admin, screenshot, many_pending, monkeypatch
):
    # The job is left queued when it starts (no worker here), then run.
    monkeypatch.setattr(jobs, "job_send", lambda job_id: True)
    monkeypatch.setattr(purchases_admin, "job_send", lambda job_id: True)
    staff = StaffFactory(is_superuser=True, full_name="Ana Revisora")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, CHANGELIST)
    page.wait_for_selector("#result_list")

    page.check("#action-toggle")
    page.click(".actions .question a")  # "Selecionar todas as 1.236 compras"
    page.select_option("select[name=action]", "approve_selected")
    page.click(".actions button[name=index]")
    page.wait_for_selector(".bulk-review-count")
    screenshot(page, "admin-purchases-bulk-review.png", full_page=True)

    count = page.locator(".bulk-review-count").inner_text()
    assert "1.234 compras selecionadas em validação serão aprovadas em segundo plano." in count
    assert "2 compras já revisadas serão ignoradas." in count
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    assert Purchase.objects.filter(status="validating").count() == PENDING  # nothing yet

    page.click("input[type=submit][value='Sim, aprovar']")
    page.wait_for_selector(".messagelist")
    job = Job.objects.get()
    assert page.url.endswith(f"/admin/core/job/{job.pk}/change/")
    assert "Revisando 1.234 compras em segundo plano" in page.locator(".messagelist").inner_text()
    assert "0 / 1.234" in page.locator("#content").inner_text()
    screenshot(page, "admin-job-review-queued.png", full_page=True)

    tasks.purchases_review_job(str(job.pk))  # a worker takes it
    page.goto(f"{live_server.url}/admin/core/job/{job.pk}/change/")
    content = page.locator("#content").inner_text()
    assert "1.234 / 1.234" in content
    assert "1.234 compras aprovadas." in content
    screenshot(page, "admin-job-review.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0

    page.goto(f"{live_server.url}/admin/core/job/")
    row = page.locator("#result_list tbody tr").first.inner_text()
    assert "Aprovação de 1.234 compras" in row
    assert "Ana Revisora" in row or staff.email in row
    assert Purchase.objects.filter(status="validating").count() == 0
