"""E-mail to account holders, through Django's e-mail framework (EMAIL_URL).

Messages are rendered in the request, in its language, and handed to one
background thread that sends them: the answer never waits for the mail
server, and a mail server that is down or slow shows only in the logs.
Failures are logged with the account's id: an e-mail address is personal
data and stays out of the logs.
"""

import contextvars
import datetime
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User

logger = logging.getLogger(__name__)

DUMMY_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
# Times in messages: Brasília time, whatever the server's zone.
BRASILIA = ZoneInfo("America/Sao_Paulo")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def public_url(path: str) -> str:
    """``path`` on PUBLIC_BASE_URL (an absolute URL stays as it is): links in
    e-mails never follow the Host header of the request that caused them."""
    return urljoin(settings.PUBLIC_BASE_URL + "/", path)


def password_reset_link(user: User) -> str:
    """PASSWORD_RESET_URL with the user's ``{uid}`` and ``{token}``; a
    template starting with "/" is taken relative to PUBLIC_BASE_URL."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    # replace, not str.format: a template is a URL, and braces elsewhere in it
    # must not break sending.
    return public_url(settings.PASSWORD_RESET_URL.replace("{uid}", uid).replace("{token}", token))


def password_reset_message(user: User) -> EmailMultiAlternatives:
    """The reset e-mail, plain text and HTML, in the active language."""
    context = {"user": user, "link": password_reset_link(user), "minutes": _link_minutes()}
    return _message("accounts/email/password_reset", context, to=user.email)


def masked_email(address: str) -> str:
    """``maria@example.com`` as ``m***@example.com``: enough for the owner to
    recognise, not enough for anyone else to write to."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def email_changed_message(
    user: User, *, old_email: str, changed_at: datetime.datetime
) -> EmailMultiAlternatives:
    """The notice to the previous address of an account whose address changed
    (``user`` holds the new one): when, in Brasília time, to which address
    (masked), and a reset link that lets the owner take the account back,
    in the active language."""
    when = timezone.localtime(changed_at, BRASILIA)
    context = {
        "user": user,
        "date": when.strftime("%d/%m/%Y"),
        "time": when.strftime("%H:%M"),
        "address": masked_email(user.email),
        "link": password_reset_link(user),
        "minutes": _link_minutes(),
    }
    return _message("accounts/email/email_changed", context, to=old_email)


def _link_minutes() -> int:
    return max(settings.PASSWORD_RESET_TIMEOUT // 60, 1)


def _message(template: str, context: dict, *, to: str) -> EmailMultiAlternatives:
    """``template``_subject.txt, .txt and .html rendered into one message."""
    subject = "".join(render_to_string(f"{template}_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def deliver(message: EmailMultiAlternatives, *, user_id: int) -> Future | None:
    """Send ``message`` (in the background unless EMAIL_IN_BACKGROUND is off);
    never raises. Returns the background send, for whoever must wait for it."""
    if settings.EMAIL_BACKEND == DUMMY_BACKEND:
        logger.warning("E-mail is off (set EMAIL_URL): a message to user %s was discarded.", user_id)
    if not settings.EMAIL_IN_BACKGROUND:
        _send(message, user_id)
        return None
    # The log lines of the send carry the request id of the request.
    context = contextvars.copy_context()
    return _background().submit(context.run, _send, message, user_id)


def _send(message: EmailMultiAlternatives, user_id: int) -> None:
    try:
        message.send()
    except Exception as exc:
        # The type only: SMTP errors quote the recipients' addresses.
        logger.error("Could not send an e-mail to user %s (%s).", user_id, type(exc).__name__)


def _background() -> ThreadPoolExecutor:
    # Created on first use, in the serving process (not before a fork). One
    # thread: messages are few (their routes are throttled), and it bounds the
    # connections to the mail server. Pending messages are sent before the
    # process exits (concurrent.futures joins its threads at exit).
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail")
        return _executor
