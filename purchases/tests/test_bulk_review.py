"""Reviews of many purchases at once, and the resellers' e-mails about
reviews: a bulk review has the rules and locks of a single one (a purchase
reviewed meanwhile is skipped and counted, never overwritten), and a
reseller hears of a review once, after it commits."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.tests.factories import StaffFactory
from conftest import EN, authenticated_client
from core.models import OutboxEmail
from purchases import services
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
