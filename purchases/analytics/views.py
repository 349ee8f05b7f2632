"""Staff analytics: thin views over the analytics selectors, each whole
answer cached briefly (selectors.analytics_cached)."""

from collections.abc import Callable

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import StaffPermissions
from core.routing import ReplicaReadsMixin
from purchases.analytics.selectors import (
    analytics_cached,
    analytics_monthly_list,
    analytics_summary_get,
    analytics_top_products_list,
    analytics_top_resellers_list,
)
from purchases.analytics.serializers import (
    AnalyticsMonthlyOutputSerializer,
    AnalyticsRangeQueryInputSerializer,
    AnalyticsSummaryOutputSerializer,
    AnalyticsTopProductsOutputSerializer,
    AnalyticsTopQueryInputSerializer,
    AnalyticsTopResellersOutputSerializer,
)
from purchases.models import ANALYTICS_PERMISSION
from purchases.months import format_month
from purchases.serializers import MonthQueryInputSerializer

BAD_QUERY_RESPONSE = OpenApiResponse(
    description=_("Invalid query parameter; errors are keyed by the parameter name.")
)
STAFF_ONLY = _(
    "Staff with the permission `purchases.view_analytics`. Cached briefly; any purchase change makes "
    "the next answer fresh."
)


def _staff_only(description):
    """``description`` after who may call and how fresh the answer is (lazy:
    in the language the schema is asked in)."""
    return format_lazy("{} {}", STAFF_ONLY, description)


# The permission the admin's analytics page needs too.
ANALYTICS_PERMISSIONS = {"get": [ANALYTICS_PERMISSION]}


class AnalyticsSummaryView(ReplicaReadsMixin, APIView):
    permission_classes = [StaffPermissions]
    staff_permissions = ANALYTICS_PERMISSIONS

    @extend_schema(
        summary=_("Month summary (staff)"),
        description=_staff_only(
            _(
                "Count, value and cashback of the month's purchases in each status "
                "(all three always present, zeros included; rejected purchases carry no cashback). "
                "`active_resellers` counts the distinct resellers with at least one purchase in the "
                "month, in any status. `resellers_per_tier` counts, per percent of the month's policy, "
                "the resellers whose total of non-rejected purchases reached that tier."
            )
        ),
        tags=["analytics"],
        parameters=[MonthQueryInputSerializer],
        responses={200: AnalyticsSummaryOutputSerializer, 400: BAD_QUERY_RESPONSE},
        examples=[
            OpenApiExample(
                "March",
                summary=_("March"),
                value={
                    "month": "2026-03",
                    "by_status": {
                        "validating": {
                            "purchase_count": 4,
                            "total_value": "2300.00",
                            "cashback_value": "310.00",
                        },
                        "approved": {
                            "purchase_count": 6,
                            "total_value": "5100.00",
                            "cashback_value": "820.00",
                        },
                        "rejected": {"purchase_count": 1, "total_value": "900.00", "cashback_value": "0.00"},
                    },
                    "active_resellers": 5,
                    "resellers_per_tier": [
                        {"percent": "10.00", "resellers": 2},
                        {"percent": "15.00", "resellers": 1},
                        {"percent": "20.00", "resellers": 2},
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        query = MonthQueryInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_month()
        return Response(
            analytics_cached(
                "summary",
                {"month": format_month(month)},
                lambda: AnalyticsSummaryOutputSerializer(analytics_summary_get(month=month)).data,
            )
        )


class AnalyticsMonthlyView(ReplicaReadsMixin, APIView):
    permission_classes = [StaffPermissions]
    staff_permissions = ANALYTICS_PERMISSIONS

    @extend_schema(
        summary=_("Month by month (staff)"),
        description=_staff_only(
            _(
                "One row per calendar month from `from` to `to`, both included, oldest "
                "first; months without purchases appear with zeros. Each row counts the month's "
                "non-rejected purchases (validating and approved): their number, their value and the "
                "cashback they earn. Rejected purchases are left out of every figure. At most 120 months."
            )
        ),
        tags=["analytics"],
        parameters=[AnalyticsRangeQueryInputSerializer],
        responses={200: AnalyticsMonthlyOutputSerializer, 400: BAD_QUERY_RESPONSE},
        examples=[
            OpenApiExample(
                "Two months",
                summary=_("Two months"),
                value={
                    "from": "2026-02",
                    "to": "2026-03",
                    "results": [
                        {
                            "month": "2026-02",
                            "purchase_count": 0,
                            "total_value": "0.00",
                            "cashback_value": "0.00",
                        },
                        {
                            "month": "2026-03",
                            "purchase_count": 10,
                            "total_value": "7400.00",
                            "cashback_value": "1130.00",
                        },
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        query = AnalyticsRangeQueryInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first, last = query.validated_data["from"], query.validated_data["to"]

        def compute():
            rows = analytics_monthly_list(from_month=first, to_month=last)
            return AnalyticsMonthlyOutputSerializer(
                {"from_month": first, "to_month": last, "results": rows}
            ).data

        return Response(
            analytics_cached("monthly", {"from": format_month(first), "to": format_month(last)}, compute)
        )


class _AnalyticsRankingView(ReplicaReadsMixin, APIView):
    """A month's ranking (`?month=&limit=`): subclasses name the cache
    endpoint, the selector and the output serializer."""

    permission_classes = [StaffPermissions]
    staff_permissions = ANALYTICS_PERMISSIONS
    endpoint: str
    selector: Callable[..., list]
    output_serializer: type

    def ranking(self, request) -> Response:
        query = AnalyticsTopQueryInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month, limit = query.validated_month(), query.validated_data["limit"]

        def compute():
            # Through the class: a plain function, not bound as a method.
            rows = type(self).selector(month=month, limit=limit)
            return self.output_serializer({"month": month, "results": rows}).data

        return Response(
            analytics_cached(self.endpoint, {"month": format_month(month), "limit": limit}, compute)
        )


class AnalyticsTopResellersView(_AnalyticsRankingView):
    endpoint = "top-resellers"
    selector = analytics_top_resellers_list
    output_serializer = AnalyticsTopResellersOutputSerializer

    @extend_schema(
        summary=_("Top resellers of a month (staff)"),
        description=_staff_only(
            _(
                "Resellers ranked by the month's total of non-rejected purchases "
                "(highest first, ties by reseller id), with the number of those purchases, the "
                "cashback percent the total reached and the cashback earned. Resellers without "
                "non-rejected purchases in the month are not listed."
            )
        ),
        tags=["analytics"],
        parameters=[AnalyticsTopQueryInputSerializer],
        responses={200: AnalyticsTopResellersOutputSerializer, 400: BAD_QUERY_RESPONSE},
        examples=[
            OpenApiExample(
                "Ranking",
                summary=_("Ranking"),
                value={
                    "month": "2026-03",
                    "results": [
                        {
                            "reseller": {"id": 7, "full_name": "Maria da Silva"},
                            "total_value": "2300.00",
                            "purchase_count": 3,
                            "cashback_percent": "20.00",
                            "cashback_value": "460.00",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return self.ranking(request)


class AnalyticsTopProductsView(_AnalyticsRankingView):
    endpoint = "top-products"
    selector = analytics_top_products_list
    output_serializer = AnalyticsTopProductsOutputSerializer

    @extend_schema(
        summary=_("Best-selling products of a month (staff)"),
        description=_staff_only(
            _(
                "Products ranked by units sold in the month's non-rejected purchases "
                "(ties by value, then product id), with the value of those units at the unit prices "
                "recorded in the purchases. Purchases recorded without items do not count here."
            )
        ),
        tags=["analytics"],
        parameters=[AnalyticsTopQueryInputSerializer],
        responses={200: AnalyticsTopProductsOutputSerializer, 400: BAD_QUERY_RESPONSE},
        examples=[
            OpenApiExample(
                "Ranking",
                summary=_("Ranking"),
                value={
                    "month": "2026-03",
                    "results": [
                        {
                            "product": {"id": 3, "sku": "PERF-001", "name": "Eau de parfum 100 ml"},
                            "quantity": 42,
                            "total_value": "8358.00",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return self.ranking(request)
