"""The admin's cashback analytics page (``/admin/analytics/``), registered
with the admin site (config.admin.AdminSite.register_view).

The chart is drawn on the server as inline SVG (no JavaScript, nothing
fetched from elsewhere): this module computes every coordinate and every
label, the template only places them.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import formats
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext_lazy as _

from purchases.analytics.selectors import MonthFigures, analytics_monthly_list
from purchases.months import current_month, shift_month

CHART_MONTHS = 12
PAGE_TITLE = _("Cashback analytics")

# The drawing area, in SVG user units (the SVG scales to the page width).
WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 88, 16, 44, 48
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    title: str


@dataclass(frozen=True)
class ChartMonth:
    label: str
    year: str
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


def _coordinate(value: float) -> str:
    # Plain dots whatever the language: these go into SVG attributes.
    return f"{value:.1f}"


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above value (1 for zero), so
    that the axis ticks are round numbers."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (value.adjusted())
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def build_chart(rows: list[MonthFigures]) -> dict:
    """Geometry and labels of the bar chart: per month one bar for the value
    of the non-rejected purchases and one for their cashback, on one scale."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    top_value = _nice_ceiling(max((row.total_value for row in rows), default=Decimal(0)))
    slot = plot_width / max(len(rows), 1)
    bar_width = slot * 0.36

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
    for index, row in enumerate(rows):  # twelve slots, not database rows
        centre = LEFT + slot * (index + 0.5)
        label = format_date(row.month, "M Y")
        months.append(
            ChartMonth(
                label=format_date(row.month, "M"),
                year=format_date(row.month, "Y"),
                x=_coordinate(centre),
                value_bar=bar(
                    centre - bar_width - 1,
                    row.total_value,
                    f"{label} — {_('Purchase value')}: R$ {money(row.total_value)}"
                    f" · {_('Purchases')}: {row.purchase_count}",
                ),
                cashback_bar=bar(
                    centre + 1,
                    row.cashback_value,
                    f"{label} — {_('Cashback')}: R$ {money(row.cashback_value)}",
                ),
            )
        )
    ticks = [
        Tick(
            y=_coordinate(baseline - plot_height * step / TICKS),
            label=formats.number_format(top_value * step / TICKS, 0, use_l10n=True, force_grouping=True),
        )
        for step in range(TICKS + 1)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": _coordinate(baseline),
        "label_y": _coordinate(baseline + 18),
        "year_y": _coordinate(baseline + 34),
        "tick_x": LEFT - 8,
        "legend_y": TOP - 24,
        "months": months,
        "ticks": ticks,
        "empty": all(row.total_value == 0 for row in rows),
    }


def analytics_view(request):
    last = current_month()
    first = shift_month(last, -(CHART_MONTHS - 1))
    rows = analytics_monthly_list(from_month=first, to_month=last)
    table = [
        {
            "month": row.month,
            "purchase_count": row.purchase_count,
            "total_value": money(row.total_value),
            "cashback_value": money(row.cashback_value),
        }
        for row in rows
    ]
    totals = {
        "purchase_count": sum(row.purchase_count for row in rows),
        "total_value": money(sum((row.total_value for row in rows), Decimal(0))),
        "cashback_value": money(sum((row.cashback_value for row in rows), Decimal(0))),
    }
    context = {
        **admin.site.each_context(request),
        "title": PAGE_TITLE,
        "chart": build_chart(rows),
        "table": table,
        "totals": totals,
        "first": first,
        "last": last,
    }
    return TemplateResponse(request, "admin/purchases/analytics.html", context)


# Staff only (the site wraps it in admin_view: others go to the admin login).
admin.site.register_view("analytics/", analytics_view, name="analytics", title=PAGE_TITLE)
