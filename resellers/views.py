from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsReseller, StaffPermissions
from accounts.throttles import PasswordCheckThrottle, RegistrationAddressThrottle
from core.filters import FilterBackend, OrderingFilter
from core.parsing import ID_PATTERN
from resellers.filters import ResellerFilter
from resellers.selectors import reseller_list
from resellers.serializers import (
    MeOutputSerializer,
    ResellerOutputSerializer,
    ResellerRegisterInputSerializer,
    ResellerStaffOutputSerializer,
    ResellerUpdateInputSerializer,
)
from resellers.services import reseller_profile_update, reseller_register

REGISTER_EXAMPLE = OpenApiExample(
    "Registration",
    summary=_("Registration"),
    value={
        "full_name": "Maria da Silva",
        "cpf": "153.509.460-56",
        "email": "maria@example.com",
        "password": "s3nha-Forte-2024",
    },
    request_only=True,
)
RESELLER_EXAMPLE = OpenApiExample(
    "Reseller",
    summary=_("Reseller"),
    value={
        "id": 1,
        "full_name": "Maria da Silva",
        "cpf": "153.509.460-56",
        "email": "maria@example.com",
        "created_at": "2026-01-15T10:30:00-03:00",
    },
    response_only=True,
)


# /auth/me/ is served here: it shows the reseller profile, which this app
# owns (accounts knows nothing of resellers).
class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary=_("Who am I"),
        description=_(
            "The authenticated account: its e-mail, name, whether it is staff, and its reseller "
            "profile (null for an account without one, as staff accounts are)."
        ),
        tags=["auth"],
        responses={200: MeOutputSerializer},
    )
    def get(self, request):
        return Response(MeOutputSerializer(request.user).data)


@extend_schema_view(
    list=extend_schema(
        summary=_("List resellers (staff)"),
        description=_(
            "Every reseller, paginated, newest first unless `ordering` says otherwise; `search` "
            "finds them by name or e-mail (contains) or by exact CPF. The CPF shows only to staff "
            "holding the permission `resellers.view_reseller_cpf` (null otherwise)."
        ),
        tags=["resellers"],
    ),
    retrieve=extend_schema(
        summary=_("Reseller detail (staff)"),
        description=_(
            "One reseller. The CPF shows only to staff holding the permission "
            "`resellers.view_reseller_cpf` (null otherwise)."
        ),
        tags=["resellers"],
    ),
)
class ResellerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    # The reseller collection: staff list and detail, and public registration
    # (POST on the same path, so the same class answers it: Django routes by
    # path, not by method).
    serializer_class = ResellerStaffOutputSerializer
    permission_classes = [StaffPermissions]
    staff_permissions = {
        "list": ["resellers.view_reseller"],
        "retrieve": ["resellers.view_reseller"],
    }
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = ResellerFilter
    ordering_fields = ["created_at", "user__full_name"]
    lookup_value_regex = ID_PATTERN
    path_parameter_description = _("The reseller's id.")

    # Registration is open to anyone and reads no credentials at all, so a
    # stale Authorization header cannot block it.
    registration_permission_classes = [AllowAny]
    registration_authentication_classes = []

    def _is_registration(self) -> bool:
        return self.action_map.get(self.request.method.lower()) == "create"

    def get_queryset(self):
        return reseller_list()

    def get_permissions(self):
        if self._is_registration():
            return [permission() for permission in self.registration_permission_classes]
        return super().get_permissions()

    def get_throttles(self):
        # Registration: per client address too, failing closed (503) when
        # the throttle store is down.
        if self._is_registration():
            return [*super().get_throttles(), RegistrationAddressThrottle()]
        return super().get_throttles()

    def get_authenticators(self):
        # Called while the request is being wrapped, before ``self.action`` is
        # set: hence the method lookup in the action map.
        if self.request is not None and self._is_registration():
            return [authenticator() for authenticator in self.registration_authentication_classes]
        return super().get_authenticators()

    @extend_schema(
        summary=_("Register as a reseller"),
        description=_(
            "Public. Creates the login and the reseller profile. The CPF is accepted "
            "as 153.509.460-56 or 15350946056 and validated with its check digits."
        ),
        tags=["resellers"],
        request=ResellerRegisterInputSerializer,
        responses={201: ResellerOutputSerializer, 400: OpenApiResponse(description=_("Invalid fields"))},
        examples=[REGISTER_EXAMPLE, RESELLER_EXAMPLE],
        auth=[],
    )
    def create(self, request):
        serializer = ResellerRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reseller = reseller_register(**serializer.validated_data)
        return Response(ResellerOutputSerializer(reseller).data, status=status.HTTP_201_CREATED)


class ResellerMeView(GenericAPIView):
    # The reseller's own profile.
    permission_classes = [IsReseller]
    serializer_class = ResellerOutputSerializer

    @extend_schema(
        summary=_("Own reseller profile"),
        description=_("The reseller profile of the authenticated account: name, CPF, e-mail, since when."),
        tags=["resellers"],
        responses={200: ResellerOutputSerializer},
        examples=[RESELLER_EXAMPLE],
    )
    def get(self, request):
        return Response(ResellerOutputSerializer(request.user.reseller).data)

    def get_throttles(self):
        # A PATCH may check the current password: the password change's budget.
        if self.request.method == "PATCH":
            return [*super().get_throttles(), PasswordCheckThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary=_("Change own name or e-mail"),
        description=_(
            "Changes `full_name` and/or `email`. A new e-mail address needs the account's "
            "`current_password` (400 on `current_password` when it is missing or wrong; the "
            "same address in another case is no change and needs none). A request that sends "
            "`current_password` counts against the password change's throttle "
            "(`PASSWORD_THROTTLE_RATE`, per account), and answers 503 rather than skipping the "
            "count when the throttle's store is down."
        ),
        tags=["resellers"],
        request=ResellerUpdateInputSerializer,
        responses={200: ResellerOutputSerializer, 400: OpenApiResponse(description=_("Invalid fields"))},
        examples=[
            OpenApiExample(
                "Change e-mail",
                summary=_("Change e-mail"),
                value={"email": "maria.silva@example.com", "current_password": "s3nha-Forte-2024"},
                request_only=True,
            ),
            OpenApiExample(
                "Change name",
                summary=_("Change name"),
                value={"full_name": "Maria da Silva Souza"},
                request_only=True,
            ),
            RESELLER_EXAMPLE,
        ],
    )
    def patch(self, request):
        serializer = ResellerUpdateInputSerializer(
            data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        reseller = reseller_profile_update(reseller=request.user.reseller, **serializer.validated_data)
        return Response(ResellerOutputSerializer(reseller).data)
