import re

import jwt
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.services import INVALID_RESET_LINK_MESSAGE, refresh_token_redeem
from accounts.throttles import LoginFailureThrottle
from accounts.tokens import credentials_claim_add, credentials_digest, credentials_match
from core.serializers import StrictFieldsMixin, StrictInputSerializer

WRONG_PASSWORD_MESSAGE = _("The current password is not correct.")
INVALID_CREDENTIALS_MESSAGE = _("Invalid credentials.")
LOGIN_IDENTIFIER_MESSAGE = _("Send either an e-mail or a CPF, with the password.")
FOREIGN_TOKEN_MESSAGE = _("Token is invalid or expired")
MALFORMED_REFRESH_TOKEN_MESSAGE = _(
    "This is not a token (malformed): send the `refresh` value the login or the last refresh answered, "
    "unchanged."
)
PASSWORD_RESET_REQUESTED_MESSAGE = _(
    "If an active account uses this e-mail address, a message with a link to choose a new "
    "password is on its way. The link works once, for a limited time."
)


def tokens_for(user: User) -> dict[str, str]:
    """A new pair for ``user`` (the access token copies the refresh token's
    claims). ``user.password`` is the hash the session is bound to."""
    refresh = RefreshToken.for_user(user)
    # Lets read-only catalogue requests be authorised from the token alone.
    refresh["is_staff"] = user.is_staff
    credentials_claim_add(refresh, user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class LoginInputSerializer(StrictInputSerializer):
    email = serializers.EmailField(required=False, help_text=_("E-mail (or send the CPF instead)."))
    cpf = serializers.CharField(
        required=False, max_length=32, help_text=_("CPF (or send the e-mail instead).")
    )
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    def validate(self, attrs):
        if bool(attrs.get("email")) == bool(attrs.get("cpf")):
            raise serializers.ValidationError(LOGIN_IDENTIFIER_MESSAGE, code="identifier")
        # A CPF is answered by the reseller app's authentication backend.
        # Every backend hashes the password even for an unknown identifier,
        # so timing does not tell which part was wrong.
        identifier = {"email": attrs["email"]} if attrs.get("email") else {"cpf": attrs["cpf"]}
        user = authenticate(request=self.context.get("request"), password=attrs["password"], **identifier)
        if user is None:
            if request := self.context.get("request"):
                LoginFailureThrottle.record_failure(request)
            raise AuthenticationFailed(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
        attrs["user"] = user
        return attrs


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshInputSerializer(StrictFieldsMixin, TokenRefreshSerializer):
    """Rotation that reads the account again: a deleted or deactivated user
    gets 401 (SimpleJWT's own raises DoesNotExist for a deleted one), so does
    a token issued before the password last changed (accounts.tokens), and
    the new pair carries the account's current claims (``is_staff``), not the
    ones copied from the old token. The token is spent atomically: of
    concurrent refreshes with it, one gets a new pair."""

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # TokenError: the view's 401
        user_id = refresh.payload.get(jwt_settings.USER_ID_CLAIM)
        user = None
        if user_id is not None:
            try:
                user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
            except (TypeError, ValueError):
                user = None
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if not credentials_match(refresh, credentials_digest(user.password)):
            raise InvalidToken()
        with transaction.atomic():
            refresh_token_redeem(token=refresh, user=user)  # TokenError: the view's 401
            return tokens_for(user)


def jwt_well_formed(value: str) -> bool:
    """Whether ``value`` is a JWT at all (three parts, a JSON header and
    payload), whatever its signature, expiry or type."""
    try:
        jwt.decode(value, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return False
    return True


class LogoutInputSerializer(StrictInputSerializer):
    refresh = serializers.CharField()

    def validate_refresh(self, value):
        # Not a token at all, or not a refresh token: the client's mistake
        # (400), not a session that ended (401).
        if not jwt_well_formed(value):
            raise serializers.ValidationError(MALFORMED_REFRESH_TOKEN_MESSAGE, code="malformed_token")
        try:
            token = RefreshToken(value)
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        if str(token.get("user_id")) != str(self.context["request"].user.pk):
            # Someone else's token: indistinguishable from an invalid one.
            raise InvalidToken(FOREIGN_TOKEN_MESSAGE)
        return token


def validate_password_field(attrs: dict, field: str, *, user) -> None:
    """Django's password validators on ``attrs[field]`` (``user``: whom the
    similarity validator compares it with), as a 400 naming the field."""
    try:
        password_validation.validate_password(attrs[field], user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({field: list(exc.messages)}) from exc


class PasswordChangeInputSerializer(StrictInputSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    def validate_current_password(self, value):
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError(WRONG_PASSWORD_MESSAGE, code="wrong_password")
        return value

    def validate(self, attrs):
        validate_password_field(attrs, "new_password", user=self.context["request"].user)
        return attrs


class PasswordResetInputSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254, help_text=_("The account's e-mail address."))


class PasswordResetRequestedOutputSerializer(serializers.Serializer):
    detail = serializers.CharField(
        help_text=_("The same message whether or not an account uses the address.")
    )


# Both halves of a reset link: the id in URL-safe base64 and Django's token
# (base-36 timestamp, "-", hexadecimal hash).
_RESET_LINK_PART = re.compile(r"[A-Za-z0-9_-]+")
_RESET_LINK_PART_MAX_LENGTH = 64


class ResetLinkPartField(serializers.CharField):
    """A part of a reset link: ASCII letters, digits, "-" and "_", bounded.
    Anything else (another type, other characters, NUL, overlong) is the one
    invalid-link message, before any query."""

    default_error_messages = {"invalid": INVALID_RESET_LINK_MESSAGE, "max_length": INVALID_RESET_LINK_MESSAGE}

    def __init__(self, **kwargs):
        super().__init__(
            max_length=_RESET_LINK_PART_MAX_LENGTH,
            trim_whitespace=False,
            # Never fails after to_internal_value; it documents the pattern.
            validators=[RegexValidator(f"^{_RESET_LINK_PART.pattern}$")],
            **kwargs,
        )

    def to_internal_value(self, data):
        if not (
            isinstance(data, str)
            and len(data) <= _RESET_LINK_PART_MAX_LENGTH
            and _RESET_LINK_PART.fullmatch(data)
        ):
            raise serializers.ValidationError(INVALID_RESET_LINK_MESSAGE, code="invalid_link")
        return data


class PasswordResetConfirmInputSerializer(StrictInputSerializer):
    uid = ResetLinkPartField(help_text=_("The `uid` of the link in the e-mail."))
    token = ResetLinkPartField(help_text=_("The `token` of the link in the e-mail."))
    new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
