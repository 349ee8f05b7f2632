import re
from functools import cached_property

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User, normalize_email
from accounts.serializers import WRONG_PASSWORD_MESSAGE, validate_password_field
from core.serializers import StrictInputSerializer
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.permissions import cpf_visible_to

EMAIL_CHANGE_NEEDS_PASSWORD_MESSAGE = _("Send the current password to change the e-mail address.")


class CPFField(serializers.CharField):
    """Accepts 153.509.460-56 or 15350946056, exactly (no blanks around);
    yields the 11 digits."""

    default_error_messages = {"invalid_cpf": cpf_codec.INVALID_CPF_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 14)
        kwargs.setdefault("help_text", _("CPF, as 153.509.460-56 or 15350946056."))
        # The schema's pattern. It never fails here: to_internal_value checks
        # the text as sent and yields the 11 digits, which match it.
        kwargs.setdefault("validators", [RegexValidator(cpf_codec.CPF_PATTERN)])
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not re.fullmatch(cpf_codec.CPF_PATTERN, value):
            self.fail("invalid_cpf")
        try:
            return cpf_codec.normalize(value)
        except cpf_codec.InvalidCPF:
            self.fail("invalid_cpf")


class ResellerOutputSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="user.full_name")
    email = serializers.EmailField(source="user.email")
    cpf = serializers.CharField(source="cpf_formatted", help_text=_("Formatted CPF."))

    class Meta:
        model = Reseller
        fields = ["id", "full_name", "cpf", "email", "created_at"]
        read_only_fields = fields


class ResellerStaffOutputSerializer(ResellerOutputSerializer):
    """A reseller as staff see them: the CPF only with its own permission."""

    cpf = serializers.SerializerMethodField(
        help_text=_(
            "Formatted CPF; null unless the staff user holds the permission `resellers.view_reseller_cpf`."
        )
    )

    @cached_property
    def _cpf_visible(self) -> bool:
        # Once per answer (a list's rows share this serializer); without a
        # request nobody is known to hold the permission.
        request = self.context.get("request")
        return request is not None and cpf_visible_to(request.user)

    def get_cpf(self, reseller) -> str | None:
        return reseller.cpf_formatted if self._cpf_visible else None


class ResellerRegisterInputSerializer(StrictInputSerializer):
    full_name = serializers.CharField(max_length=150)
    cpf = CPFField()
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    def validate_full_name(self, value):
        return " ".join(value.split())

    def validate(self, attrs):
        # The similarity validator compares the password with name and e-mail.
        candidate = User(email=attrs["email"], full_name=attrs["full_name"])
        validate_password_field(attrs, "password", user=candidate)
        return attrs


class ResellerUpdateInputSerializer(StrictInputSerializer):
    """A new e-mail address needs the current password: with the address, a
    password reset hands over the account, and an access token alone must
    not be enough for that. The name needs none; the same address (in any
    case) is no change."""

    full_name = serializers.CharField(max_length=150, required=False)
    email = serializers.EmailField(max_length=254, required=False)
    current_password = serializers.CharField(
        max_length=128,
        trim_whitespace=False,
        write_only=True,
        required=False,
        help_text=_(
            "The account's current password: required to change the e-mail address, checked whenever sent."
        ),
    )

    def validate_full_name(self, value):
        return " ".join(value.split())

    def validate_current_password(self, value):
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError(WRONG_PASSWORD_MESSAGE, code="wrong_password")
        return value

    def validate(self, attrs):
        email = attrs.get("email")
        user = self.context["request"].user
        changes_email = email is not None and normalize_email(email) != user.email
        if changes_email and "current_password" not in attrs:
            raise serializers.ValidationError(
                {"current_password": [EMAIL_CHANGE_NEEDS_PASSWORD_MESSAGE]}, code="required"
            )
        attrs.pop("current_password", None)
        return attrs


# /auth/me/: the login, with its reseller profile when it has one.
class MeOutputSerializer(serializers.ModelSerializer):
    reseller = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "is_staff", "reseller"]

    @extend_schema_field(ResellerOutputSerializer(allow_null=True))
    def get_reseller(self, user):
        reseller = getattr(user, "reseller", None)
        return ResellerOutputSerializer(reseller).data if reseller else None
