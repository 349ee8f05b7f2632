from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.permissions import IsReseller, IsStaff
from purchases.selectors import reseller_local_ledger, reseller_month_summary
from purchases.serializers import (
    CashbackBalanceOutputSerializer,
    MonthQuerySerializer,
    MonthSummaryOutputSerializer,
)
from resellers.cashback_client import cashback_balance
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

CASHBACK_EXAMPLE = OpenApiExample(
    "External",
    value={
        "credit": "1234.56",
        "source": "external",
        "stale": False,
        "fetched_at": "2026-03-15T10:30:00-03:00",
    },
    response_only=True,
)
SUMMARY_EXAMPLE = OpenApiExample(
    "Summary",
    value={
        "month": "2026-03",
        "total_value": "900.00",
        "purchase_count": 3,
        "cashback_percent": "10.00",
        "cashback_value": "90.00",
        "next_tier": {"percent": "15.00", "threshold": "1000.00", "missing": "100.01"},
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

    @extend_schema(
        summary="Own accumulated cashback",
        description=(
            "From the brand's cashback API when it answers (cached for a few minutes); "
            "otherwise the local ledger (cashback of approved purchases). `source` says "
            "which, and `stale` is true when a cached external value is served after a failure."
        ),
        tags=["cashback"],
        responses={200: CashbackBalanceOutputSerializer},
        examples=[CASHBACK_EXAMPLE],
    )
    @action(detail=False, methods=["get"], url_path="me/cashback")
    def me_cashback(self, request):
        return Response(_balance(request.user.reseller))

    @extend_schema(
        summary="Own month summary and next tier",
        description=(
            "Total and count of the month's non-rejected purchases, the cashback percent "
            "they reached and earn, and the next tier with the amount still missing "
            "(`missing` makes the total exceed `threshold`). `next_tier` is null at the top tier."
        ),
        tags=["cashback"],
        parameters=[OpenApiParameter("month", str, description="YYYY-MM; default: the current month.")],
        responses={200: MonthSummaryOutputSerializer, 400: OpenApiResponse(description="Invalid month")},
        examples=[SUMMARY_EXAMPLE],
    )
    @action(detail=False, methods=["get"], url_path="me/summary")
    def me_summary(self, request):
        query = MonthQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = reseller_month_summary(reseller=request.user.reseller, month=query.validated_month())
        return Response(MonthSummaryOutputSerializer(summary).data)

    @extend_schema(
        summary="A reseller's accumulated cashback (staff)",
        tags=["cashback"],
        responses={200: CashbackBalanceOutputSerializer},
        examples=[CASHBACK_EXAMPLE],
    )
    @action(detail=True, methods=["get"])
    def cashback(self, request, pk=None):
        return Response(_balance(self.get_object()))


def _balance(reseller) -> dict:
    balance = cashback_balance(
        cpf=reseller.cpf,
        cpf_index=reseller.cpf_index,
        local_ledger=lambda: reseller_local_ledger(reseller=reseller),
    )
    return CashbackBalanceOutputSerializer(balance).data
