"""Celery tasks of the shared machinery: e-mail, and beat's housekeeping."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from core import jobs, mail
from core.models import OutboxEmail

logger = logging.getLogger(__name__)

# A mail server that fails is tried again after 30 s, 1 min, 2 min... up to
# about an hour and a half in all, then the message waits for email_resend.
EMAIL_RETRIES = 8


@shared_task(bind=True, max_retries=EMAIL_RETRIES)
def email_send(self, key: str) -> None:
    try:
        mail.email_send_now(key)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from None


@shared_task
def email_resend() -> int:
    """Send again what the outbox still holds after a while: its task was
    lost, never sent, or gave up."""
    cutoff = timezone.now() - timedelta(minutes=10)
    keys = list(
        OutboxEmail.objects.filter(sent_at=None, created_at__lt=cutoff).values_list("key", flat=True)[:1000]
    )
    for key in keys:
        email_send.delay(key)
    return len(keys)


@shared_task
def jobs_resend_queued() -> int:
    return jobs.job_resend_queued()


@shared_task
def jobs_remove_expired_files() -> int:
    return jobs.job_remove_expired_files()
