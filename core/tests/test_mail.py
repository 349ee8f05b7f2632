"""The e-mail outbox: nothing for a rolled-back change, once per key, tried
again when the mail server fails, and nothing of the body kept once sent."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from core import tasks
from core.mail import email_queue, email_send_now
from core.models import OutboxEmail

pytestmark = pytest.mark.django_db


def message(to="maria@example.com"):
    msg = EmailMultiAlternatives(subject="Compra aprovada", body="Sua compra foi aprovada.", to=[to])
    msg.attach_alternative("<p>Sua compra foi aprovada.</p>", "text/html")
    return msg


def test_sent_once_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        email_queue(message(), key="purchase-review:1", user_id=7)
        email_queue(message(), key="purchase-review:1", user_id=7)  # asked twice: one message
        assert mail.outbox == []
    assert len(callbacks) == 1  # one task for the one message
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert (sent.subject, sent.to, sent.alternatives[0][1]) == (
        "Compra aprovada",
        ["maria@example.com"],
        "text/html",
    )
    row = OutboxEmail.objects.get()
    assert row.sent_at is not None
    assert (row.body, row.html) == ("", "")
    # A task delivered again sends nothing more.
    tasks.email_send("purchase-review:1")
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_sends_nothing(django_capture_on_commit_callbacks):
    def change():
        with transaction.atomic():
            email_queue(message(), key="purchase-review:2", user_id=7)
            raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        change()
    assert callbacks == []
    assert mail.outbox == []
    assert not OutboxEmail.objects.exists()


def test_a_failing_mail_server_keeps_the_message_and_counts_the_attempt(caplog):
    email_queue(message(), key="k", user_id=7)
    with (
        mock.patch.object(
            EmailMultiAlternatives, "send", side_effect=ConnectionRefusedError("maria@example.com")
        ),
        pytest.raises(ConnectionRefusedError),
    ):
        email_send_now("k")
    row = OutboxEmail.objects.get(key="k")
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.body == "Sua compra foi aprovada."
    assert "maria@example.com" not in caplog.text
    assert email_send_now("k") is True


def test_the_task_retries_a_failing_send():
    OutboxEmail.objects.create(key="r", to="a@example.com", subject="s", body="b")
    with (
        mock.patch.object(tasks.mail, "email_send_now", side_effect=ConnectionRefusedError),
        mock.patch.object(tasks.email_send, "retry", side_effect=RuntimeError("retry")) as retry,
        pytest.raises(RuntimeError, match="retry"),
    ):
        tasks.email_send("r")
    assert retry.call_args.kwargs["countdown"] == 30


def test_beat_sends_what_the_outbox_still_holds():
    OutboxEmail.objects.create(key="old", to="a@example.com", subject="s", body="b")
    OutboxEmail.objects.create(key="new", to="b@example.com", subject="s", body="b")
    OutboxEmail.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=1))
    assert tasks.email_resend() == 1
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
