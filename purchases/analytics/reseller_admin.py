"""The resellers' admin with each reseller's current month: total of
non-rejected purchases, tier reached and cashback earned (from the month
aggregates, MonthlyCashback), and a link to the reseller's purchases.

Resellers come before purchases in the apps' order (core ← accounts ←
resellers ← products ← purchases), so resellers/admin.py knows nothing of
purchases: it defines ResellerAdmin, this module extends it, and
purchases/analytics/admin.py registers the result.
"""

from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db.models import DecimalField, F, FilteredRelation, Q, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import routing
from purchases import cashback
from purchases.admin import RESELLER_PARAMETER, csv_chunks
from purchases.models import MonthlyCashback, format_brl, format_month_name, format_percent
from purchases.months import current_month, format_month, shift_month
from purchases.selectors import cashback_tiers_get, local_ledger_get, month_summary_get
from resellers.admin import ResellerAdmin

_MONEY = DecimalField(max_digits=14, decimal_places=2)
_PERCENT = DecimalField(max_digits=5, decimal_places=2)
HISTORY_MONTHS = 12  # on a reseller's page


@lru_cache(maxsize=16)
def _purchases_changelist(urlconf, script_prefix: str) -> str:
    return reverse("admin:purchases_purchase_changelist", urlconf=urlconf)


def reseller_purchases_url(reseller_id: int) -> str:
    """The purchase changelist showing only this reseller's purchases. The
    changelist's address is reversed once (per URLconf and prefix), not on
    each of a page's hundred rows."""
    changelist = _purchases_changelist(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    return f"{changelist}?{urlencode({RESELLER_PARAMETER: reseller_id})}"


def _starting_percent(month) -> Decimal | None:
    """The percent of a month's total of zero (the first tier), which the
    month's summary shows for resellers who bought nothing yet; None when no
    policy covers the month."""
    try:
        _policy_id, tiers = cashback_tiers_get(month=month)  # cached for begun months
    except ImproperlyConfigured:
        return None
    return cashback.percent_for_total(cashback.ZERO, tiers)


def _cents(value) -> Decimal:
    # Plain decimals with two places (SQLite hands the month's figures back as floats).
    return Decimal(str(value)).quantize(cashback.CENT)


RESELLER_EXPORT_HEADER = (
    _("id"),
    _("name"),
    _("e-mail"),
    _("registered on"),
    _("month total"),
    _("tier"),
    _("month cashback"),
)


class ResellerMonthAdmin(ResellerAdmin):
    actions = ["export_selected"]
    list_display = [
        *ResellerAdmin.list_display,
        "month_total",
        "month_tier",
        "month_cashback",
        "purchases_link",
    ]

    def get_queryset(self, request):
        """The reseller rows joined to their current month's aggregate row
        (at most one: unique per reseller and month), so a page of any size
        is still one query. Resellers without purchases this month have no
        row: zero total and cashback, the first tier."""
        month = current_month()
        starting_percent = _starting_percent(month)
        percent = F("current_month__cashback_percent")
        if starting_percent is not None:
            percent = Coalesce(percent, Value(starting_percent, output_field=_PERCENT))
        return (
            super()
            .get_queryset(request)
            .annotate(
                current_month=FilteredRelation(
                    "monthly_cashback", condition=Q(monthly_cashback__month=month)
                ),
                month_total_value=Coalesce(
                    F("current_month__total_value"), Value(cashback.ZERO, output_field=_MONEY)
                ),
                month_cashback_percent=percent,
                month_cashback_value=Coalesce(
                    F("current_month__cashback_value"), Value(cashback.ZERO, output_field=_MONEY)
                ),
            )
        )

    @admin.display(description=_("month total"), ordering="month_total_value")
    def month_total(self, reseller):
        return format_brl(reseller.month_total_value)

    @admin.display(description=_("tier"), ordering="month_cashback_percent")
    def month_tier(self, reseller):
        if reseller.month_cashback_percent is None:
            return self.get_empty_value_display()
        return format_percent(reseller.month_cashback_percent)

    @admin.display(description=_("month cashback"), ordering="month_cashback_value")
    def month_cashback(self, reseller):
        return format_brl(reseller.month_cashback_value)

    @admin.display(description=_("purchases"))
    def purchases_link(self, reseller):
        return format_html(
            '<a href="{}">{}</a>', reseller_purchases_url(reseller.pk), gettext("See purchases")
        )

    @admin.display(description=_("current month"))
    def month_summary(self, reseller):
        summary = month_summary_get(reseller=reseller, month=current_month())
        text = gettext(
            "%(month)s — total: %(total)s; purchases in validation or approved: %(count)s; "
            "tier: %(percent)s; cashback: %(cashback)s."
        ) % {
            "month": format_month_name(summary.month),
            "total": format_brl(summary.total_value),
            "count": summary.purchase_count,
            "percent": format_percent(summary.cashback_percent),
            "cashback": format_brl(summary.cashback_value),
        }
        if summary.next_tier is not None:
            text += " " + gettext("%(missing)s more this month reach the %(percent)s tier.") % {
                "missing": format_brl(summary.next_tier.missing),
                "percent": format_percent(summary.next_tier.percent),
            }
        return text

    @admin.action(description=_("Export selected resellers as CSV"), permissions=["view"])
    def export_selected(self, request, queryset):
        """The selected resellers (every one of the list with "select all")
        as CSV, streamed, with their current month; never their CPF (LGPD: a
        spreadsheet travels further than the back office). Text cells that a
        spreadsheet would run as a formula are neutralised."""
        header = [capfirst(str(title)) for title in RESELLER_EXPORT_HEADER]
        rows = queryset.order_by("pk").values_list(
            "pk",
            "user__full_name",
            "user__email",
            "created_at",
            "month_total_value",
            "month_cashback_percent",
            "month_cashback_value",
        )

        def lines():
            # In a transaction (routing.stream): streamed, also behind a
            # transaction pooler.
            for pk, name, email, created_at, total, percent, cashback_value in routing.stream(
                rows, chunk_size=2000
            ):
                yield (
                    pk,
                    name,
                    email,
                    timezone.localdate(created_at).isoformat(),
                    _cents(total),
                    "" if percent is None else _cents(percent),
                    _cents(cashback_value),
                )

        filename = gettext("resellers-%(date)s.csv") % {"date": timezone.localdate().isoformat()}
        response = StreamingHttpResponse(csv_chunks(header, lines()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.display(description=_("last 12 months"))
    def months_history(self, reseller):
        """The reseller's last twelve months, newest first, from the month
        aggregates (one row per month with purchases that count): total,
        purchases, tier and cashback, each month linking to its purchases."""
        last = current_month()
        first = shift_month(last, -(HISTORY_MONTHS - 1))
        rows = {
            row.month: row
            for row in MonthlyCashback.objects.filter(reseller=reseller, month__range=(first, last)).only(
                "month", "total_value", "purchase_count", "cashback_percent", "cashback_value"
            )
        }
        lines = []
        for offset in range(HISTORY_MONTHS):
            month = shift_month(last, -offset)
            row = rows.get(month)
            url = f"{reseller_purchases_url(reseller.pk)}&{urlencode({'month': format_month(month)})}"
            lines.append(
                (
                    url,
                    format_month_name(month),
                    format_brl(row.total_value if row else cashback.ZERO),
                    row.purchase_count if row else 0,
                    format_percent(row.cashback_percent) if row else "—",
                    format_brl(row.cashback_value if row else cashback.ZERO),
                )
            )
        header = format_html(
            "<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
            gettext("Month"),
            gettext("Total"),
            gettext("Purchases"),
            gettext("Tier"),
            gettext("Cashback"),
        )
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td class="reseller-figure">{}</td>'
            '<td class="reseller-figure">{}</td><td class="reseller-figure">{}</td>'
            '<td class="reseller-figure">{}</td></tr>',
            lines,
        )
        return format_html('<table class="reseller-months">{}<tbody>{}</tbody></table>', header, body)

    @admin.display(description=_("accumulated cashback"))
    def accumulated_cashback(self, reseller):
        """The cashback of the reseller's approved purchases (the local
        ledger the API's accumulated cashback falls back to)."""
        return format_brl(local_ledger_get(reseller=reseller))

    _page_fields = ["month_summary", "purchases_link", "accumulated_cashback", "months_history"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [*fields, *self._page_fields] if obj else fields

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return [*fields, *self._page_fields] if obj else fields

    def changelist_view(self, request, extra_context=None):
        # Which month the month columns show, under the title.
        subtitle = gettext("Total, tier and cashback of the current month: %(month)s.") % {
            "month": format_month_name(current_month())
        }
        return super().changelist_view(request, {"subtitle": subtitle, **(extra_context or {})})
