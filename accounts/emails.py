"""E-mail to account holders, through the outbox (core.mail).

Messages are rendered in the request, in its language, and queued with the
change that causes them; a task sends them once that change commits. The
answer never waits for the mail server, and a mail server that is down or
slow shows only in the logs (with the account's id: an e-mail address is
personal data and stays out of the logs).
"""

import datetime
import uuid
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from core.mail import email_message, email_queue

# Times in messages: Brasília time, whatever the server's zone.
BRASILIA = ZoneInfo("America/Sao_Paulo")


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
    return email_message("accounts/email/password_reset", context, to=user.email)


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
    return email_message("accounts/email/email_changed", context, to=old_email)


def _link_minutes() -> int:
    return max(settings.PASSWORD_RESET_TIMEOUT // 60, 1)


def password_reset_queue(message: EmailMultiAlternatives, *, user: User) -> None:
    """Queue a reset message: each request sends its own (a second request
    is a second message, with a new link), so the key is new every time and
    names no token (keys stay in the outbox after the message is sent)."""
    email_queue(message, key=f"password-reset:{user.pk}:{uuid.uuid4().hex}", user_id=user.pk)


def email_changed_queue(
    message: EmailMultiAlternatives, *, user: User, changed_at: datetime.datetime
) -> None:
    """Queue the notice of one change of address: the same change asked to
    notify twice is one message."""
    email_queue(message, key=f"email-changed:{user.pk}:{changed_at.isoformat()}", user_id=user.pk)
