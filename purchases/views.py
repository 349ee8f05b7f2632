from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsReseller, IsResellerOrStaff, IsStaff
from config.cache import CachedAnswer, VersionedAnswer, canonical_url
from config.filters import FilterBackend, StableOrderingFilter
from config.pagination import LargeTablePagination
from config.parsing import ID_PATTERN
from purchases.filters import PurchaseFilter
from purchases.models import Purchase
from purchases.selectors import (
    PURCHASE_ROW_FIELDS,
    PURCHASE_STAFF_ROW_FIELDS,
    local_ledger_get,
    month_summary_get,
    purchase_list,
    purchase_list_answer,
    purchase_list_cache_namespace,
    purchase_list_detailed,
    purchase_owner_get,
    purchase_page_items,
)
from purchases.serializers import (
    CashbackBalanceOutputSerializer,
    MonthQueryInputSerializer,
    MonthSummaryOutputSerializer,
    PurchaseCreateInputSerializer,
    PurchaseOutputSerializer,
    PurchaseRejectInputSerializer,
    PurchaseStaffOutputSerializer,
    PurchaseUpdateInputSerializer,
    purchase_row,
    purchase_rows_output,
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


def _count_parameters(request) -> list:
    # A list's count depends on its filters only, not on the page or the order.
    return sorted(
        (name, values)
        for name, values in request.query_params.lists()
        if name not in {"page", "page_size", "ordering"}
    )


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
            "a reseller's is exact."
        ),
        tags=["purchases"],
        responses={200: PurchaseOutputSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Purchase detail",
        tags=["purchases"],
        responses={200: PurchaseOutputSerializer},
        examples=[PURCHASE_EXAMPLE],
    ),
)
class PurchaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsResellerOrStaff]
    pagination_class = LargeTablePagination
    filter_backends = [FilterBackend, StableOrderingFilter]
    filterset_class = PurchaseFilter
    ordering_fields = ["date", "value", "created_at"]
    ordering = ["-date", "-id"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        if self.action == "list":
            return purchase_list(user=self.request.user)
        return purchase_list_detailed(user=self.request.user)

    def list(self, request):
        # Answers are cached under versions that every write able to change
        # them bumps (see selectors.purchase_list_answer): a reseller's
        # purchases, all purchases for staff, the catalogue, people's names.
        staff = request.user.is_staff
        reseller_id = None if staff else request.user.reseller.pk
        # The staff's count (of up to every purchase) may be a few seconds
        # old; a reseller's is exact: kept under their list's version, which
        # each of their writes bumps.
        if staff:
            self.paginator.count_answer = CachedAnswer("purchases:staff-count", _count_parameters(request))
        else:
            self.paginator.count_answer = VersionedAnswer(
                (purchase_list_cache_namespace(reseller_id),), "count", _count_parameters(request)
            )
        self.paginator.count_seconds = settings.LIST_COUNT_CACHE_SECONDS
        seconds = settings.STAFF_LIST_CACHE_SECONDS if staff else settings.PURCHASE_LIST_CACHE_SECONDS
        if seconds <= 0:
            return Response(self._page(request, staff=staff))
        answer = purchase_list_answer(
            reseller_id=reseller_id,
            url=canonical_url(request),
            language=translation.get_language(),
        )
        data = answer.get()
        if data is None:
            data = self._page(request, staff=staff)
            answer.set(data, timeout=seconds)
        return Response(data)

    def _page(self, request, *, staff: bool) -> dict:
        # Plain rows and batched related data instead of model instances and
        # nested serializers: see serializers.purchase_rows_output.
        queryset = self.filter_queryset(self.get_queryset())
        # Counted without the joins the staff's rows add.
        self.paginator.count_queryset = queryset
        rows = self.paginate_queryset(
            queryset.values(*(PURCHASE_STAFF_ROW_FIELDS if staff else PURCHASE_ROW_FIELDS))
        )
        items = purchase_page_items(rows)
        return self.get_paginated_response(purchase_rows_output(rows, items, staff=staff)).data

    def get_serializer_class(self):
        if self.request is not None and self.request.user.is_staff:
            return PurchaseStaffOutputSerializer
        return PurchaseOutputSerializer

    def get_permissions(self):
        if self.action in ("approve", "reject"):
            return [IsStaff()]
        return super().get_permissions()

    def _respond(self, purchase: Purchase, status_code=status.HTTP_200_OK) -> Response:
        # Re-read through the scoped queryset: items, reseller and review in one go.
        purchase = self.get_queryset().get(pk=purchase.pk)
        return Response(self.get_serializer(purchase).data, status=status_code)

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
            201: PurchaseOutputSerializer,
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
        # Answered from what was just written, as the list writes its rows,
        # instead of reading it back: the owner as loaded here (a reseller's
        # comes with the request's user), the items, if any, in one query.
        purchase.reseller = owner
        row = purchase_row(purchase)
        items = purchase_page_items([row]) if data.get("items") else {purchase.pk: []}
        (output,) = purchase_rows_output([row], items, staff=request.user.is_staff)
        return Response(output, status=status.HTTP_201_CREATED)

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
        return self._respond(purchase)

    @extend_schema(
        summary="Replace a purchase",
        description="Only while `validating`; otherwise 409 and nothing changes. Status is not writable.",
        tags=["purchases"],
        request=PurchaseUpdateInputSerializer,
        responses={200: PurchaseOutputSerializer, 409: CONFLICT_RESPONSE},
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change a purchase",
        description="Only while `validating`; otherwise 409 and nothing changes. Status is not writable.",
        tags=["purchases"],
        request=PurchaseUpdateInputSerializer,
        responses={200: PurchaseOutputSerializer, 409: CONFLICT_RESPONSE},
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
        responses={200: PurchaseStaffOutputSerializer, 409: CONFLICT_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        purchase = purchase_approve(purchase=self.get_object(), reviewer=request.user)
        return self._respond(purchase)

    @extend_schema(
        summary="Reject a purchase (staff)",
        tags=["purchases"],
        request=PurchaseRejectInputSerializer,
        responses={200: PurchaseStaffOutputSerializer, 409: CONFLICT_RESPONSE},
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
        return self._respond(purchase)


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
    permission_classes = [IsStaff]
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
