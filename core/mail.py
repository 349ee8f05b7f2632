"""E-mail through the outbox: written with the change that causes it, sent
by a task once that change commits, once.

``email_queue`` stores the rendered message under a key naming what it is
about (``"purchase-review:42"``); a second message under the same key is
the same message and is dropped. The task ``core.tasks.email_send`` sends
it and marks it sent in one transaction holding the row's lock, so two
workers never send it both; a mail server that fails is tried again with
back-off. Failures are logged with the account's id: an e-mail address is
personal data and stays out of the logs.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from core.models import OutboxEmail

logger = logging.getLogger(__name__)

DUMMY_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


def email_message(template: str, context: dict, *, to: str) -> EmailMultiAlternatives:
    """``template``_subject.txt, .txt and .html rendered, in the active
    language, into one message to ``to``."""
    subject = "".join(render_to_string(f"{template}_subject.txt", context).splitlines()).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def email_queue(message: EmailMultiAlternatives, *, key: str, user_id: int | None) -> None:
    """Keep ``message`` to be sent after the current transaction commits
    (at once outside one). A key already used is a message already kept."""
    html = next((content for content, mimetype in message.alternatives if mimetype == "text/html"), "")
    (recipient,) = message.to
    try:
        # A savepoint: a key already kept fails this insert alone, not the
        # transaction it is part of.
        with transaction.atomic():
            OutboxEmail.objects.create(
                key=key, user_id=user_id, to=recipient, subject=message.subject, body=message.body, html=html
            )
    except IntegrityError:
        return  # the same message, already kept: sent once
    from core.tasks import email_send

    transaction.on_commit(lambda: _send_later(email_send, key))


def _send_later(task, key: str) -> None:
    try:
        task.delay(key)
    except Exception as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        # Kept in the outbox: beat sends it later (core.tasks.email_resend).
        logger.error("E-mail %s: its task could not be sent (%s).", key, type(exc).__name__)


def email_send_now(key: str) -> bool:
    """Send the outbox message ``key`` unless it was sent; True when this
    call sent it. Raises when the mail server fails (the task retries)."""
    with transaction.atomic():
        row = OutboxEmail.objects.select_for_update().filter(key=key, sent_at=None).first()
        if row is None:
            return False
        if settings.EMAIL_BACKEND == DUMMY_BACKEND:
            logger.warning("E-mail is off (set EMAIL_URL): a message to user %s was discarded.", row.user_id)
        message = EmailMultiAlternatives(
            subject=row.subject, body=row.body, from_email=settings.DEFAULT_FROM_EMAIL, to=[row.to]
        )
        if row.html:
            message.attach_alternative(row.html, "text/html")
        try:
            message.send()
        except Exception as exc:
            failure = exc
        else:
            row.sent_at = timezone.now()
            row.attempts += 1
            # What was sent is not kept: reset links stay only in the mailbox.
            row.body = row.html = ""
            row.save(update_fields=["sent_at", "attempts", "body", "html"])
            return True
    # The type only: SMTP errors quote the recipients' addresses.
    logger.error("Could not send an e-mail to user %s (%s).", row.user_id, type(failure).__name__)
    OutboxEmail.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    raise failure
