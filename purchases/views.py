from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
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
from core.routing import ReplicaReadsMixin
from core.views import JobOutputSerializer
from purchases.exports import EXPORT_PERMISSION, export_description, purchase_export_start
from purchases.filters import PURCHASE_DEFAULT_ORDERING, PURCHASE_ORDERING_FIELDS, PurchaseFilter
from purchases.models import Purchase
from purchases.selectors import (
    local_ledger_get,
    month_summary_get,
    purchase_columns,
    purchase_count_from_figures,
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
from resellers.credit import cashback_balance
from resellers.models import Reseller
from resellers.selectors import reseller_list

CASHBACK_EXAMPLE = OpenApiExample(
    "External",
    summary=_("From the brand's cashback API"),
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
    summary=_("Summary"),
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

CONFLICT_RESPONSE = OpenApiResponse(description=_("The purchase is no longer in validation"))
ONLY_IN_VALIDATION = _("Only while `validating`; otherwise 409 and nothing changes.")
CASHBACK_SOURCES = _(
    "The brand's cashback API is never called during the request: the answer is the credit "
    "a background refresh stored (`source: external`, `fetched_at` saying when the brand gave "
    "it), or the local ledger, the cashback of approved purchases (`source: local`), while "
    "none is stored. `stale` is true when the stored credit is older than a few minutes: a "
    "refresh has been asked for (or failed), and a later request shows its result."
)
# A purchase as the caller sees it: its owner's view, or the staff's with
# whose it is and who reviewed it.
PURCHASE_OUTPUT = PolymorphicProxySerializer(
    component_name="PurchaseAnswer",
    serializers=[StaffPurchaseOutputSerializer, PurchaseOutputSerializer],
    resource_type_field_name=None,
)
PURCHASE_EXAMPLE = OpenApiExample(
    "Purchase",
    summary=_("Purchase"),
    value={
        "id": 42,
        "code": "NF-2026-0001",
        "value": "1200.00",
        "date": "2026-03-15",
        "status": "validating",
        "status_display": Purchase.Status.VALIDATING.label,
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
        summary=_("By value"),
        value={"code": "NF-2026-0001", "value": "1200.00", "date": "2026-03-15"},
        request_only=True,
    ),
    OpenApiExample(
        "With items (value computed)",
        summary=_("With items (value computed)"),
        value={"code": "NF-2026-0002", "date": "2026-03-15", "items": [{"product": 1, "quantity": 3}]},
        request_only=True,
    ),
    OpenApiExample(
        "By staff, for a reseller",
        summary=_("By staff, for a reseller"),
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
        summary=_("List purchases"),
        description=_(
            "Resellers see their own purchases, staff see everyone's (with the reseller). "
            "Each purchase carries the cashback percent of its month and its cashback value. "
            "Pages beyond the first 10,000 rows answer 400: narrow the filters (e.g. `month`). "
            "The staff's `count` is exact when the list is filtered by `month`, `date_from`, "
            "`date_to` and `status` at most (read from the day counts), or by `search` alone "
            "(read from the code counts); with `reseller`, or `search` with another filter, it "
            "may be up to a few seconds old (`LIST_COUNT_CACHE_SECONDS`). A "
            "reseller's is exact. Staff rows are "
            "`StaffPurchaseOutput`: with `reseller` and `reviewed_by`."
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
        summary=_("Purchase detail"),
        description=_(
            "One purchase, with the cashback percent of its month and its cashback value. "
            "Another reseller's purchase is not found (404). Staff get `StaffPurchaseOutput`: "
            "with `reseller` and `reviewed_by`."
        ),
        tags=["purchases"],
        responses={200: PURCHASE_OUTPUT},
        examples=[PURCHASE_EXAMPLE],
    ),
)
class PurchaseViewSet(
    ReplicaReadsMixin,
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
    path_parameter_description = _("The purchase's id.")

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

    def get_known_count(self) -> int | None:
        # The staff's list by month, dates and status, or unfiltered: the day
        # counts count it (exact, without reading the rows). A reseller's own
        # list is counted from their rows (a few thousand at most).
        if not self.request.user.is_staff:
            return None
        filterset = getattr(self, "filterset", None)
        return purchase_count_from_figures(filters=filterset.form.cleaned_data if filterset else {})

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
        summary=_("Record a purchase"),
        description=_(
            "Status starts as `validating` (`approved` for CPFs in the auto-approve list). "
            "With `items`, unit prices come from the catalogue and `value` must equal their "
            "sum or is computed when omitted."
        ),
        tags=["purchases"],
        request=PurchaseCreateInputSerializer,
        responses={
            201: PURCHASE_OUTPUT,
            400: OpenApiResponse(description=_("Invalid fields, duplicate code or unknown CPF")),
            403: OpenApiResponse(description=_("A reseller sent another reseller's CPF")),
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
        summary=_("Replace a purchase"),
        description=format_lazy(
            "{} {}", ONLY_IN_VALIDATION, _("Every field is sent again; the status is not writable.")
        ),
        tags=["purchases"],
        request=PurchaseUpdateInputSerializer,
        responses={200: PURCHASE_OUTPUT, 409: CONFLICT_RESPONSE},
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary=_("Change a purchase"),
        description=format_lazy(
            "{} {}", ONLY_IN_VALIDATION, _("Only the fields sent change; the status is not writable.")
        ),
        tags=["purchases"],
        request=PurchaseUpdateInputSerializer,
        responses={200: PURCHASE_OUTPUT, 409: CONFLICT_RESPONSE},
        examples=[
            OpenApiExample("New value", summary=_("New value"), value={"value": "250.00"}, request_only=True)
        ],
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    @extend_schema(
        summary=_("Delete a purchase"),
        description=ONLY_IN_VALIDATION,
        tags=["purchases"],
        responses={204: None, 409: CONFLICT_RESPONSE},
    )
    def destroy(self, request, pk=None):
        purchase_delete(purchase=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=_("Approve a purchase (staff)"),
        description=_(
            "From `validating` to `approved`, recording who reviewed it and when; a purchase "
            "already reviewed answers 409 and nothing changes. Answers with the purchase."
        ),
        tags=["purchases"],
        request=None,
        responses={200: StaffPurchaseOutputSerializer, 409: CONFLICT_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        purchase = purchase_approve(purchase=self.get_object(), reviewer=request.user)
        return self._answer(purchase.pk)

    @extend_schema(
        summary=_("Reject a purchase (staff)"),
        description=_(
            "From `validating` to `rejected`, with the reason (`reason`, shown to the reseller as "
            "`rejection_reason`), recording who reviewed it and when; a purchase already reviewed "
            "answers 409 and nothing changes. A rejected purchase earns no cashback."
        ),
        tags=["purchases"],
        request=PurchaseRejectInputSerializer,
        responses={200: StaffPurchaseOutputSerializer, 409: CONFLICT_RESPONSE},
        examples=[
            OpenApiExample(
                "Reason",
                summary=_("Reason"),
                value={"reason": _("The invoice does not match the value.")},
                request_only=True,
            )
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
    "Export queued",
    summary=_("Export queued"),
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
    OpenApiExample(
        "Everything, plain format", summary=_("Everything, plain format"), value={}, request_only=True
    ),
    OpenApiExample(
        "March's approved, for a spreadsheet",
        summary=_("March's approved, for a spreadsheet"),
        value={"status": "approved", "month": "2026-03", "ordering": "-value", "dialect": "pt-BR"},
        request_only=True,
    ),
    OpenApiExample(
        "One reseller over a period",
        summary=_("One reseller over a period"),
        value={"reseller": 42, "date_from": "2026-01-01", "date_to": "2026-03-31", "dialect": "plain"},
        request_only=True,
    ),
]


class PurchaseExportView(GenericAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"post": [EXPORT_PERMISSION]}
    serializer_class = PurchaseExportInputSerializer

    @extend_schema(
        summary=_("Export purchases as CSV (staff)"),
        description=_(
            "Starts writing, in the background, a CSV of every purchase the list (`GET "
            "/api/v1/purchases/`) shows with the same filters and the same order, across all "
            "pages. The filters go in the JSON body, with the list's names and rules (the same "
            "error messages); without filters, every purchase.\n\nThe 202 answer carries the job, "
            "and `Location` points at `GET /api/v1/jobs/{id}/`, which shows the progress (`done` "
            "of `total` rows) and, when it ends, `download_url`: a link only whoever started the "
            "export opens, and which expires (JOB_FILE_SECONDS, 24 h by default); then the file is "
            "deleted.\n\nColumns: id, code, date, value, status, cashback percent and value, the "
            "reseller's id, name and e-mail, the reviewer's name and e-mail, when they reviewed "
            "and the rejection reason. Never the CPF. Header and statuses in the request's "
            "language.\n\n`dialect`: `plain` (the default, for programs: commas, decimal point, ISO "
            "8601 dates and times, UTF-8 without BOM) or `pt-BR` (for spreadsheets in Portuguese: "
            "semicolons, decimal comma, dd/mm/yyyy dates and dd/mm/yyyy hh:mm:ss times, UTF-8 with "
            "BOM). In both, every field is quoted and no cell starts a formula (it gets a `'` "
            "before).\n\nEach person has at most 3 exports queued or running "
            "(`PURCHASE_EXPORTS_PER_USER`): one more is a 409 until one of them ends."
        ),
        tags=["purchases"],
        request=PurchaseExportInputSerializer,
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                description=_("The job's address: `GET /api/v1/jobs/{id}/`."),
            )
        ],
        responses={
            202: OpenApiResponse(JobOutputSerializer, description=_("Export queued.")),
            409: OpenApiResponse(
                description=_("You already have 3 exports queued or running (`PURCHASE_EXPORTS_PER_USER`).")
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
        summary=_("Own accumulated cashback"),
        description=CASHBACK_SOURCES,
        tags=["cashback"],
        responses={200: CashbackBalanceOutputSerializer},
        examples=[CASHBACK_EXAMPLE],
    )
    def get(self, request):
        return Response(_balance(request.user.reseller))


class ResellerMeSummaryView(ReplicaReadsMixin, APIView):
    permission_classes = [IsReseller]

    @extend_schema(
        summary=_("Own month summary and next tier"),
        description=_(
            "Total and count of the month's non-rejected purchases, the cashback percent "
            "they reached and earn, and the next tier with the amount still missing "
            "(`missing` makes the total exceed `threshold`). `next_tier` is null at the top tier."
        ),
        tags=["cashback"],
        parameters=[MonthQueryInputSerializer],
        responses={200: MonthSummaryOutputSerializer, 400: OpenApiResponse(description=_("Invalid month"))},
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
    path_parameter_description = _("The reseller's id.")

    def get_queryset(self):
        return reseller_list()

    @extend_schema(
        summary=_("A reseller's accumulated cashback (staff)"),
        description=format_lazy("{} {}", _("As the reseller sees it."), CASHBACK_SOURCES),
        tags=["cashback"],
        responses={200: CashbackBalanceOutputSerializer},
        examples=[CASHBACK_EXAMPLE],
    )
    def get(self, request, pk):
        return Response(_balance(self.get_object()))


def _balance(reseller: Reseller) -> dict:
    balance = cashback_balance(
        reseller_id=reseller.pk, local_ledger=lambda: local_ledger_get(reseller=reseller)
    )
    return CashbackBalanceOutputSerializer(balance).data
