"""The admin's cashback analytics page (``/admin/analytics/``) and its CSV
download, registered with the admin site (core.admin.AdminSite.register_view);
and the resellers' admin with their current month (reseller_admin.py).

The chart is drawn on the server as inline SVG (no JavaScript, nothing
fetched from elsewhere): this module computes every coordinate and every
label, the template only places them.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats
from django.utils.dateformat import format as format_date
from django.utils.http import urlencode
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from core.routing import replica_view
from core.spreadsheet import spreadsheet_writer
from purchases.admin import RESELLER_PARAMETER
from purchases.analytics.reseller_admin import ResellerMonthAdmin
from purchases.analytics.selectors import (
    MonthFigures,
    analytics_cached,
    analytics_monthly_list,
    analytics_pending_count,
    analytics_tier_mix_list,
    analytics_top_resellers_list,
)
from purchases.models import ANALYTICS_PERMISSION, Purchase, format_brl, format_month_name, format_percent
from purchases.months import FIRST_MONTH, current_month, format_month, month_span, parse_month, shift_month
from resellers.models import Reseller

PAGE_TITLE = _("Cashback analytics")
DEFAULT_MONTHS = 12
# A bar pair per month stays readable on a 1366 px screen up to three years.
MAX_MONTHS = 36
RANGE_ORDER_MESSAGE = _("The first month must not be after the last month.")
RANGE_TOO_LONG_MESSAGE = _("Choose at most %(months)s months.")
MONTH_INPUT_HELP = _("YYYY-MM")

# The drawing area, in SVG user units (the SVG scales to the page width).
WIDTH, HEIGHT = 960, 360
RIGHT, TOP, BOTTOM = 16, 44, 48
TICK_CHAR_WIDTH = 7.2  # per character of a 12 px tick label, generously


# --- The period ----------------------------------------------------------------


class MonthInput(forms.TextInput):
    """``<input type="month">``: browsers show a month picker and send YYYY-MM
    (those without one show a text box for YYYY-MM)."""

    input_type = "month"


class AnalyticsPeriodForm(forms.Form):
    """?from=YYYY-MM&to=YYYY-MM, both optional: ``to`` defaults to the current
    month, ``from`` to eleven months before ``to``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the fields cannot be class attributes.
        for name, label in (
            ("from", pgettext_lazy("analytics period", "From")),
            ("to", pgettext_lazy("analytics period", "To")),
        ):
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                max_length=7,
                widget=MonthInput(attrs={"placeholder": MONTH_INPUT_HELP}),
            )

    def _clean_month(self, name: str) -> date | None:
        value = self.cleaned_data[name]
        return parse_month(value) if value else None

    def clean_from(self):
        return self._clean_month("from")

    def clean_to(self):
        return self._clean_month("to")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        last = cleaned.get("to") or current_month()
        first = cleaned.get("from") or default_first_month(last)
        if first > last:
            raise ValidationError(RANGE_ORDER_MESSAGE, code="invalid_range")
        if month_span(first, last) > MAX_MONTHS:
            raise ValidationError(RANGE_TOO_LONG_MESSAGE % {"months": MAX_MONTHS}, code="range_too_long")
        return {"from": first, "to": last}


def default_first_month(last: date) -> date:
    return max(shift_month(last, -(DEFAULT_MONTHS - 1)), FIRST_MONTH)


def _period_form(request) -> AnalyticsPeriodForm:
    # Without parameters, the default period, written in the pickers.
    last = current_month()
    default = {"from": format_month(default_first_month(last)), "to": format_month(last)}
    return AnalyticsPeriodForm(request.GET or default)


def _period(form: AnalyticsPeriodForm) -> tuple[date, date] | None:
    if not form.is_valid():
        return None
    return form.cleaned_data["from"], form.cleaned_data["to"]


def monthly_rows(first: date, last: date) -> list[MonthFigures]:
    """The period's months from the analytics selector, cached like the API's
    answers (and dropped with them on every purchase write)."""
    return analytics_cached(
        "admin-monthly",
        {"from": format_month(first), "to": format_month(last)},
        lambda: analytics_monthly_list(from_month=first, to_month=last),
    )


# --- The chart -----------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    title: str


@dataclass(frozen=True)
class ChartMonth:
    label: str  # "" where the axis skips a label (long periods)
    year: str  # under the first named month of each year only
    x: str  # centre of the month's slot
    value_bar: Bar
    cashback_bar: Bar


@dataclass(frozen=True)
class Tick:
    y: str
    label: str


def money(value: Decimal) -> str:
    """1234.5 -> "1,234.50" / "1.234,50", as the active language writes it."""
    return formats.number_format(value, 2, use_l10n=True, force_grouping=True)


def count(value: int) -> str:
    """41666 -> "41,666" / "41.666"."""
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def _coordinate(value: float) -> str:
    # Plain dots whatever the language: these go into SVG attributes.
    return f"{value:.1f}"


# Round steps between two axis ticks: 1, 2, 2.5 and 5 times a power of ten.
_STEP_MANTISSAS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
_MIN_INTERVALS, _MAX_INTERVALS = 3, 6
# The scale of a chart with nothing to show.
EMPTY_SCALE = (Decimal(1000), 4)


def axis_scale(largest: Decimal) -> tuple[Decimal, int]:
    """(top, intervals) of the value axis: ``top`` is the lowest round number
    at or above ``largest`` that 3 to 6 equal round steps reach, so the
    tallest bar fills most of the plot (1,234.56 -> 1,250 in 5 steps of 250;
    7,400 -> 7,500 in 3 of 2,500; 2,000 -> 2,000 in 4 of 500). Whole reais:
    the steps are at least 1."""
    if largest <= 0:
        return EMPTY_SCALE
    largest = max(largest, Decimal(_MIN_INTERVALS))
    best: tuple[Decimal, int] | None = None
    for exponent in range(largest.adjusted() + 1):
        for mantissa in _STEP_MANTISSAS:
            step = mantissa * Decimal(10) ** exponent
            if step != step.to_integral_value():
                continue
            intervals = int((largest / step).to_integral_value(rounding=ROUND_CEILING))
            if _MIN_INTERVALS <= intervals <= _MAX_INTERVALS:
                candidate = (step * intervals, intervals)
                if best is None or candidate < best:
                    best = candidate
    # Some step always fits (2 x 10^n covers what 10^n leaves out); the
    # fallback only keeps the function total.
    return best or (Decimal(10) ** (largest.adjusted() + 1), 5)


def build_chart(rows: list[MonthFigures]) -> dict:
    """Geometry and labels of the bar chart: per month one bar for the value
    of the non-rejected purchases and one for their cashback, on one scale
    whose axis is labelled in R$."""
    top_value, intervals = axis_scale(max((row.total_value for row in rows), default=Decimal(0)))
    tick_labels = [
        "R$ " + formats.number_format(top_value * step / intervals, 0, use_l10n=True, force_grouping=True)
        for step in range(intervals + 1)
    ]
    left = round(16 + TICK_CHAR_WIDTH * max(len(label) for label in tick_labels))
    plot_width, plot_height = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = plot_width / max(len(rows), 1)
    bar_width = slot * 0.36
    # Every month named up to 12 months; beyond, every 2nd or 3rd.
    label_every = -(-len(rows) // 12) if rows else 1

    def bar(x: float, amount: Decimal, title: str) -> Bar:
        height = float(amount / top_value) * plot_height
        return Bar(
            x=_coordinate(x),
            y=_coordinate(baseline - height),
            width=_coordinate(bar_width),
            height=_coordinate(height),
            title=title,
        )

    months = []
    year_shown = None
    for index, row in enumerate(rows):
        centre = left + slot * (index + 0.5)
        name = format_month_name(row.month)
        labelled = index % label_every == 0
        # The year under the first named month of each year.
        new_year = labelled and row.month.year != year_shown
        if new_year:
            year_shown = row.month.year
        months.append(
            ChartMonth(
                label=format_date(row.month, "M") if labelled else "",
                year=format_date(row.month, "Y") if new_year else "",
                x=_coordinate(centre),
                value_bar=bar(
                    centre - bar_width - 1,
                    row.total_value,
                    f"{name} — {gettext('Purchase value')}: {format_brl(row.total_value)}"
                    f" · {gettext('Purchases')}: {row.purchase_count}",
                ),
                cashback_bar=bar(
                    centre + 1,
                    row.cashback_value,
                    f"{name} — {gettext('Cashback')}: {format_brl(row.cashback_value)}",
                ),
            )
        )
    ticks = [
        Tick(y=_coordinate(baseline - plot_height * step / intervals), label=label)
        for step, label in enumerate(tick_labels)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": left,
        "right": WIDTH - RIGHT,
        "baseline": _coordinate(baseline),
        "label_y": _coordinate(baseline + 18),
        "year_y": _coordinate(baseline + 34),
        "tick_x": left - 8,
        "legend_y": TOP - 24,
        "months": months,
        "ticks": ticks,
        "empty": all(row.total_value == 0 for row in rows),
    }


# --- The views -----------------------------------------------------------------


def analytics_view(request):
    form = _period_form(request)
    period = _period(form)
    context = {
        **admin.site.each_context(request),
        "title": PAGE_TITLE,
        "form": form,
    }
    if period is not None:
        first, last = period
        rows = monthly_rows(first, last)
        query = urlencode({"from": format_month(first), "to": format_month(last)})
        context |= {
            "first": format_month_name(first),
            "last": format_month_name(last),
            "chart": build_chart(rows),
            "table": [
                {
                    "month": format_month_name(row.month),
                    "purchase_count": count(row.purchase_count),
                    "total_value": money(row.total_value),
                    "cashback_value": money(row.cashback_value),
                }
                for row in rows
            ],
            "totals": {
                "purchase_count": count(sum(row.purchase_count for row in rows)),
                "total_value": money(sum((row.total_value for row in rows), Decimal(0))),
                "cashback_value": money(sum((row.cashback_value for row in rows), Decimal(0))),
            },
            "csv_url": f"{reverse('admin:analytics_csv')}?{query}",
        }
    return TemplateResponse(request, "admin/purchases/analytics.html", context)


def analytics_csv_view(request):
    """The page's table as CSV: a header row in the page's language, then one
    row per month with the month as YYYY-MM and plain decimals (1234.56), for
    spreadsheets and scripts alike. UTF-8 with a byte order mark, which
    spreadsheet programs need to read accents."""
    form = _period_form(request)
    period = _period(form)
    if period is None:
        # A hand-made address: the page shows what is wrong with it.
        return HttpResponseRedirect(f"{reverse('admin:analytics')}?{request.GET.urlencode()}")
    first, last = period
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="cashback-{format_month(first)}-{format_month(last)}.csv"'
    )
    response.write("\ufeff")
    writer = spreadsheet_writer(response)
    writer.writerow(
        [gettext("Month"), gettext("Purchases"), gettext("Purchase value (R$)"), gettext("Cashback (R$)")]
    )
    for row in monthly_rows(first, last):
        writer.writerow([format_month(row.month), row.purchase_count, row.total_value, row.cashback_value])
    return response


# Staff with the analytics permission, the API's analytics routes' (the site
# wraps them in admin_view: others go to the admin login; staff without it
# get a 403 and no link).
# Both read from a replica when there are any (core.routing).
admin.site.register_view(
    "analytics/",
    replica_view(analytics_view),
    name="analytics",
    title=PAGE_TITLE,
    permission=ANALYTICS_PERMISSION,
)
admin.site.register_view(
    "analytics/csv/",
    replica_view(analytics_csv_view),
    name="analytics_csv",
    title=None,
    permission=ANALYTICS_PERMISSION,
)

VIEW_PURCHASE_PERMISSION = "purchases.view_purchase"

# --- The admin's home page ------------------------------------------------------

TOP_RESELLERS_ON_HOME = 5


def _changelist(**params) -> str:
    return f"{reverse('admin:purchases_purchase_changelist')}?{urlencode(params)}"


def pending_panel(request) -> dict:
    """What waits for a review, linking to that list. Cached until the next
    purchase write (the analytics namespace's version)."""
    pending = analytics_cached("admin-home-pending", {}, analytics_pending_count)
    return {
        "pending_count": pending,
        "pending_display": count(pending),
        "pending_url": _changelist(status__exact=Purchase.Status.VALIDATING),
    }


def month_panel(request) -> dict:
    """The current month: its totals (non-rejected purchases), how many
    resellers reached each tier and the top resellers by value, each linking
    to their purchases of the month. Read from the month aggregates
    (MonthlyCashback, one row per reseller and month), cached like the
    API's analytics."""
    month = current_month()

    def compute():
        return {
            "totals": analytics_monthly_list(from_month=month, to_month=month)[0],
            "tiers": analytics_tier_mix_list(month=month),
            "top": analytics_top_resellers_list(month=month, limit=TOP_RESELLERS_ON_HOME),
        }

    figures = analytics_cached("admin-home-month", {"month": format_month(month)}, compute)
    totals = figures["totals"]
    return {
        "month_name": format_month_name(month),
        "purchase_count": count(totals.purchase_count),
        "total_value": format_brl(totals.total_value),
        "cashback_value": format_brl(totals.cashback_value),
        "month_url": _changelist(month=format_month(month)),
        "tiers": [
            {"percent": format_percent(tier.percent), "resellers": count(tier.resellers)}
            for tier in figures["tiers"]
        ],
        "top": [
            {
                "name": row.reseller.full_name,
                "total_value": format_brl(row.total_value),
                "cashback_value": format_brl(row.cashback_value),
                "percent": format_percent(row.cashback_percent),
                "url": _changelist(**{RESELLER_PARAMETER: row.reseller.id, "month": format_month(month)}),
            }
            for row in figures["top"]
        ],
        "analytics_url": reverse("admin:analytics"),
    }


admin.site.register_index_panel(
    pending_panel, template="admin/purchases/home_pending.html", permission=VIEW_PURCHASE_PERMISSION
)
admin.site.register_index_panel(
    month_panel, template="admin/purchases/home_month.html", permission=ANALYTICS_PERMISSION
)

# The resellers' list and page with their current month (see reseller_admin).
admin.site.register(Reseller, ResellerMonthAdmin)
