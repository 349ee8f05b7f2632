"""Every write to purchases, and the one place their cashback is stored.

Locking order, the same in every function that takes more than one lock:
the reseller row first, then the purchase row; several of either in id
order (a bulk review). Holding the reseller's lock serialises all writes to
that reseller's purchases, so the month totals that set the cashback tiers
are always computed from committed, current data. Last of all, at the end
of the outermost write, the analytics figures' rows
(purchases.analytics.services: each write records what it changes, and the
sum is applied as increments in one global order).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import User
from core import cache
from core.exceptions import ConflictError
from products.models import Product
from purchases import cashback, notifications
from purchases.analytics.services import PurchaseFigures, current_figures_change, figures_maintained
from purchases.models import MAX_PURCHASE_VALUE, MonthlyCashback, Purchase, PurchaseItem
from purchases.months import month_start, next_month
from purchases.selectors import (
    cashback_tiers_get,
)
from resellers.models import Reseller
from resellers.selectors import reseller_is_auto_approved

NOT_EDITABLE_MESSAGE = _(
    "This purchase can no longer be changed: only purchases in validation can be edited or deleted."
)
ALREADY_REVIEWED_MESSAGE = _(
    "This purchase was already reviewed: only purchases in validation can be approved or rejected."
)
CODE_TAKEN_MESSAGE = _("You already have a purchase with this code.")
VALUE_REQUIRED_MESSAGE = _("Send the value, or items to compute it from.")
VALUE_MISMATCH_MESSAGE = _("The value must equal the sum of the items (%(total)s).")
VALUE_TOO_HIGH_MESSAGE = _("The items add up to more than 1,000,000.00.")
INACTIVE_PRODUCT_MESSAGE = _("Product %(product)s is not available.")
DUPLICATE_PRODUCT_MESSAGE = _("Each product may appear only once; adjust the quantity instead.")
REASON_REQUIRED_MESSAGE = _("A reason is required to reject a purchase.")
# A review's line in the admin's history ("Histórico", "Ações recentes").
APPROVED_HISTORY_MESSAGE = pgettext_lazy("admin history", "Approved")
REJECTED_HISTORY_MESSAGE = pgettext_lazy("admin history", "Rejected: %(reason)s")

# Analytics answers are cached under this namespace (core.cache).


@dataclass(frozen=True)
class ItemInput:
    product: Product
    quantity: int


# --- Cashback -----------------------------------------------------------------


_READ = object()  # monthly_cashback_recalculate's stored_percent: not known, read it


@figures_maintained
def monthly_cashback_recalculate(
    *,
    reseller_id: int,
    month: date,
    pending: Purchase | None = None,
    count_change: int = 0,
    stored_percent: Decimal | object | None = _READ,
) -> MonthlyCashback | None:
    """Recompute one reseller-month with the cashback rule and store it: each
    purchase's percent and value, and the month's MonthlyCashback row (none
    when nothing counts). ``pending`` is a purchase of this month about to be
    inserted: it counts, and its cashback is set on it for the caller to save.
    ``count_change``: how many purchases the caller's write added to the
    month (negative: took out of it), so the analytics know whether the
    reseller's month became active or empty; ``stored_percent``, the
    percent of the month's stored row (None: no row), when the caller read
    it already, so they know which tier it leaves. The caller holds the
    reseller's row lock."""
    start = month_start(month)
    if stored_percent is _READ:
        stored_percent = (
            MonthlyCashback.objects.filter(reseller_id=reseller_id, month=start)
            .values_list("cashback_percent", flat=True)
            .first()
        )
    purchases = list(
        Purchase.objects.filter(reseller_id=reseller_id, date__gte=start, date__lt=next_month(start)).only(
            "id", "value", "status", "cashback_percent", "cashback_value"
        )
    )
    if pending is not None:
        purchases.append(pending)
    figures = [cashback.MonthPurchase(p.value, p.status == Purchase.Status.REJECTED) for p in purchases]
    policy_id, tiers = cashback_tiers_get(month=start) if any(not f.rejected for f in figures) else (None, ())
    result = cashback.month_cashback(figures, tiers)

    change = current_figures_change()
    changed, moved = [], {}
    for purchase, share in zip(purchases, result.shares, strict=True):
        if (purchase.cashback_percent, purchase.cashback_value) != share:
            if purchase is not pending:  # the caller counts the new purchase whole
                changed.append(purchase)
                moved[purchase.pk] = share.value - purchase.cashback_value
            purchase.cashback_percent, purchase.cashback_value = share
    if changed:
        Purchase.objects.bulk_update(changed, ["cashback_percent", "cashback_value"])
        # The change of cashback counts under each purchase's status as it is
        # now that the update holds its row: an approval (which takes only
        # the purchase's lock) may have committed since the read above.
        for pk, status in Purchase.objects.filter(pk__in=list(moved)).values_list("pk", "status"):
            change.cashback_changed(month=start, status=status, amount=moved[pk])
    after = len(purchases)
    change.resellers_changed(month=start, amount=int(after > 0) - int(after - count_change > 0))
    change.tier_changed(month=start, before=stored_percent, after=result.percent if policy_id else None)

    if policy_id is None:
        MonthlyCashback.objects.filter(reseller_id=reseller_id, month=start).delete()
        return None
    summary = MonthlyCashback(
        reseller_id=reseller_id,
        month=start,
        policy_id=policy_id,
        total_value=result.total_value,
        purchase_count=result.purchase_count,
        cashback_percent=result.percent,
        cashback_value=result.cashback_value,
    )
    # One statement (INSERT ... ON CONFLICT DO UPDATE) instead of a locked
    # read and a write: the reseller's lock already serialises this month.
    MonthlyCashback.objects.bulk_create(
        [summary],
        update_conflicts=True,
        unique_fields=["reseller", "month"],
        update_fields=[
            "policy",
            "total_value",
            "purchase_count",
            "cashback_percent",
            "cashback_value",
            "updated_at",
        ],
    )
    return summary


def _monthly_cashback_add(*, reseller_id: int, pending: Purchase) -> None:
    """Count ``pending``, a purchase about to be inserted (not rejected), in
    its month: while the month keeps its tier and policy, only the new
    purchase's share and the month's figures change, so neither the month's
    purchases nor the other rows are touched. Otherwise the month is
    recomputed. The caller holds the reseller's row lock, which keeps the
    stored figures those of the committed purchases."""
    start = month_start(pending.date)
    policy_id, tiers = cashback_tiers_get(month=start)
    stored = (
        MonthlyCashback.objects.filter(reseller_id=reseller_id, month=start)
        .values_list("pk", "policy_id", "total_value", "purchase_count", "cashback_percent", "cashback_value")
        .first()
    )
    if stored is not None and stored[1] == policy_id:
        pk, _policy, total, count, percent, value = stored
        month = cashback.MonthCashback(total, count, percent, value, shares=())
        added = cashback.month_cashback_add(month, pending.value, tiers)
        if added is not None:
            pending.cashback_percent, pending.cashback_value = added.shares[0]
            MonthlyCashback.objects.filter(pk=pk).update(
                total_value=added.total_value,
                purchase_count=added.purchase_count,
                cashback_value=added.cashback_value,
                updated_at=timezone.now(),
            )
            return
    monthly_cashback_recalculate(
        reseller_id=reseller_id,
        month=start,
        pending=pending,
        count_change=1,
        stored_percent=stored[4] if stored is not None else None,
    )


def _purchases_changed(reseller_id: int) -> None:
    cache.invalidate(cache.ANALYTICS)


# --- Helpers ------------------------------------------------------------------


def _lock_reseller(reseller: Reseller) -> Reseller:
    return Reseller.objects.select_for_update().get(pk=reseller.pk)


def _lock_purchase(purchase: Purchase) -> Purchase:
    return Purchase.objects.select_for_update().get(pk=purchase.pk)


def _priced_items(items: Sequence[ItemInput]) -> list[PurchaseItem]:
    """Items with the catalogue price copied now; validates the products."""
    if not items:
        return []
    product_ids = [item.product.pk for item in items]
    if len(product_ids) != len(set(product_ids)):
        raise ValidationError({"items": [DUPLICATE_PRODUCT_MESSAGE]}, code="duplicate_product")
    # Re-read the products, locked (in id order, so two purchases never
    # deadlock): the price and availability used are the ones committed, and
    # product_delete, which locks the product too, cannot remove one between
    # this check and our commit.
    locked = Product.objects.select_for_update(no_key=True).filter(pk__in=product_ids).order_by("pk")
    products = {product.pk: product for product in locked}
    priced = []
    for item in items:
        product = products.get(item.product.pk)
        if product is None or not product.is_active:
            raise ValidationError(
                {"items": [INACTIVE_PRODUCT_MESSAGE % {"product": item.product.pk}]}, code="inactive_product"
            )
        priced.append(PurchaseItem(product=product, quantity=item.quantity, unit_price=product.price))
    return priced


def _settle_value(value: Decimal | None, items: Sequence[PurchaseItem]) -> Decimal:
    if not items:
        if value is None:
            raise ValidationError({"value": [VALUE_REQUIRED_MESSAGE]}, code="required")
        return value
    total = sum((item.unit_price * item.quantity for item in items), Decimal("0.00"))
    if total > MAX_PURCHASE_VALUE:
        raise ValidationError({"items": [VALUE_TOO_HIGH_MESSAGE]}, code="max_value")
    if value is not None and value != total:
        raise ValidationError({"value": [VALUE_MISMATCH_MESSAGE % {"total": total}]}, code="value_mismatch")
    return total


def _check_code_free(*, reseller: Reseller, code: str, exclude_pk: int | None = None) -> None:
    taken = Purchase.objects.filter(reseller=reseller, code=code).exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"code": [CODE_TAKEN_MESSAGE]}, code="unique")


def _full_clean(purchase: Purchase) -> None:
    # Field validators (code format, value range, date rules) apply to every
    # caller: API, admin and commands alike.
    # The check constraints are left to the database (validating them here
    # costs a query each); the field validators above cover the same rules.
    purchase.full_clean(
        exclude=["reseller", "created_by", "reviewed_by"], validate_unique=False, validate_constraints=False
    )


def _save(purchase: Purchase) -> None:
    # No savepoint: the transaction is not used again after a failure, the
    # error leaves the service's atomic block and rolls it back.
    try:
        purchase.save()
    except IntegrityError as exc:
        # The unique (reseller, code) constraint: what refuses a code already
        # used on creation, and the last guard after _check_code_free on an
        # update.
        raise ValidationError({"code": [CODE_TAKEN_MESSAGE]}, code="unique") from exc


# --- Writes -------------------------------------------------------------------


@transaction.atomic
@figures_maintained
def purchase_create(
    *,
    reseller: Reseller,
    code: str,
    date: date,
    value: Decimal | None = None,
    items: Sequence[ItemInput] = (),
    created_by: User | None = None,
) -> Purchase:
    reseller = _lock_reseller(reseller)
    priced_items = _priced_items(items)
    purchase = Purchase(
        reseller=reseller,
        code=code,
        date=date,
        value=_settle_value(value, priced_items),
        created_by=created_by,
        status=Purchase.Status.APPROVED
        if reseller_is_auto_approved(reseller=reseller)
        else Purchase.Status.VALIDATING,
    )
    _full_clean(purchase)
    # A code already used is refused by the unique constraint when the row is
    # inserted (_save), which rolls back the month's figures with it: no
    # query to look for it first.
    # The month is computed with the new purchase before it is inserted, so
    # it is written once, with its cashback, and nothing is read back.
    _monthly_cashback_add(reseller_id=reseller.pk, pending=purchase)
    _save(purchase)
    for item in priced_items:
        item.purchase = purchase
    PurchaseItem.objects.bulk_create(priced_items)
    current_figures_change().purchase_added(PurchaseFigures.of(purchase, priced_items))
    _purchases_changed(reseller.pk)
    return purchase


@transaction.atomic
@figures_maintained
def purchase_update(
    *,
    purchase: Purchase,
    code: str | None = None,
    date: date | None = None,
    value: Decimal | None = None,
    items: Sequence[ItemInput] | None = None,
) -> Purchase:
    """Change code, date, value or items of a purchase still in validation.

    ``items=None`` keeps the items; a sequence replaces them (empty removes
    them). A purchase with items always has the value of their sum."""
    reseller = _lock_reseller(purchase.reseller)
    purchase = _lock_purchase(purchase)
    if not purchase.is_editable:
        raise ConflictError(NOT_EDITABLE_MESSAGE)
    old_month = month_start(purchase.date)
    old_items = list(purchase.items.all())
    before = PurchaseFigures.of(purchase, old_items)

    # Kept items keep the unit price they were recorded with.
    new_items = _priced_items(items) if items is not None else old_items
    if new_items:
        purchase.value = _settle_value(value, new_items)
    elif value is not None:
        purchase.value = value
    if code is not None:
        purchase.code = code
    if date is not None:
        purchase.date = date
    _full_clean(purchase)
    if code is not None:
        _check_code_free(reseller=reseller, code=code, exclude_pk=purchase.pk)
    _save(purchase)
    if items is not None:
        purchase.items.all().delete()
        for item in new_items:
            item.purchase = purchase
        PurchaseItem.objects.bulk_create(new_items)
    # With the cashback it had: the months' recalculation changes it.
    current_figures_change().purchase_changed(before, PurchaseFigures.of(purchase, new_items))

    new_month = month_start(purchase.date)
    if new_month == old_month:
        monthly_cashback_recalculate(reseller_id=reseller.pk, month=old_month)
    else:
        monthly_cashback_recalculate(reseller_id=reseller.pk, month=old_month, count_change=-1)
        monthly_cashback_recalculate(reseller_id=reseller.pk, month=new_month, count_change=1)
    _purchases_changed(reseller.pk)
    purchase.refresh_from_db()
    return purchase


@transaction.atomic
@figures_maintained
def purchase_delete(*, purchase: Purchase) -> None:
    reseller = _lock_reseller(purchase.reseller)
    purchase = _lock_purchase(purchase)
    if not purchase.is_editable:
        raise ConflictError(NOT_EDITABLE_MESSAGE)
    month = purchase.date
    before = PurchaseFigures.of(purchase, list(purchase.items.all()))
    purchase.delete()
    current_figures_change().purchase_removed(before)
    monthly_cashback_recalculate(reseller_id=reseller.pk, month=month, count_change=-1)
    _purchases_changed(reseller.pk)


# --- Reviews ------------------------------------------------------------------

APPROVE, REJECT = "approve", "reject"
REVIEW_ACTIONS = (APPROVE, REJECT)


@dataclass(frozen=True)
class BulkReview:
    # (purchase id, reseller id) of each purchase reviewed, in id order.
    reviewed: list[tuple[int, int]]
    # Asked for but not reviewed: no longer in validation, or deleted.
    skipped: int


def _reviews_logged(purchases: Sequence[Purchase], *, reviewer: User, message, reason: str = "") -> None:
    """Each review as a line of the admin's history (the purchase's
    "Histórico" and the reviewer's "Ações recentes"), whether it came from
    the admin, the API or a background job, in the review's transaction
    (one INSERT for a chunk). Written in the project's language: the log
    stores text, not a message to translate."""
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message) % {"reason": reason} if reason else str(message)
        LogEntry.objects.log_actions(
            user_id=reviewer.pk, queryset=purchases, action_flag=CHANGE, change_message=text
        )


def _review(purchases: Sequence[Purchase], *, reviewer: User, action: str, reason: str = "") -> None:
    """Approve or reject ``purchases``, all locked and in validation (and,
    to reject, their resellers locked first): the one place the rules of a
    review are written, for one purchase or a chunk of a bulk review."""
    if not purchases:
        return
    ids = [purchase.pk for purchase in purchases]
    # An approved purchase's items stay counted in the product sales, so the
    # figures move only its count, value and cashback between statuses; a
    # rejected one's items leave them.
    items = defaultdict(list)
    if action == REJECT:
        for item in PurchaseItem.objects.filter(purchase_id__in=ids):
            items[item.purchase_id].append(item)
    before = [PurchaseFigures.of(purchase, items[purchase.pk]) for purchase in purchases]
    now = timezone.now()
    changes = {"reviewed_by": reviewer, "reviewed_at": now, "updated_at": now}
    if action == APPROVE:
        changes["status"] = Purchase.Status.APPROVED
    else:
        changes.update(status=Purchase.Status.REJECTED, rejection_reason=reason)
    figures = current_figures_change()
    for purchase, figures_before in zip(purchases, before, strict=True):
        for field, value in changes.items():
            setattr(purchase, field, value)
        # A rejected one with the share it had: the month's recalculation
        # below sets it to zero.
        figures.purchase_changed(figures_before, PurchaseFigures.of(purchase, items[purchase.pk]))
    Purchase.objects.filter(pk__in=ids).update(**changes)
    if action == APPROVE:
        _reviews_logged(purchases, reviewer=reviewer, message=APPROVED_HISTORY_MESSAGE)
    else:
        _reviews_logged(purchases, reviewer=reviewer, message=REJECTED_HISTORY_MESSAGE, reason=reason)
        # Leaving the month's total can lower the tier of the others: each
        # reseller-month touched is recomputed once, under its reseller's lock.
        for reseller_id, month in sorted({(p.reseller_id, month_start(p.date)) for p in purchases}):
            monthly_cashback_recalculate(reseller_id=reseller_id, month=month)
    # Approval keeps the purchase counted in its month: no tier changes.
    _purchases_changed(purchases[0].reseller_id)


def _reason_checked(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [REASON_REQUIRED_MESSAGE]}, code="required")
    return reason


@transaction.atomic
@figures_maintained
def purchase_approve(*, purchase: Purchase, reviewer: User) -> Purchase:
    # Approval keeps the purchase counted in its month: no tier changes, so
    # only the purchase row needs the lock. Its items stay counted too: the
    # figures move only its count, value and cashback between statuses.
    purchase = _lock_purchase(purchase)
    if not purchase.is_editable:
        raise ConflictError(ALREADY_REVIEWED_MESSAGE)
    _review([purchase], reviewer=reviewer, action=APPROVE)
    notifications.purchase_reviewed_notify(purchase=purchase)
    return purchase


@transaction.atomic
@figures_maintained
def purchase_reject(*, purchase: Purchase, reviewer: User, reason: str) -> Purchase:
    reason = _reason_checked(reason)
    _lock_reseller(purchase.reseller)
    purchase = _lock_purchase(purchase)
    if not purchase.is_editable:
        raise ConflictError(ALREADY_REVIEWED_MESSAGE)
    _review([purchase], reviewer=reviewer, action=REJECT, reason=reason)
    notifications.purchase_reviewed_notify(purchase=purchase)
    purchase.refresh_from_db()
    return purchase


@transaction.atomic
@figures_maintained
def purchases_review_bulk(
    *,
    purchase_ids: Iterable[int],
    reviewer: User,
    action: str,
    reason: str = "",
    notify_key: str | None = None,
) -> BulkReview:
    """Approve or reject the purchases ``purchase_ids`` (a few hundred at
    most: they are locked together) with the rules of a single review, in
    one transaction: those no longer in validation (reviewed meanwhile) or
    gone are skipped and counted, never changed.

    Locks as the single reviews do, in the same order: to reject, the
    purchases' resellers first (their month figures change), then the
    purchases, each kind in id order; to approve, the purchases only.

    Single reviews e-mail the reseller; a bulk review does not, per
    purchase: with ``notify_key`` each reseller gets one message summing up
    their purchases reviewed here (keyed ``{notify_key}:reseller:{id}``);
    a background job, whose chunks call this once each, sends them when it
    ends."""
    if action not in REVIEW_ACTIONS:
        raise ValueError(f"Unknown review action: {action!r}")
    if action == REJECT:
        reason = _reason_checked(reason)
    ids = sorted(set(purchase_ids))
    if action == REJECT:
        # A purchase never changes reseller: read unlocked, then locked.
        reseller_ids = set(Purchase.objects.filter(pk__in=ids).values_list("reseller_id", flat=True))
        list(
            Reseller.objects.select_for_update()
            .filter(pk__in=sorted(reseller_ids))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    locked = (
        Purchase.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .only("id", "reseller_id", "code", "date", "value", "status", "cashback_value")
    )
    pending = [purchase for purchase in locked if purchase.is_editable]
    _review(pending, reviewer=reviewer, action=action, reason=reason)
    outcome = BulkReview(
        reviewed=[(purchase.pk, purchase.reseller_id) for purchase in pending],
        skipped=len(ids) - len(pending),
    )
    if notify_key is not None:
        notifications.purchases_reviewed_notify(
            reviewed=outcome.reviewed, approved=action == APPROVE, reason=reason, key=notify_key
        )
    return outcome
