"""Calendar months, written YYYY-MM in the API."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

INVALID_MONTH_MESSAGE = _("Enter a month as YYYY-MM, from 2000-01 to 9998-12.")
FIRST_MONTH = date(2000, 1, 1)
# The month after the last must exist (filters end at "next month"), and a
# range of months ending there must too: year 9999 is left out altogether.
LAST_MONTH = date(9998, 12, 1)
# The months FIRST_MONTH to LAST_MONTH, written YYYY-MM in ASCII digits ("\d"
# takes any Unicode digit), and nothing around: the schema publishes it.
MONTH_PATTERN = r"^(?:[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(?:0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def current_month() -> date:
    return month_start(timezone.localdate())


def parse_month(value: str) -> date:
    """'2026-03' -> date(2026, 3, 1); raises ValidationError otherwise."""
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise ValidationError(INVALID_MONTH_MESSAGE, code="invalid_month")
    return date(int(value[:4]), int(value[5:7]), 1)


def format_month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def shift_month(month: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``month``."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_span(first: date, last: date) -> int:
    """How many calendar months from ``first`` to ``last``, both included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1
