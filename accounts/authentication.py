"""The API's JWT authentication: SimpleJWT's, reading the user together with
their reseller profile, and keeping that pair briefly in the cache.

Every API request authenticates, and the lookup (a query joining the profile,
plus building it) costs more than the rest of a cached answer. The pair is
cached under the user's id for ``AUTH_USER_CACHE_SECONDS`` and dropped after
every committed save, delete or queryset update of the user or the profile
(``forget_user``: connected here for users, called by ``User.objects``'s
``update()``, and connected by the reseller app for profiles), so a
deactivated or demoted account is refused at once; a drop the cache cannot
take is retried until it lands. Only a save racing a lookup can leave the old
pair, for at most those seconds. The password hash is never cached:
the instance has it deferred and reads it from the database if asked.

Beside the pair the cache keeps the keyed digest of the hash the token's
``cred`` claim is compared with (accounts.tokens), so an access token issued
before a password change is refused from the next request, cached or not,
at no extra query.
"""

import logging

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings

from accounts.models import User
from accounts.tokens import credentials_digest, credentials_match
from core.cache import retry_in_background, retry_pending

logger = logging.getLogger(__name__)

# The profile is named by its relation only: accounts does not import the
# reseller app.
_PROFILE = User._meta.get_field("reseller")
_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname != "password")
_PROFILE_FIELDS = tuple(f.attname for f in _PROFILE.related_model._meta.concrete_fields)


def _cache_key(user_id) -> str:
    # "2": the entry holds the credentials digest too.
    return f"auth-user:2:{user_id}"


def _drop_name(key: str) -> str:
    return f"authentication cache drop of {key}"


def forget_user(user_id) -> None:
    """Drop the cached pair of ``user_id`` once the current transaction
    commits (at once outside one)."""
    forget_users([user_id])


def forget_users(user_ids) -> None:
    """Drop the cached pairs of ``user_ids`` once the current transaction
    commits (at once outside one). If the cache does not answer, each drop
    is retried in the background until it lands or the pair has expired, and
    meanwhile this process does not read the pair."""
    keys = [_cache_key(user_id) for user_id in user_ids]
    if keys:
        transaction.on_commit(lambda: _drop(keys))


def _drop(keys: list[str]) -> None:
    # The strict alias raises when the store does not answer, where the
    # default one would silently drop nothing.
    strict = caches["strict"]
    try:
        strict.delete_many(keys)
    except Exception as exc:
        logger.warning(
            "Authentication cache drop of %s user(s) failed (%s); retrying.", len(keys), type(exc).__name__
        )
        for key in keys:
            retry_in_background(
                _drop_name(key),
                lambda key=key: caches["strict"].delete(key),
                give_up_after=settings.AUTH_USER_CACHE_SECONDS,
            )


def _freeze(user: User):
    # Loaded by the join: the profile, or None for a user without one.
    profile = _PROFILE.get_cached_value(user, default=None)
    return (
        tuple(getattr(user, name) for name in _USER_FIELDS),
        None if profile is None else tuple(getattr(profile, name) for name in _PROFILE_FIELDS),
        credentials_digest(user.password),
    )


def _thaw(frozen) -> User:
    user_values, profile_values, _digest = frozen
    user = User.from_db("default", _USER_FIELDS, user_values)
    profile = None
    if profile_values is not None:
        model = _PROFILE.related_model
        profile = model.from_db("default", _PROFILE_FIELDS, profile_values)
        _PROFILE.field.set_cached_value(profile, user)
    _PROFILE.set_cached_value(user, profile)
    return user


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # SimpleJWT's lookup and checks, with the profile joined.
        self.user_model = _UsersWithProfile()

    def get_validated_token(self, raw_token):
        """SimpleJWT's, with the reason a token was refused ("Token is
        expired") as the answer's ``detail``, rather than its generic text and
        a list of reasons per token class (one class here: access tokens)."""
        reasons = []
        for token_class in api_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except TokenError as exc:
                reasons.append(exc.args[0])
        raise InvalidToken(reasons[0] if len(reasons) == 1 else _("Given token not valid for any token type"))

    def get_user(self, validated_token) -> User:
        seconds = settings.AUTH_USER_CACHE_SECONDS
        if not seconds or api_settings.CHECK_REVOKE_TOKEN:
            # The revocation check compares the password hash, never cached.
            return _with_current_credentials(validated_token, super().get_user(validated_token))
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        key = _cache_key(user_id)
        # A drop still pending here means the cached pair may be outdated.
        frozen = None if retry_pending(_drop_name(key)) else cache.get(key)
        if frozen is not None:
            user = _thaw(frozen)
            if not user.is_active:
                raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
            return _with_current_credentials(validated_token, user, digest=frozen[2])
        user = super().get_user(validated_token)
        frozen = _freeze(user)
        cache.set(key, frozen, timeout=seconds)
        return _with_current_credentials(validated_token, user, digest=frozen[2])


def _with_current_credentials(token, user: User, digest: str | None = None) -> User:
    """``user``, if ``token`` was issued under their current password (else
    the 401 of an invalid token). ``digest``: the password hash's, when known."""
    if not credentials_match(token, digest or credentials_digest(user.password)):
        raise InvalidToken()
    return user


class _UsersWithProfile:
    # What SimpleJWT's get_user uses of the user model: `objects` and
    # `DoesNotExist`.
    DoesNotExist = User.DoesNotExist

    @property
    def objects(self):
        return User.objects.select_related(_PROFILE.name)


class JWTScheme(SimpleJWTScheme):
    """Documents it in the schema as SimpleJWT's own (the same Bearer token)."""

    target_class = "accounts.authentication.JWTAuthentication"
