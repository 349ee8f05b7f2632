from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsReseller, IsResellerOrStaffPermissions, StaffPermissions
from core.filters import FilterBackend, StableOrderingFilter
from core.pagination import CachedCountLargeTablePagination, LargeTablePagination
from core.parsing import ID_PATTERN
from core.views import JobOutputSerializer
from purchases.exports import EXPORT_PERMISSION, export_description, purchase_export_start
from purchases.filters import PURCHASE_DEFAULT_ORDERING, PURCHASE_ORDERING_FIELDS, PurchaseFilter
from purchases.selectors import (
    local_ledger_get,
    month_summary_get,
    purchase_columns,
    purchase_list,
    purchase_owner_get,
    purchase_rows,
    purchase_rows_complete,
)
from purchases.serializers import (
    CashbackBalanceOutputSerializer,
    MonthQueryInputSerializer,
    MonthSummaryOutputSerializer,
    PurchaseCreateInputSerializer,
    PurchaseExportInputSerializer,
    PurchaseOutputSerializer,
    PurchaseRejectInputSerializer,
    PurchaseUpdateInputSerializer,
    StaffPurchaseOutputSerializer,
)
from purchases.services import (
    ItemInput,
    purchase_approve,
    purchase_create,
    purchase_delete,
    purchase_reject,
    purchase_update,
)
from resellers.cashback_client import cashback_balance
from resellers.models import Reseller
from resellers.selectors import reseller_list

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

CONFLICT_RESPONSE = OpenApiResponse(description="The purchase is no longer in validation")
# A purchase as the caller sees it: its owner's view, or the staff's with
# whose it is and who reviewed it.
PURCHASE_OUTPUT = PolymorphicProxySerializer(
    component_name="PurchaseAnswer",
    serializers=[StaffPurchaseOutputSerializer, PurchaseOutputSerializer],
    resource_type_field_name=None,
)
PURCHASE_EXAMPLE = OpenApiExample(
    "Purchase",
    value={
        "id": 42,
        "code": "NF-2026-0001",
        "value": "1200.00",
        "date": "2026-03-15",
        "status": "validating",
        "status_display": "Em validação",
        "cashback_percent": "15.00",
        "cashback_value": "180.00",
        "reviewed_at": None,
        "rejection_reason": "",
        "items": [],
        "created_at": "2026-03-15T10:30:00-03:00",
        "updated_at": "2026-03-15T10:30:00-03:00",
    },
    response_only=True,
)
CREATE_EXAMPLES = [
    OpenApiExample(
        "By value",
        value={"code": "NF-2026-0001", "value": "1200.00", "date": "2026-03-15"},
        request_only=True,
    ),
    OpenApiExample(
        "With items (value computed)",
        value={"code": "NF-2026-0002", "date": "2026-03-15", "items": [{"product": 1, "quantity": 3}]},
        request_only=True,
    ),
    OpenApiExample(
        "By staff, for a reseller",
        value={"code": "NF-2026-0003", "value": "99.90", "date": "2026-03-15", "cpf": "153.509.460-56"},
        request_only=True,
    ),
]


def _items(validated_items):
    if validated_items is None:
        return None
    return [ItemInput(product=item["product"], quantity=item["quantity"]) for item in validated_items]


@extend_schema_view(
    list=extend_schema(
        summary="List purchases",
        description=(
            "Resellers see their own purchases, staff see everyone's (with the reseller). "
            "Each purchase carries the cashback percent of its month and its cashback value. "
            "Pages beyond the first 10,000 rows answer 400: narrow the filters (e.g. `month`). "
            "The staff's `count` may be up to a few seconds old (LIST_COUNT_CACHE_SECONDS); "
            "a reseller's is exact. Staff rows are `StaffPurchaseOutput`: with `reseller` and "
            "`reviewed_by`."
        ),
        tags=["purchases"],
        responses={
            200: PolymorphicProxySerializer(
                component_name="PurchaseListRow",
                serializers=[StaffPurchaseOutputSerializer, PurchaseOutputSerializer],
                resource_type_field_name=None,
                many=True,
            )
        },
    ),
    retrieve=extend_schema(
        summary="Purchase detail",
        tags=["purchases"],
        responses={200: PURCHASE_OUTPUT},
        examples=[PURCHASE_EXAMPLE],
    ),
)
class PurchaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsResellerOrStaffPermissions]
    # What staff need for each action (resellers act on their own purchases).
    # Reviewing answers with the purchase: reviewers read what they review,
    # as in the admin, whose review buttons sit on pages that need viewing.
    staff_permissions = {
        "list": ["purchases.view_purchase"],
        "retrieve": ["purchases.view_purchase"],
        "create": ["purchases.add_purchase"],
        "update": ["purchases.change_purchase"],
        "partial_update": ["purchases.change_purchase"],
        "destroy": ["purchases.delete_purchase"],
        "approve": ["purchases.view_purchase", "purchases.review_purchase"],
        "reject": ["purchases.view_purchase", "purchases.review_purchase"],
    }
    filter_backends = [FilterBackend, StableOrderingFilter]
    filterset_class = PurchaseFilter
    ordering_fields = list(PURCHASE_ORDERING_FIELDS)
    ordering = list(PURCHASE_DEFAULT_ORDERING)
    lookup_value_regex = ID_PATTERN

    @property
    def pagination_class(self):
        # The staff's lists span every purchase: their count may be a few
        # seconds old (counted once per LIST_COUNT_CACHE_SECONDS for each
        # filter); a reseller's, of their own purchases, is exact.
        staff = self.request is not None and self.request.user.is_staff
        return CachedCountLargeTablePagination if staff else LargeTablePagination

    def get_queryset(self):
        return purchase_list(user=self.request.user)

    def get_serializer_class(self):
        if self.request is not None and self.request.user.is_staff:
            return StaffPurchaseOutputSerializer
        return PurchaseOutputSerializer

    def list(self, request):
        # Not cached: on the mixed load test no answer was asked for twice.
        staff = request.user.is_staff
        queryset = self.filter_queryset(self.get_queryset())
        rows = self.paginate_queryset(purchase_columns(queryset, staff=staff))
        rows = purchase_rows_complete(rows, staff=staff)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def retrieve(self, request, pk=None):
        return self._answer(self.get_object().pk)

    def get_permissions(self):
        if self.action in ("approve", "reject"):
            return [StaffPermissions()]
        return super().get_permissions()

    def _answer(self, pk: int, status_code=status.HTTP_200_OK) -> Response:
        (row,) = purchase_rows(self.get_queryset().filter(pk=pk), staff=self.request.user.is_staff)
        return Response(self.get_serializer(row).data, status=status_code)

    @extend_schema(
        summary="Record a purchase",
        description=(
            "Status starts as `validating` (`approved` for CPFs in the auto-approve list). "
            "With `items`, unit prices come from the catalogue and `value` must equal their "
            "sum or is computed when omitted."
        ),
        tags=["purchases"],
        request=PurchaseCreateInputSerializer,
        responses={
            201: PURCHASE_OUTPUT,
            400: OpenApiResponse(description="Invalid fields, duplicate code or unknown CPF"),
            403: OpenApiResponse(description="A reseller sent another reseller's CPF"),
        },
        examples=[*CREATE_EXAMPLES, PURCHASE_EXAMPLE],
    )
    def create(self, request):
        serializer = PurchaseCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        owner = purchase_owner_get(user=request.user, cpf=data.get("cpf"))
        purchase = purchase_create(
            reseller=owner,
            code=data["code"],
            date=data["date"],
            value=data.get("value"),
            items=_items(data.get("items")) or (),
            created_by=request.user,
        )
        return self._answer(purchase.pk, status.HTTP_201_CREATED)

    def _update(self, request, *, partial: bool) -> Response:
        purchase = self.get_object()
        serializer = PurchaseUpdateInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        purchase = purchase_update(
            purchase=purchase,
            code=data.get("code"),
            date=data.get("date"),
            value=data.get("value"),
            items=_items(data.get("items")),
        )
        return self._answer(purchase.pk)

    @extend_schema(
        summary="Replace a purchase",
        description="Only while `validating`; otherwise 409 and nothing changes. Status is not writable.",
        tags=["purchases"],
        request=PurchaseUpdateInputSerializer,
        responses={200: PURCHASE_OUTPUT, 409: CONFLICT_RESPONSE},
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change a purchase",
        description="Only while `validating`; otherwise 409 and nothing changes. Status is not writable.",
        tags=["purchases"],
        request=PurchaseUpdateInputSerializer,
        responses={200: PURCHASE_OUTPUT, 409: CONFLICT_RESPONSE},
        examples=[OpenApiExample("New value", value={"value": "250.00"}, request_only=True)],
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    @extend_schema(
        summary="Delete a purchase",
        description="Only while `validating`; otherwise 409 and nothing changes.",
        tags=["purchases"],
        responses={204: None, 409: CONFLICT_RESPONSE},
    )
    def destroy(self, request, pk=None):
        purchase_delete(purchase=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Approve a purchase (staff)",
        tags=["purchases"],
        request=None,
        responses={200: StaffPurchaseOutputSerializer, 409: CONFLICT_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        purchase = purchase_approve(purchase=self.get_object(), reviewer=request.user)
        return self._answer(purchase.pk)

    @extend_schema(
        summary="Reject a purchase (staff)",
        tags=["purchases"],
        request=PurchaseRejectInputSerializer,
        responses={200: StaffPurchaseOutputSerializer, 409: CONFLICT_RESPONSE},
        examples=[
            OpenApiExample("Reason", value={"reason": "Invoice does not match the value."}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        purchase = self.get_object()
        serializer = PurchaseRejectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase = purchase_reject(
            purchase=purchase, reviewer=request.user, reason=serializer.validated_data["reason"]
        )
        return self._answer(purchase.pk)


# --- Exports ------------------------------------------------------------------------

EXPORT_JOB_EXAMPLE = OpenApiExample(
    "Exportação na fila",
    value={
        "id": "2f1c9a4e-8b7d-4c3a-9e21-5d6f7a8b9c0d",
        "kind": "purchase_export",
        "status": "queued",
        "done": 0,
        "total": 0,
        "failures": 0,
        "download_url": None,
        "created_at": "2026-03-20T10:30:00-03:00",
        "finished_at": None,
    },
    response_only=True,
    status_codes=["202"],
)
EXPORT_REQUEST_EXAMPLES = [
    OpenApiExample("Tudo, formato simples", value={}, request_only=True),
    OpenApiExample(
        "Aprovadas de março, para planilha",
        value={"status": "approved", "month": "2026-03", "ordering": "-value", "dialect": "pt-BR"},
        request_only=True,
    ),
    OpenApiExample(
        "Um revendedor num período",
        value={"reseller": 42, "date_from": "2026-01-01", "date_to": "2026-03-31", "dialect": "plain"},
        request_only=True,
    ),
]


class PurchaseExportView(GenericAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"post": [EXPORT_PERMISSION]}
    serializer_class = PurchaseExportInputSerializer

    @extend_schema(
        summary="Exportar compras em CSV (equipe)",
        description=(
            "Começa a escrever, em segundo plano, um CSV com todas as compras que a lista "
            "(`GET /api/v1/purchases/`) mostra com os mesmos filtros e a mesma ordem, em todas as "
            "páginas. Os filtros vão no corpo JSON, com os nomes e as regras da lista (as mesmas "
            "mensagens de erro); sem filtros, todas as compras.\n\n"
            "A resposta 202 traz a tarefa, e `Location` aponta para `GET /api/v1/jobs/{id}/`, que "
            "mostra o progresso (`done` de `total` linhas) e, quando termina, `download_url`: um link "
            "que só quem começou a exportação abre, e que expira (JOB_FILE_SECONDS, 24 h por padrão); "
            "depois disso o arquivo é apagado.\n\n"
            "Colunas: id, código, data, valor, situação, percentual e valor do cashback, id, nome e "
            "e-mail do revendedor, nome e e-mail de quem revisou, quando revisou e o motivo da "
            "reprovação. Nunca o CPF. Cabeçalho e situações no idioma da requisição.\n\n"
            "`dialect`: `plain` (padrão, para programas: vírgulas, ponto decimal, datas e horários "
            "ISO 8601, UTF-8 sem BOM) ou `pt-BR` (para planilhas em português: ponto e vírgula, "
            "vírgula decimal, datas dd/mm/aaaa e horários dd/mm/aaaa hh:mm:ss, UTF-8 com BOM). Em "
            "ambos, todo campo vai entre aspas e nenhuma célula começa uma fórmula (recebe `'` antes).\n\n"
            "Cada pessoa tem no máximo 3 exportações na fila ou em andamento "
            "(PURCHASE_EXPORTS_PER_USER): mais uma é 409 até uma delas terminar."
        ),
        tags=["purchases"],
        request=PurchaseExportInputSerializer,
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                description="Endereço da tarefa: `GET /api/v1/jobs/{id}/`.",
            )
        ],
        responses={
            202: OpenApiResponse(JobOutputSerializer, description="Exportação na fila."),
            409: OpenApiResponse(
                description="Já há 3 exportações suas na fila ou em andamento (PURCHASE_EXPORTS_PER_USER)."
            ),
        },
        examples=[*EXPORT_REQUEST_EXAMPLES, EXPORT_JOB_EXAMPLE],
    )
    def post(self, request):
        serializer = PurchaseExportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        details = [f"{name}={value}" for name, value in data["filters"].items()]
        if data["ordering"]:
            details.append(f"ordering={data['ordering']}")
        job = purchase_export_start(
            user=request.user,
            dialect=data["dialect"],
            params={"source": "api", "filters": data["filters"], "ordering": data["ordering"]},
            description=export_description(data["dialect"], details),
        )
        job.refresh_from_db()  # run already, when tasks run in-process
        location = request.build_absolute_uri(reverse("job-detail", kwargs={"pk": job.pk}))
        answer = JobOutputSerializer(job, context={"request": request}).data
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


# --- A reseller's cashback: mounted under resellers/, served here ------------


class ResellerMeCashbackView(APIView):
    permission_classes = [IsReseller]

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
    def get(self, request):
        return Response(_balance(request.user.reseller))


class ResellerMeSummaryView(APIView):
    permission_classes = [IsReseller]

    @extend_schema(
        summary="Own month summary and next tier",
        description=(
            "Total and count of the month's non-rejected purchases, the cashback percent "
            "they reached and earn, and the next tier with the amount still missing "
            "(`missing` makes the total exceed `threshold`). `next_tier` is null at the top tier."
        ),
        tags=["cashback"],
        parameters=[MonthQueryInputSerializer],
        responses={200: MonthSummaryOutputSerializer, 400: OpenApiResponse(description="Invalid month")},
        examples=[SUMMARY_EXAMPLE],
    )
    def get(self, request):
        query = MonthQueryInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = month_summary_get(reseller=request.user.reseller, month=query.validated_month())
        return Response(MonthSummaryOutputSerializer(summary).data)


class ResellerCashbackView(GenericAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"get": ["resellers.view_reseller"]}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return reseller_list()

    @extend_schema(
        summary="A reseller's accumulated cashback (staff)",
        tags=["cashback"],
        responses={200: CashbackBalanceOutputSerializer},
        examples=[CASHBACK_EXAMPLE],
    )
    def get(self, request, pk):
        return Response(_balance(self.get_object()))


def _balance(reseller: Reseller) -> dict:
    balance = cashback_balance(
        cpf=reseller.cpf,
        cpf_index=reseller.cpf_index,
        local_ledger=lambda: local_ledger_get(reseller=reseller),
    )
    return CashbackBalanceOutputSerializer(balance).data
