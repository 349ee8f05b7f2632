"""Bulk review of any size, and the resellers' e-mails about reviews.

A few purchases selected in the list are reviewed in the request; more ask
for confirmation and run as a background job, in chunks, with the rules and
locks of a single review: a purchase reviewed meanwhile is skipped and
counted, never overwritten. A reseller hears of a review once, after it
commits: one e-mail per single review, one per reseller for a bulk one."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client

from accounts.tests.factories import StaffFactory
from conftest import EN, authenticated_client
from core.models import Job, JobChunk, OutboxEmail
from purchases import admin as purchases_admin
from purchases import services, tasks
from purchases.models import MonthlyCashback, Purchase
from purchases.services import (
    ALREADY_REVIEWED_MESSAGE,
    purchase_approve,
    purchase_delete,
    purchase_reject,
    purchases_review_bulk,
)
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]
D = Decimal
CHANGELIST = "/admin/purchases/purchase/"
REVIEWER_PERMISSIONS = ["purchases.view_purchase", "purchases.review_purchase"]


@pytest.fixture
def pending(make_purchase):
    """Six purchases in validation in March: four of Ana's, two of Bia's."""
    ana = ResellerFactory(user__email="ana@example.com", user__full_name="Ana Souza")
    bia = ResellerFactory(user__email="bia@example.com", user__full_name="Bia Lima")
    made = [
        make_purchase(ana if n < 4 else bia, f"{100 + n}.00", date(2026, 3, 1 + n), f"B-{n}")
        for n in range(6)
    ]
    return {"ana": ana, "bia": bia, "purchases": made}


@pytest.fixture
def small_limit(settings, monkeypatch):
    """Above three purchases a bulk review runs as a job, in chunks of two."""
    settings.BULK_REVIEW_IMMEDIATE_MAX = 3
    monkeypatch.setattr(purchases_admin, "REVIEW_CHUNK_SIZE", 2)


def select_all(action, **extra):
    """The list's "select all" (the checked page's ids and select_across)."""
    return {"action": action, "_selected_action": ["1"], "select_across": "1", **extra}


def sent_messages(response):
    return [(message.level, message.message) for message in get_messages(response.wsgi_request)]


def statuses():
    return dict(Purchase.objects.values_list("code", "status"))


def history(purchase):
    return list(
        LogEntry.objects.filter(object_id=str(purchase.pk)).values_list(
            "user_id", "action_flag", "change_message"
        )
    )


def sent_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def codes_in(message):
    return re.findall(r"\bB-\d\b", message.body)


# --- The service --------------------------------------------------------------


def test_a_bulk_approval_reviews_those_in_validation_and_counts_the_rest(pending, admin_user):
    first, second, gone, *rest = pending["purchases"]
    purchase_approve(purchase=first, reviewer=admin_user)
    purchase_reject(purchase=second, reviewer=admin_user, reason="Sem nota.")
    purchase_delete(purchase=gone)
    ids = [p.pk for p in pending["purchases"]] + [10**9]

    outcome = purchases_review_bulk(purchase_ids=ids, reviewer=admin_user, action=services.APPROVE)

    assert outcome.reviewed == [(p.pk, p.reseller_id) for p in rest]
    assert outcome.skipped == 4  # approved, rejected, deleted, never existed
    assert statuses() == {
        "B-0": "approved",
        "B-1": "rejected",
        "B-3": "approved",
        "B-4": "approved",
        "B-5": "approved",
    }
    for purchase in rest:
        purchase.refresh_from_db()
        assert (purchase.reviewed_by, purchase.reviewed_at is not None) == (admin_user, True)
        assert history(purchase) == [(admin_user.pk, CHANGE, "Aprovada")]
    assert history(second) == [(admin_user.pk, CHANGE, "Reprovada: Sem nota.")]  # left alone
    # Without a notify key the purchases' resellers are not e-mailed here.
    assert sorted(OutboxEmail.objects.values_list("key", flat=True)) == [
        f"purchase-review:{first.pk}",
        f"purchase-review:{second.pk}",
    ]


def test_a_bulk_rejection_leaves_the_month_figures_as_single_rejections_do(make_purchase, admin_user):
    def month_after(reject):
        reseller = ResellerFactory()
        kept = make_purchase(reseller, "600.00", date(2026, 3, 1))
        dropped = [make_purchase(reseller, value, date(2026, 3, 2)) for value in ("500.00", "450.00")]
        make_purchase(reseller, "80.00", date(2026, 2, 10))
        reject(dropped)
        kept.refresh_from_db()
        month = MonthlyCashback.objects.values(
            "total_value", "purchase_count", "cashback_percent", "cashback_value"
        ).get(reseller=reseller, month=date(2026, 3, 1))
        return (kept.cashback_percent, kept.cashback_value), month

    def one_by_one(purchases):
        for purchase in purchases:
            purchase_reject(purchase=purchase, reviewer=admin_user, reason="Duplicada.")

    def in_bulk(purchases):
        purchases_review_bulk(
            purchase_ids=[p.pk for p in purchases],
            reviewer=admin_user,
            action=services.REJECT,
            reason="Duplicada.",
        )

    single, bulk = month_after(one_by_one), month_after(in_bulk)
    assert single == bulk
    # 1,550.00 (20 %) down to 600.00 (10 %).
    assert bulk == (
        (D("10.00"), D("60.00")),
        {
            "total_value": D("600.00"),
            "purchase_count": 1,
            "cashback_percent": D("10.00"),
            "cashback_value": D("60.00"),
        },
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_bulk_rejection_needs_a_reason(pending, admin_user, reason):
    with pytest.raises(ValidationError):
        purchases_review_bulk(
            purchase_ids=[p.pk for p in pending["purchases"]],
            reviewer=admin_user,
            action=services.REJECT,
            reason=reason,
        )
    assert set(statuses().values()) == {"validating"}


# --- A single review's e-mail -----------------------------------------------------


def test_a_single_approval_emails_the_reseller_once_after_the_commit(
    pending, django_capture_on_commit_callbacks
):
    staff = StaffFactory(permissions=REVIEWER_PERMISSIONS)
    purchase = pending["purchases"][0]
    url = f"/api/v1/purchases/{purchase.pk}/approve/"
    client = authenticated_client(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, **EN)
        assert response.status_code == 200
        assert mail.outbox == []  # not before the commit
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    # In Portuguese, whatever the reviewer's language.
    assert message.subject == "Compra B-0 aprovada — Cashback de revendedores"
    assert "Olá, Ana." in message.body
    assert "Sua compra B-0 de 01/03/2026, no valor de R$ 100,00, foi aprovada." in message.body
    assert OutboxEmail.objects.get().key == f"purchase-review:{purchase.pk}"
    cpf = pending["ana"].cpf
    assert cpf not in message.body
    assert cpf not in message.alternatives[0][0]

    # Reviewed again: a 409, and no second message.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 409
        assert client.post(f"/api/v1/purchases/{purchase.pk}/reject/", {"reason": "x"}).status_code == 409
    assert len(mail.outbox) == 1


def test_a_rejection_email_gives_the_reason(pending, admin_client, django_capture_on_commit_callbacks):
    purchase = pending["purchases"][4]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}{purchase.pk}/reject/", {"reason": "Nota <ilegível>."})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["bia@example.com"]
    assert message.subject == "Compra B-4 reprovada — Cashback de revendedores"
    assert "foi reprovada." in message.body
    assert "Motivo: Nota <ilegível>." in message.body
    assert "Compras reprovadas não contam para o seu cashback." in message.body
    html, _mimetype = message.alternatives[0]
    assert "Motivo: Nota &lt;ilegível&gt;." in html


def test_a_review_rolled_back_sends_nothing(pending, admin_user, django_capture_on_commit_callbacks):
    purchase = pending["purchases"][0]

    def review_then_fail():
        with transaction.atomic():
            purchase_approve(purchase=purchase, reviewer=admin_user)
            raise RuntimeError("the request failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        review_then_fail()
    assert callbacks == []
    assert mail.outbox == []
    assert not OutboxEmail.objects.exists()


def test_a_refused_review_on_the_page_sends_nothing(
    pending, admin_client, admin_user, django_capture_on_commit_callbacks
):
    purchase = pending["purchases"][0]
    purchase_approve(purchase=purchase, reviewer=admin_user)  # its message is not run here
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}{purchase.pk}/approve/", **EN)
    assert response.status_code == 302
    assert sent_messages(response) == [(messages.ERROR, str(ALREADY_REVIEWED_MESSAGE))]
    assert mail.outbox == []


# --- A few: reviewed in the request, one e-mail per reseller -------------------------


def test_a_few_selected_are_approved_at_once_with_one_email_per_reseller(
    pending, admin_client, django_capture_on_commit_callbacks
):
    selected = {
        "action": "approve_selected",
        "_selected_action": [p.pk for p in pending["purchases"]],
        "index": 0,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, selected, **EN)
    assert response.status_code == 302
    assert sent_messages(response) == [(messages.SUCCESS, "6 purchases approved.")]
    assert set(statuses().values()) == {"approved"}
    assert not Job.objects.exists()

    assert len(mail.outbox) == 2
    (ana,) = sent_to("ana@example.com")
    (bia,) = sent_to("bia@example.com")
    assert ana.subject == "4 compras aprovadas — Cashback de revendedores"
    assert "4 compras suas, no total de R$ 406,00, foram aprovadas:" in ana.body
    assert codes_in(ana) == ["B-0", "B-1", "B-2", "B-3"]
    assert codes_in(bia) == ["B-4", "B-5"]
    keys = sorted(OutboxEmail.objects.values_list("key", flat=True))
    assert all(key.startswith("purchase-review-bulk:") for key in keys)
    assert keys[0].split(":reseller:")[0] == keys[1].split(":reseller:")[0]  # one action, one key


def test_a_few_selected_are_rejected_at_once_with_the_reason(
    pending, admin_client, django_capture_on_commit_callbacks
):
    data = {
        "action": "reject_selected",
        "_selected_action": [p.pk for p in pending["purchases"][3:]],
        "apply": "yes",
        "reason": "Notas repetidas.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(CHANGELIST, data).status_code == 302
    assert statuses()["B-3"] == statuses()["B-5"] == "rejected"
    (ana,) = sent_to("ana@example.com")
    (bia,) = sent_to("bia@example.com")
    assert ana.subject == "Compra B-3 reprovada — Cashback de revendedores"
    assert bia.subject == "2 compras reprovadas — Cashback de revendedores"
    assert "Motivo: Notas repetidas." in bia.body


# --- More: confirmed, then a background job ------------------------------------------


@pytest.mark.usefixtures("small_limit")
def test_above_the_limit_approving_asks_for_confirmation_with_the_count(pending, admin_client):
    response = admin_client.post(CHANGELIST + "?status=validating", select_all("approve_selected", index=0))
    assert response.status_code == 200
    assert "admin/purchases/purchase/bulk_review.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "<strong>6</strong> compras selecionadas em validação serão aprovadas em segundo plano." in content
    assert 'name="select_across" value="1"' in content
    assert 'name="apply"' in content
    assert 'name="reason"' not in content
    assert set(statuses().values()) == {"validating"}
    assert not Job.objects.exists()


def test_the_confirmation_shows_the_count_with_thousands_separators(admin_client, settings):
    settings.BULK_REVIEW_IMMEDIATE_MAX = 200
    reseller = ResellerFactory()
    Purchase.objects.bulk_create(
        Purchase(reseller=reseller, code=f"M-{n}", value=D("10.00"), date=date(2026, 3, 1))
        for n in range(1234)
    )
    response = admin_client.post(CHANGELIST, select_all("reject_selected", index=0))
    content = response.content.decode()
    assert (
        "<strong>1.234</strong> compras selecionadas em validação serão reprovadas em segundo plano."
        in content
    )
    assert 'name="reason"' in content
    # The page posts the selection back as it came: not 1,234 fields.
    assert content.count('name="_selected_action"') == 1
    shown = re.search(r'<ul class="bulk-review-shown">(.*?)</ul>', content, re.S).group(1)
    assert shown.count("<li>") == 21  # the first twenty, then "…"


@pytest.mark.usefixtures("small_limit")
def test_confirming_starts_a_job_that_approves_them_all(
    pending, admin_client, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST + "?status=validating", select_all("approve_selected", apply="yes")
        )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/core/job/{job.pk}/change/"
    assert sent_messages(response) == [
        (messages.SUCCESS, "Revisando 6 compras em segundo plano: esta página mostra o andamento.")
    ]
    assert (job.kind, job.task, job.created_by, job.permission) == (
        Job.Kind.PURCHASE_REVIEW,
        "purchases.tasks.purchases_review_job",
        admin_user,
        "purchases.review_purchase",
    )
    assert job.params == {"action": "approve", "reason": "", "reviewer_id": admin_user.pk}
    assert (job.status, job.total, job.done, job.failures) == (Job.Status.SUCCEEDED, 6, 6, 0)
    assert JobChunk.objects.filter(job=job).count() == 3
    assert job.description == "Aprovação de 6 compras"
    assert job.result["summary"] == "6 compras aprovadas."
    assert set(statuses().values()) == {"approved"}
    for purchase in pending["purchases"]:
        assert history(purchase) == [(admin_user.pk, CHANGE, "Aprovada")]

    # One e-mail per reseller, about all of their purchases across chunks.
    assert len(mail.outbox) == 2
    (ana,) = sent_to("ana@example.com")
    assert codes_in(ana) == ["B-0", "B-1", "B-2", "B-3"]
    assert codes_in(sent_to("bia@example.com")[0]) == ["B-4", "B-5"]
    assert sorted(OutboxEmail.objects.values_list("key", flat=True)) == sorted(
        f"job:{job.pk}:reseller:{pending[name].pk}" for name in ("ana", "bia")
    )

    page = admin_client.get(response["Location"]).content.decode()
    assert "6 / 6" in page
    assert "6 compras aprovadas." in page
    assert "Aprovação de 6 compras" in admin_client.get("/admin/core/job/").content.decode()


@pytest.mark.usefixtures("small_limit")
def test_purchases_reviewed_meanwhile_are_skipped_and_counted(
    pending, admin_client, admin_user, django_capture_on_commit_callbacks
):
    b0, b1, *_ = pending["purchases"]
    with django_capture_on_commit_callbacks(execute=False) as start:
        admin_client.post(CHANGELIST, select_all("approve_selected", apply="yes"))
    job = Job.objects.get()
    assert job.status == Job.Status.QUEUED
    # Other reviewers get there first, before the job runs.
    other = StaffFactory(is_superuser=True)
    purchase_reject(purchase=b0, reviewer=other, reason="Fora do prazo.")
    purchase_approve(purchase=pending["purchases"][4], reviewer=other)

    with django_capture_on_commit_callbacks(execute=True):
        for callback in start:
            callback()
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failures) == (Job.Status.SUCCEEDED, 6, 6, 2)
    assert job.result["summary"] == "4 compras aprovadas. 2 ignoradas: já não estavam em validação."
    b0.refresh_from_db()
    assert (b0.status, b0.rejection_reason, b0.reviewed_by) == ("rejected", "Fora do prazo.", other)
    assert history(b0) == [(other.pk, CHANGE, "Reprovada: Fora do prazo.")]
    assert history(b1) == [(admin_user.pk, CHANGE, "Aprovada")]
    # The job's e-mails name only what the job reviewed.
    assert [codes_in(message) for message in mail.outbox] == [["B-1", "B-2", "B-3"], ["B-5"]]


@pytest.mark.usefixtures("small_limit")
def test_a_job_run_again_reviews_and_sends_nothing_twice(
    pending, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, select_all("approve_selected", apply="yes"))
    job = Job.objects.get()
    entries, outbox = LogEntry.objects.count(), OutboxEmail.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.purchases_review_job(str(job.pk))  # the message delivered again
        # A chunk done again (as by a worker that ran it before its commit
        # was recorded): every purchase is already reviewed, so none changes.
        chunk = JobChunk.objects.filter(job=job).order_by("index").first()
        assert tasks._review_chunk(job, chunk.ids) == {"done": 2, "failures": 2, "reviewed": []}
    assert (LogEntry.objects.count(), OutboxEmail.objects.count()) == (entries, outbox)
    assert len(mail.outbox) == 2


@pytest.mark.usefixtures("small_limit")
def test_rejecting_above_the_limit_asks_for_the_reason_then_runs_a_job(
    pending, admin_client, django_capture_on_commit_callbacks
):
    page = admin_client.post(CHANGELIST, select_all("reject_selected", index=0))
    assert "<strong>6</strong> compras selecionadas em validação serão reprovadas em segundo plano." in (
        page.content.decode()
    )
    missing = admin_client.post(CHANGELIST, select_all("reject_selected", apply="yes", reason=" "))
    assert missing.status_code == 200
    assert "reason" in missing.context["form"].errors
    assert not Job.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, select_all("reject_selected", apply="yes", reason="Notas repetidas."))
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED
    assert job.description == "Reprovação de 6 compras: Notas repetidas."
    assert job.result["summary"] == "6 compras reprovadas."
    assert set(Purchase.objects.values_list("status", "rejection_reason")) == {
        ("rejected", "Notas repetidas.")
    }
    # Nothing left in the month counts.
    assert not MonthlyCashback.objects.filter(reseller__in=[pending["ana"], pending["bia"]]).exists()
    assert set(Purchase.objects.values_list("cashback_value", flat=True)) == {D("0.00")}
    (bia,) = sent_to("bia@example.com")
    assert "Motivo: Notas repetidas." in bia.body


@pytest.mark.usefixtures("small_limit")
def test_a_reviewer_who_loses_the_permission_stops_the_job(pending, django_capture_on_commit_callbacks):
    reviewer = StaffFactory(permissions=REVIEWER_PERMISSIONS)
    client = Client()
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=False) as start:
        client.post(CHANGELIST, select_all("approve_selected", apply="yes"))
    reviewer.user_permissions.remove(Permission.objects.get(codename="review_purchase"))

    with django_capture_on_commit_callbacks(execute=True):
        for callback in start:
            callback()
    job = Job.objects.get()
    assert (job.status, job.error, job.done) == (Job.Status.FAILED, "PermissionDenied", 0)
    assert set(statuses().values()) == {"validating"}
    assert mail.outbox == []


def test_only_reviewers_start_a_bulk_review(pending, client, small_limit):
    client.force_login(StaffFactory(permissions=["purchases.view_purchase"]))
    client.post(CHANGELIST, select_all("approve_selected", apply="yes"))
    assert not Job.objects.exists()
    assert set(statuses().values()) == {"validating"}


@pytest.mark.usefixtures("small_limit")
def test_the_job_is_sent_once_per_worker_that_may_share_it(
    pending, admin_client, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from core import jobs

    settings.BULK_REVIEW_WORKERS = 3
    sent = []
    monkeypatch.setattr(jobs, "job_send", sent.append)
    monkeypatch.setattr(purchases_admin, "job_send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, select_all("approve_selected", apply="yes"))
    assert sent == [Job.objects.get().pk] * 3


@pytest.mark.usefixtures("small_limit")
@pytest.mark.parametrize("action", ["approve_selected", "reject_selected"])
def test_a_job_keeps_the_analytics_figures_exact(
    make_purchase, admin_client, action, django_capture_on_commit_callbacks
):
    from products.models import Category, Product
    from purchases.analytics.services import analytics_figures_differences
    from purchases.services import ItemInput

    category = Category.objects.create(name="Perfumes", slug="perfumes")
    product = Product.objects.create(sku="P-1", name="Rosa", category=category, price=D("150.00"))
    resellers = [ResellerFactory() for _ in range(3)]
    for n in range(9):
        kwargs = {"items": [ItemInput(product=product, quantity=1 + n % 3)]} if n % 2 else {"value": "700.00"}
        make_purchase(resellers[n % 3], date=date(2026, 2 + n % 2, 1 + n), **kwargs)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, select_all(action, apply="yes", reason="Lote."))
    assert Job.objects.get().status == Job.Status.SUCCEEDED
    assert not analytics_figures_differences()


@pytest.mark.usefixtures("small_limit")
def test_a_rejection_job_holds_each_resellers_purchases_together(
    make_purchase, admin_client, django_capture_on_commit_callbacks
):
    # Recorded interleaved: by id the chunks would mix the two resellers.
    ana, bia = ResellerFactory(), ResellerFactory()
    for n in range(6):
        make_purchase(ana if n % 2 else bia, "10.00", date(2026, 3, 1 + n), f"I-{n}")
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(CHANGELIST, select_all("reject_selected", apply="yes", reason="Lote."))
    owners = dict(Purchase.objects.values_list("pk", "reseller_id"))
    chunks = JobChunk.objects.filter(job=Job.objects.get()).order_by("index").values_list("ids", flat=True)
    assert [[owners[pk] for pk in ids] for ids in chunks] == [
        [ana.pk, ana.pk],
        [ana.pk, bia.pk],
        [bia.pk, bia.pk],
    ]
