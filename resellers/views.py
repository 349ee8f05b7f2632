from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.permissions import IsReseller, IsStaff
from resellers.filters import ResellerFilter
from resellers.selectors import reseller_list
from resellers.serializers import (
    ResellerOutputSerializer,
    ResellerRegisterInputSerializer,
    ResellerUpdateInputSerializer,
)
from resellers.services import reseller_register, reseller_update_profile

REGISTER_EXAMPLE = OpenApiExample(
    "Registration",
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
    value={
        "id": 1,
        "full_name": "Maria da Silva",
        "cpf": "153.509.460-56",
        "email": "maria@example.com",
        "created_at": "2026-01-15T10:30:00-03:00",
    },
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List resellers (staff)", tags=["resellers"]),
    retrieve=extend_schema(summary="Reseller detail (staff)", tags=["resellers"]),
)
class ResellerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ResellerOutputSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ResellerFilter
    ordering_fields = ["created_at", "user__full_name"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return reseller_list()

    def get_permissions(self):
        action_name = self.action or ""
        if action_name == "create":
            return [AllowAny()]
        if action_name == "me" or action_name.startswith("me_"):
            return [IsReseller()]
        return [IsStaff()]

    def get_authenticators(self):
        # Registration is public: a stale Authorization header must not block it.
        if self.request is not None and self.request.method == "POST" and not self.kwargs:
            return []
        return super().get_authenticators()

    @extend_schema(
        summary="Register as a reseller",
        description=(
            "Public. Creates the login and the reseller profile. The CPF is accepted "
            "as 153.509.460-56 or 15350946056 and validated with its check digits."
        ),
        tags=["resellers"],
        request=ResellerRegisterInputSerializer,
        responses={201: ResellerOutputSerializer, 400: OpenApiResponse(description="Invalid fields")},
        examples=[REGISTER_EXAMPLE, RESELLER_EXAMPLE],
        auth=[],
    )
    def create(self, request):
        serializer = ResellerRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reseller = reseller_register(**serializer.validated_data)
        return Response(ResellerOutputSerializer(reseller).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="Own reseller profile",
        tags=["resellers"],
        responses={200: ResellerOutputSerializer},
        examples=[RESELLER_EXAMPLE],
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Change own name or e-mail",
        tags=["resellers"],
        request=ResellerUpdateInputSerializer,
        responses={200: ResellerOutputSerializer, 400: OpenApiResponse(description="Invalid fields")},
        examples=[
            OpenApiExample("Change e-mail", value={"email": "maria.silva@example.com"}, request_only=True),
            RESELLER_EXAMPLE,
        ],
    )
    @action(detail=False, methods=["get", "patch"], url_path="me")
    def me(self, request):
        reseller = request.user.reseller
        if request.method == "PATCH":
            serializer = ResellerUpdateInputSerializer(
                data=request.data, partial=True, context={"request": request}
            )
            serializer.is_valid(raise_exception=True)
            reseller = reseller_update_profile(reseller=reseller, **serializer.validated_data)
        return Response(ResellerOutputSerializer(reseller).data)
