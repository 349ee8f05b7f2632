"""The cashback rule, pure: tiers in, percent and amount out. No ORM.

A month's percentage is set by the reseller's total of non-rejected purchases
in that calendar month: the first tier whose ``up_to`` the total does not
exceed applies (``up_to=None`` is the open-ended last tier). With the default
tiers: total <= 1,000.00 -> 10 %, <= 1,500.00 -> 15 %, above -> 20 %.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import NamedTuple

from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound of the month's total; None = no bound
    percent: Decimal


@dataclass(frozen=True)
class NextTier:
    percent: Decimal
    threshold: Decimal  # the month's total must exceed this
    missing: Decimal  # the smallest amount that still has to be bought to get there


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(up_to=Decimal("1000.00"), percent=Decimal("10.00")),
    Tier(up_to=Decimal("1500.00"), percent=Decimal("15.00")),
    Tier(up_to=None, percent=Decimal("20.00")),
)


TIERS_EMPTY_MESSAGE = _("A cashback policy needs at least one tier.")
TIERS_OPEN_ENDED_MESSAGE = _("Exactly one tier, the last, must have no upper bound.")
TIERS_BOUNDS_MESSAGE = _("Tier bounds must be positive and strictly increasing.")
TIERS_PERCENT_RANGE_MESSAGE = _("Percentages must be between 0 and 100.")
TIERS_DECREASING_MESSAGE = _(
    "Percentages must not decrease as the totals rise: each tier pays at least as much as the one below it."
)


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Tiers must be sorted by bound, strictly increasing, with exactly one
    open-ended tier, last; percentages between 0 and 100, never lower than
    the tier below (buying more never earns a smaller percentage). The
    ValueError's message is one of the translatable constants above."""
    if not tiers:
        raise ValueError(TIERS_EMPTY_MESSAGE)
    if tiers[-1].up_to is not None or any(tier.up_to is None for tier in tiers[:-1]):
        raise ValueError(TIERS_OPEN_ENDED_MESSAGE)
    bounds = [tier.up_to for tier in tiers[:-1]]
    if any(bound <= 0 for bound in bounds) or bounds != sorted(set(bounds)):
        raise ValueError(TIERS_BOUNDS_MESSAGE)
    if any(not (0 <= tier.percent <= 100) for tier in tiers):
        raise ValueError(TIERS_PERCENT_RANGE_MESSAGE)
    if any(higher.percent < lower.percent for lower, higher in pairwise(tiers)):
        raise ValueError(TIERS_DECREASING_MESSAGE)


def percent_for_total(total: Decimal, tiers: Sequence[Tier]) -> Decimal:
    for tier in tiers:
        if tier.up_to is None or total <= tier.up_to:
            return tier.percent
    raise ValueError("The tiers have no open-ended last tier.")


def cashback_amount(value: Decimal, percent: Decimal) -> Decimal:
    """value x percent / 100, rounded to cents half-up."""
    return (value * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def next_tier(total: Decimal, tiers: Sequence[Tier]) -> NextTier | None:
    """The next better tier and how much is missing to reach it, or None at the top."""
    for index, tier in enumerate(tiers):
        if tier.up_to is None or total <= tier.up_to:
            if tier.up_to is None:
                return None
            following = tiers[index + 1]
            return NextTier(
                percent=following.percent,
                threshold=tier.up_to,
                missing=(tier.up_to - total + CENT).quantize(CENT),
            )
    return None


class MonthPurchase(NamedTuple):
    """What the rule needs of one purchase of the month."""

    value: Decimal
    rejected: bool


class Share(NamedTuple):
    """One purchase's cashback."""

    percent: Decimal
    value: Decimal


NO_SHARE = Share(ZERO, ZERO)


@dataclass(frozen=True)
class MonthCashback:
    """A reseller-month: its non-rejected total and count, the percent that
    total reached, the cashback it earns, and each purchase's share (in the
    order the purchases were given). ``purchase_count == 0`` means nothing
    counts: no tier, every share zero."""

    total_value: Decimal
    purchase_count: int
    percent: Decimal
    cashback_value: Decimal
    shares: tuple[Share, ...]


def month_cashback(purchases: Sequence[MonthPurchase], tiers: Sequence[Tier]) -> MonthCashback:
    """The whole rule for one reseller-month: the total of the non-rejected
    purchases sets the percent, every non-rejected purchase gets it, rejected
    ones get zero. ``tiers`` is not read when nothing counts (so a caller may
    skip loading a policy then). Used by the services and by the seed alike."""
    counted = [purchase.value for purchase in purchases if not purchase.rejected]
    if not counted:
        return MonthCashback(ZERO, 0, ZERO, ZERO, tuple(NO_SHARE for _ in purchases))
    total = sum(counted, ZERO)
    percent = percent_for_total(total, tiers)
    shares = tuple(
        NO_SHARE if purchase.rejected else Share(percent, cashback_amount(purchase.value, percent))
        for purchase in purchases
    )
    return MonthCashback(
        total_value=total,
        purchase_count=len(counted),
        percent=percent,
        cashback_value=sum((share.value for share in shares), ZERO),
        shares=shares,
    )


def month_cashback_add(month: MonthCashback, value: Decimal, tiers: Sequence[Tier]) -> MonthCashback | None:
    """``month`` with one more non-rejected purchase of ``value``, its share
    the only one in ``shares``; or None when the purchase moves the month to
    another tier, which changes every purchase's share (recompute the month
    with ``month_cashback`` then). Equal to ``month_cashback`` over all the
    month's purchases whenever it answers, since shares depend only on the
    percent; it spares reading the month to record a purchase."""
    if month.purchase_count == 0:
        return None
    total = month.total_value + value
    percent = percent_for_total(total, tiers)
    if percent != month.percent:
        return None
    share = Share(percent, cashback_amount(value, percent))
    return MonthCashback(
        total_value=total,
        purchase_count=month.purchase_count + 1,
        percent=percent,
        cashback_value=month.cashback_value + share.value,
        shares=(share,),
    )
