"""Recompute the analytics figures (MonthTotals, MonthTierResellers,
ProductMonthSales, DayCounts, and CodeCounts when all months are rebuilt)
from the purchase rows, for one month or all of them. The purchase services
keep the figures exact on every write; this puts them right after rows
were written around the services (a restore, a hand-made SQL fix) and is
what a periodic job runs. ``--check`` only compares, writing nothing, and
exits with status 1 when a figure differs."""

import argparse
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from purchases.analytics.services import analytics_figures_differences, analytics_figures_rebuild
from purchases.months import format_month, parse_month


def month_argument(value: str):
    try:
        return parse_month(value)
    except ValidationError as error:
        raise argparse.ArgumentTypeError(" ".join(error.messages)) from error


class Command(BaseCommand):
    help = (
        "Recompute the analytics figures (per month, per month and tier, per product and month, per "
        "day, and per code when every month is rebuilt) from the purchase rows: every month, or one "
        "with --month YYYY-MM. With --check, only report the "
        "figures that differ (exit status 1 if any)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", type=month_argument, help="Only this month, YYYY-MM.")
        parser.add_argument("--check", action="store_true", help="Compare only; write nothing.")

    def handle(self, *args, month=None, check=False, **options):
        started = time.perf_counter()
        scope = f"month {format_month(month)}" if month else "every month"
        if check:
            differences = analytics_figures_differences(month=month)
            for day in differences.months:
                self.stdout.write(f"month {format_month(day)}: the totals differ")
            for day, percent in differences.tiers:
                self.stdout.write(f"month {format_month(day)}, tier {percent}%: the resellers differ")
            for product_id, day in differences.product_months:
                self.stdout.write(f"product {product_id}, month {format_month(day)}: the sales differ")
            for day in differences.days:
                self.stdout.write(f"day {day.isoformat()}: the counts differ")
            for code in differences.codes:
                self.stdout.write(f"code {code}: the count differs")
            if differences:
                raise CommandError(
                    f"{len(differences.months)} month(s), {len(differences.tiers)} tier(s), "
                    f"{len(differences.product_months)} product-month(s), {len(differences.days)} day(s) "
                    f"and {len(differences.codes)} code(s) differ from the purchase rows: "
                    "run rebuild_analytics."
                )
            self.stdout.write(self.style.SUCCESS(f"The figures of {scope} equal the purchase rows."))
            return
        result = analytics_figures_rebuild(month=month)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt the figures of {scope}: {result.months} month row(s), {result.tiers} tier row(s), "
                f"{result.product_months} product-month row(s), {result.days} day row(s)"
                + ("" if result.codes is None else f", {result.codes} code row(s)")
                + f" in {time.perf_counter() - started:.1f} s."
            )
        )
