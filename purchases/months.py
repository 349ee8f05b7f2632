"""Calendar months, written YYYY-MM in the API."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

INVALID_MONTH_MESSAGE = _("Enter a month as YYYY-MM, from 2000-01 to 9998-12.")
# ASCII digits only ("\d" takes any Unicode digit).
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
FIRST_MONTH = date(2000, 1, 1)
# The month after the last must exist (filters end at "next month"), and a
# range of months ending there must too: year 9999 is left out altogether.
LAST_MONTH = date(9998, 12, 1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def current_month() -> date:
    return month_start(timezone.localdate())


def parse_month(value: str) -> date:
    """'2026-03' -> date(2026, 3, 1); raises ValidationError otherwise."""
    match = _MONTH.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12 or not int(match.group(1)) >= 1:
        raise ValidationError(INVALID_MONTH_MESSAGE, code="invalid_month")
    parsed = date(int(match.group(1)), int(match.group(2)), 1)
    if not FIRST_MONTH <= parsed <= LAST_MONTH:
        raise ValidationError(INVALID_MONTH_MESSAGE, code="invalid_month")
    return parsed


def format_month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def shift_month(month: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``month``."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_span(first: date, last: date) -> int:
    """How many calendar months from ``first`` to ``last``, both included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1
