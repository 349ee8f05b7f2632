"""Writes to accounts."""

from django.db import transaction
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User


@transaction.atomic
def user_password_change(*, user: User, new_password: str) -> None:
    """Set the new password and end every session: each refresh token issued
    to the user is blacklisted, so no client can renew its access (access
    tokens already issued still work until they expire, 15 minutes at most)."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
