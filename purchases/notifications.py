"""E-mail to resellers about their purchases' reviews.

A reseller hears of a review once, after it commits, through the outbox
(core.mail): a single review (the purchase's page, the API) sends one
message about that purchase; a bulk review sends each reseller one message
summing up their purchases in it, never one per purchase. Messages are in
Portuguese (resellers have no language of their own on file), name the
purchases by code, date and value, carry the rejection's reason, and never
the CPF. They link nowhere: resellers have no page of theirs to open.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.utils import formats, translation
from django.utils.formats import number_format

from core.mail import email_message, email_queue
from purchases.models import Purchase, format_brl
from resellers.models import Reseller

RESELLER_LANGUAGE = "pt-br"
TEMPLATE = "purchases/email/purchases_reviewed"
# A summary lists this many of the reseller's purchases, then "and N more".
SHOWN_PURCHASES = 20
# Purchases read per query while summing up a bulk review.
READ_BATCH = 2000


def purchase_reviewed_notify(*, purchase: Purchase) -> None:
    """Tell the reseller that ``purchase`` (just reviewed, in this
    transaction) was approved or rejected, and why; once, after the commit."""
    recipients = _recipients([purchase.reseller_id])
    if purchase.reseller_id not in recipients:
        return
    summary = _Summary()
    summary.add(purchase.code, purchase.date, purchase.value)
    _queue(
        recipients[purchase.reseller_id],
        summary,
        approved=purchase.status == Purchase.Status.APPROVED,
        reason=purchase.rejection_reason,
        key=f"purchase-review:{purchase.pk}",
    )


def purchases_reviewed_notify(
    *, reviewed: Iterable[tuple[int, int]], approved: bool, reason: str, key: str
) -> int:
    """One message per reseller about their purchases among ``reviewed``
    ((purchase id, reseller id) pairs, all approved, or all rejected for
    ``reason``), keyed ``{key}:reseller:{reseller id}``; returns how many
    were queued. Resellers are handled a few thousand purchases at a time,
    so a review of any size is summed up in bounded memory."""
    by_reseller: dict[int, list[int]] = defaultdict(list)
    for purchase_id, reseller_id in reviewed:
        by_reseller[reseller_id].append(purchase_id)
    queued = 0
    for group in _reseller_groups(by_reseller):
        recipients = _recipients(group)
        ids = sorted(purchase_id for reseller_id in group for purchase_id in by_reseller[reseller_id])
        summaries: dict[int, _Summary] = defaultdict(_Summary)
        for start in range(0, len(ids), READ_BATCH):
            rows = (
                Purchase.objects.filter(pk__in=ids[start : start + READ_BATCH])
                .order_by("pk")
                .values_list("reseller_id", "code", "date", "value")
            )
            for reseller_id, code, day, value in rows:
                summaries[reseller_id].add(code, day, value)
        for reseller_id in group:
            if reseller_id in recipients and reseller_id in summaries:
                _queue(
                    recipients[reseller_id],
                    summaries[reseller_id],
                    approved=approved,
                    reason=reason,
                    key=f"{key}:reseller:{reseller_id}",
                )
                queued += 1
    return queued


class _Summary:
    """A reseller's purchases in one message: how many, their total, and
    the first few."""

    def __init__(self):
        self.count = 0
        self.total = Decimal("0.00")
        self.shown = []

    def add(self, code, day, value) -> None:
        self.count += 1
        self.total += value
        if len(self.shown) < SHOWN_PURCHASES:
            self.shown.append((code, day, value))


def _reseller_groups(by_reseller: dict[int, list[int]]) -> Iterator[list[int]]:
    group, size = [], 0
    for reseller_id in sorted(by_reseller):
        group.append(reseller_id)
        size += len(by_reseller[reseller_id])
        if size >= READ_BATCH:
            yield group
            group, size = [], 0
    if group:
        yield group


def _recipients(reseller_ids: list[int]) -> dict[int, tuple[int, str, str]]:
    """Reseller id -> (user id, e-mail, name) of the active accounts."""
    rows = Reseller.objects.filter(pk__in=reseller_ids, user__is_active=True).values_list(
        "pk", "user_id", "user__email", "user__full_name"
    )
    return {pk: (user_id, email, name) for pk, user_id, email, name in rows}


def _queue(recipient: tuple[int, str, str], summary: _Summary, *, approved: bool, reason: str, key: str):
    user_id, email, full_name = recipient
    with translation.override(RESELLER_LANGUAGE):
        context = {
            "name": full_name.split(" ")[0] if full_name else "",
            "approved": approved,
            "reason": reason if not approved else "",
            "count": summary.count,
            "count_text": number_format(summary.count, force_grouping=True),
            "total": format_brl(summary.total),
            "purchases": [
                {
                    "code": code,
                    "date": formats.date_format(day, "SHORT_DATE_FORMAT"),
                    "value": format_brl(value),
                }
                for code, day, value in summary.shown
            ],
            "more": summary.count - len(summary.shown),
            "more_text": number_format(summary.count - len(summary.shown), force_grouping=True),
        }
        message = email_message(TEMPLATE, context, to=email)
    email_queue(message, key=key, user_id=user_id)
