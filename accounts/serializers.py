from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.serializers import ResellerOutputSerializer

INVALID_CREDENTIALS_MESSAGE = _("Invalid credentials.")
LOGIN_IDENTIFIER_MESSAGE = _("Send either an e-mail or a CPF, with the password.")
FOREIGN_TOKEN_MESSAGE = _("Token is invalid or expired")


def tokens_for(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    # Lets read-only catalogue requests be authorised from the token alone.
    refresh["is_staff"] = user.is_staff
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class LoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, help_text=_("E-mail (or send the CPF instead)."))
    cpf = serializers.CharField(
        required=False, max_length=32, help_text=_("CPF (or send the e-mail instead).")
    )
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    def validate(self, attrs):
        if bool(attrs.get("email")) == bool(attrs.get("cpf")):
            raise serializers.ValidationError(LOGIN_IDENTIFIER_MESSAGE, code="identifier")
        email = attrs.get("email") or self._email_for_cpf(attrs["cpf"])
        # authenticate() is called even for an unknown CPF, so every failure
        # costs one password hash: timing does not tell which part was wrong.
        user = authenticate(
            request=self.context.get("request"), email=email or "", password=attrs["password"]
        )
        if user is None:
            raise AuthenticationFailed(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
        attrs["user"] = user
        return attrs

    @staticmethod
    def _email_for_cpf(value: str) -> str | None:
        try:
            reseller = Reseller.objects.with_cpf(value).select_related("user").first()
        except cpf_codec.InvalidCPF:
            return None
        return reseller.user.email if reseller else None


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LogoutInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()

    def validate_refresh(self, value):
        try:
            token = RefreshToken(value)
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        if str(token.get("user_id")) != str(self.context["request"].user.pk):
            # Someone else's token: indistinguishable from an invalid one.
            raise InvalidToken(FOREIGN_TOKEN_MESSAGE)
        return token


class MeOutputSerializer(serializers.ModelSerializer):
    reseller = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "is_staff", "reseller"]

    @extend_schema_field(ResellerOutputSerializer(allow_null=True))
    def get_reseller(self, user):
        reseller = getattr(user, "reseller", None)
        return ResellerOutputSerializer(reseller).data if reseller else None
