"""Writes to accounts."""

import datetime
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import emails
from accounts.models import User, normalize_email
from core.parsing import parse_id

logger = logging.getLogger(__name__)

INVALID_RESET_LINK_MESSAGE = _("This password reset link is invalid or has expired. Ask for a new one.")
# SimpleJWT's own message (and translations) for a blacklisted token: a token
# spent by a concurrent request gets the answer a later reuse gets.
TOKEN_USED_MESSAGE = _("Token is blacklisted")


@transaction.atomic
def refresh_token_redeem(*, token: RefreshToken, user: User) -> None:
    """Spend a refresh token (by a rotation or a logout): blacklist it, or
    raise TokenError if it already is. The blacklist's one-to-one key on the
    token decides, so of concurrent requests with one token exactly one
    succeeds; the others wait for its commit and find the row."""
    outstanding, _created = OutstandingToken.objects.get_or_create(
        jti=token[jwt_settings.JTI_CLAIM],
        # Normally written when the token was issued; a token from before the
        # blacklist app, or flushed, is recorded now.
        defaults={
            "user": user,
            "token": str(token),
            "created_at": token.current_time,
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError as exc:
        raise TokenError(TOKEN_USED_MESSAGE) from exc


def user_sessions_end(*, user: User) -> None:
    """Blacklist every refresh token issued to the user. What ends the
    sessions of a password change is the credentials claim
    (accounts.tokens), which no token can escape; this empties the list of
    outstanding tokens at once as well."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


def user_bulk_deactivate(*, user_ids, keep_id=None) -> int:
    """Deactivate the users ``user_ids`` but ``keep_id`` (the account doing
    it); returns how many were active. Their access ends at once: the API
    refuses an inactive account's access and refresh tokens, and the update
    drops their cached authentication (``User.objects``)."""
    users = User.objects.filter(pk__in=list(user_ids), is_active=True).exclude(pk=keep_id)
    return users.update(is_active=False)


@transaction.atomic
def user_password_set(*, user: User, new_password: str) -> None:
    """Set the new password (already validated) and end every session."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_sessions_end(user=user)


def password_reset_user(email: str) -> User | None:
    """The account a reset request for ``email`` reaches: an active one with
    a usable password (as Django's own reset form), or None."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    return user if user is not None and user.has_usable_password() else None


@contextmanager
def password_reset_floor() -> Iterator[None]:
    """Make the block take PASSWORD_RESET_MIN_SECONDS at least.

    A reset request for an account does a little more than one for an unknown
    address (the message is written to the outbox and its task sent to the
    broker): without a floor, the median answer time tells whether an account
    uses the address. The wait is a sleep, which costs no CPU."""
    deadline = time.monotonic() + settings.PASSWORD_RESET_MIN_SECONDS
    yield
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    elif settings.PASSWORD_RESET_MIN_SECONDS:
        logger.warning(
            "A password reset request took %.0f ms more than PASSWORD_RESET_MIN_SECONDS.", -remaining * 1000
        )


def user_password_reset_request(*, email: str) -> None:
    """E-mail a one-time link to choose a new password, valid for
    PASSWORD_RESET_TIMEOUT, to the account that uses ``email``; nothing when
    none does (or it is inactive). Both take the same time: the message is
    rendered either way, queued for a worker (accounts.emails), and the
    answer waits for the same floor (``password_reset_floor``)."""
    with password_reset_floor():
        user = password_reset_user(email)
        message = emails.password_reset_message(user or User(email=normalize_email(email), full_name=""))
        if user is not None:
            emails.password_reset_queue(message, user=user)


@transaction.atomic
def user_password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set the password of the account the link names and end every session.

    An unknown or inactive account, a wrong, used or expired token: one
    ValidationError on ``token``. A password that breaks the password rules:
    a ValidationError on ``new_password``, and the link stays usable. The
    account's row is locked first, so of two requests with one link only one
    sets the password (the other sees the new password, which voids the token).
    """
    user = _reset_link_user(uid)
    if user is None or not default_token_generator.check_token(user, token):
        raise ValidationError({"token": [ValidationError(INVALID_RESET_LINK_MESSAGE, code="invalid_link")]})
    try:
        password_validation.validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.error_list}) from exc
    user_password_set(user=user, new_password=new_password)
    return user


def password_reset_link_valid(*, uid: str, token: str) -> bool:
    """Whether a reset link would still set a password now (the reset page's
    first look, before the user types one; nothing is locked or changed)."""
    user = _reset_link_user(uid, lock=False)
    return user is not None and default_token_generator.check_token(user, token)


def _reset_link_user(uid: str, *, lock: bool = True) -> User | None:
    try:
        text = force_str(urlsafe_base64_decode(uid))
    except (TypeError, ValueError):  # not base64, or not UTF-8
        return None
    # Exactly the digits of an id: no sign, spaces or other scripts' digits.
    pk = parse_id(text) if text.isascii() and text.isdigit() else None
    if pk is None:
        return None
    users = User.objects.select_for_update() if lock else User.objects.all()
    return users.filter(pk=pk, is_active=True).first()


def user_email_change_notify(*, user: User, old_email: str, changed_at: datetime.datetime) -> None:
    """Once the change commits, tell ``old_email`` that the account's address
    is now ``user.email`` (masked), when, and how to take the account back
    (a reset link): an address changed by someone else must not go unnoticed.
    In the active language (the request's); queued like every message
    (accounts.emails). Call inside the transaction that changes the address:
    a change rolled back sends nothing."""
    message = emails.email_changed_message(user, old_email=old_email, changed_at=changed_at)
    emails.email_changed_queue(message, user=user, changed_at=changed_at)
