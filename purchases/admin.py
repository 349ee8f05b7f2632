from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin import ModelAdmin
from config.exceptions import ConflictError
from config.pagination import CachedCountPaginator
from purchases import cashback
from purchases.models import CashbackPolicy, CashbackTier, MonthlyCashback, Purchase, PurchaseItem
from purchases.months import current_month, format_month, next_month, parse_month
from purchases.services import REASON_REQUIRED_MESSAGE, purchase_approve, purchase_reject
from resellers.models import Reseller
from resellers.selectors import reseller_get_by_cpf

POLICY_START_MESSAGE = _("A policy starts on the first day of a month after the current one.")
POLICY_TIERS_MESSAGE = _(
    "Tiers need increasing positive bounds and exactly one tier without a bound, "
    "with percentages between 0 and 100."
)


class CashbackPolicyForm(forms.ModelForm):
    class Meta:
        model = CashbackPolicy
        fields = ["effective_from", "description"]

    def clean_effective_from(self):
        value = self.cleaned_data["effective_from"]
        # Only future months: a policy never rewrites a month that has begun.
        if value.day != 1 or value <= current_month():
            raise ValidationError(POLICY_START_MESSAGE, code="policy_start")
        return value


class CashbackTierFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        tiers = [
            cashback.Tier(up_to=form.cleaned_data.get("up_to"), percent=form.cleaned_data["percent"])
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        tiers.sort(key=lambda tier: (tier.up_to is None, tier.up_to or 0))
        try:
            cashback.validate_tiers(tiers)
        except ValueError as exc:
            raise ValidationError(POLICY_TIERS_MESSAGE, code="invalid_tiers") from exc


class CashbackTierInline(admin.TabularInline):
    model = CashbackTier
    formset = CashbackTierFormSet
    extra = 3
    fields = ["up_to", "percent"]


@admin.register(CashbackPolicy)
class CashbackPolicyAdmin(admin.ModelAdmin):
    """Policies in force (their month has begun) are read-only: editing them
    would change the cashback of months already computed."""

    form = CashbackPolicyForm
    inlines = [CashbackTierInline]
    list_display = ["effective_from", "description", "tiers_summary", "in_force"]
    ordering = ["-effective_from"]

    @admin.display(description=_("tiers"))
    def tiers_summary(self, policy):
        return " · ".join(str(tier) for tier in policy.tiers.all())

    @admin.display(boolean=True, description=_("in force"))
    def in_force(self, policy):
        return policy.is_in_force

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_in_force:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_in_force:
            return False
        return super().has_delete_permission(request, obj)


# --- Purchases ------------------------------------------------------------------

PURCHASE_SEARCH_HELP = _("Code, reseller e-mail or the reseller's exact CPF (000.000.000-00 or 00000000000).")
REASON_MAX_LENGTH = 500  # as the API's reject route
# An e-mail search matching more resellers than this is too broad to be
# useful; the code search still applies.
MAX_SEARCHED_RESELLERS = 1000


class PurchaseMonthFilter(admin.SimpleListFilter):
    title = _("month")
    parameter_name = "month"
    months_offered = 12

    def lookups(self, request, model_admin):
        # The latest months with purchases, newest first, read from the month
        # aggregates (tens of thousands of rows) rather than the purchases (a
        # million): a month whose purchases were all rejected has no aggregate
        # and is not offered (the parameter still filters it).
        months = MonthlyCashback.objects.dates("month", "month", order="DESC")[: self.months_offered]
        return [(format_month(month), format_month(month)) for month in months]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            start = parse_month(self.value())
        except ValidationError as exc:
            # The changelist answers with its "?e=1" page, not a 500.
            raise IncorrectLookupParameters(exc) from exc
        return queryset.filter(date__gte=start, date__lt=next_month(start))


class RejectReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        error_messages={"required": REASON_REQUIRED_MESSAGE},
    )


class PurchaseItemInline(admin.TabularInline):
    model = PurchaseItem
    fields = ["product", "quantity", "unit_price"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Purchase)
class PurchaseAdmin(ModelAdmin):
    """Purchases are recorded, edited and deleted through the API, whose
    services recompute the month's cashback; here staff read them and review
    them. The only writes are the approve/reject actions, which call the same
    services as the API (so the same rules and locks apply). A purchase's
    page is view-only: status and review audit never change by form."""

    list_display = [
        "code",
        "reseller_name",
        "value",
        "date",
        "status",
        "cashback_percent",
        "cashback_value",
    ]
    list_filter = ["status", PurchaseMonthFilter]
    search_fields = ["code"]  # and the reseller's e-mail or CPF: see get_search_results
    search_help_text = PURCHASE_SEARCH_HELP
    ordering = ["-date", "-id"]
    # Built for millions of rows: the orders an index serves (the id breaks
    # ties), the count cached for a few seconds and never a second COUNT(*)
    # of the whole table, and no date hierarchy (each of its levels reads
    # every date of the filtered rows; the month filter takes its place).
    sortable_by = ["date", "value"]
    paginator = CachedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a COUNT per filter option, over every row
    actions = ["approve_selected", "reject_selected"]
    inlines = [PurchaseItemInline]
    fieldsets = [
        (None, {"fields": ["reseller", "reseller_cpf", "code", "value", "date"]}),
        (_("Review"), {"fields": ["status", "reviewed_by", "reviewed_at", "rejection_reason"]}),
        (_("Cashback"), {"fields": ["cashback_percent", "cashback_value"]}),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "reseller",
        "reseller_cpf",
        "code",
        "value",
        "date",
        "status",
        "reviewed_by",
        "reviewed_at",
        "rejection_reason",
        "cashback_percent",
        "cashback_value",
        "created_by",
        "created_at",
        "updated_at",
    ]

    @admin.display(description=_("reseller"), ordering="reseller__user__full_name")
    def reseller_name(self, purchase):
        return purchase.reseller.user.full_name

    @admin.display(description=_("reseller CPF"))
    def reseller_cpf(self, purchase):
        return purchase.reseller.cpf_formatted

    def get_queryset(self, request):
        # The changelist, the change page and the actions all read the
        # reseller's name (and the page its CPF): one join, no N+1.
        return super().get_queryset(request).select_related("reseller__user")

    def get_search_results(self, request, queryset, search_term):
        """Code (contains), the reseller's e-mail (contains) or their exact
        CPF. The resellers are looked up first, in their own small tables, so
        the purchases are filtered by indexed columns only (the code's
        trigram index, the reseller's) instead of a join OR-ed across tables."""
        term = search_term.strip()
        if not term:
            return queryset, False
        reseller_ids = set(
            Reseller.objects.filter(user__email__icontains=term).values_list("pk", flat=True)[
                :MAX_SEARCHED_RESELLERS
            ]
        )
        if (owner := reseller_get_by_cpf(cpf=term)) is not None:
            reseller_ids.add(owner.pk)
        condition = Q(code__icontains=term)
        if reseller_ids:
            condition |= Q(reseller_id__in=sorted(reseller_ids))
        return queryset.filter(condition), False

    # Recorded through the API only (it prices items and recomputes cashback).
    def has_add_permission(self, request):
        return False

    # A purchase's page is view-only; "change" in general (obj=None) stays,
    # as it is the permission the review actions require.
    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    # Deleting follows the API's rules (only in validation, month recomputed).
    def has_delete_permission(self, request, obj=None):
        return False

    # --- Review actions ---------------------------------------------------------

    def _review_each(self, request, queryset, review, done_message) -> None:
        """Review the selected purchases one by one through the services (each
        its own transaction, with the API's rules); those no longer in
        validation are skipped and counted."""
        changed = skipped = 0
        for purchase in queryset.order_by("pk"):
            try:
                review(purchase)
            except ConflictError:
                skipped += 1
            else:
                changed += 1
        self._report(request, changed=changed, skipped=skipped, done=done_message(changed))

    def _report(self, request, *, changed: int, skipped: int, done: str) -> None:
        if changed:
            self.message_user(request, done, messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d purchase was skipped: only purchases in validation can be reviewed.",
                    "%(count)d purchases were skipped: only purchases in validation can be reviewed.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Approve selected purchases"), permissions=["change"])
    def approve_selected(self, request, queryset):
        self._review_each(
            request,
            queryset,
            lambda purchase: purchase_approve(purchase=purchase, reviewer=request.user),
            lambda count: (
                ngettext("%(count)d purchase approved.", "%(count)d purchases approved.", count)
                % {"count": count}
            ),
        )

    @admin.action(description=_("Reject selected purchases"), permissions=["change"])
    def reject_selected(self, request, queryset):
        # The usual admin two-step: the changelist's POST shows a page asking
        # for the reason; that page posts back here with "apply".
        submitted = "apply" in request.POST
        form = RejectReasonForm(request.POST if submitted else None)
        if submitted and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._review_each(
                request,
                queryset,
                lambda purchase: purchase_reject(purchase=purchase, reviewer=request.user, reason=reason),
                lambda count: (
                    ngettext("%(count)d purchase rejected.", "%(count)d purchases rejected.", count)
                    % {"count": count}
                ),
            )
            return None

        counts = queryset.aggregate(
            selected=Count("pk"), validating=Count("pk", filter=Q(status=Purchase.Status.VALIDATING))
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject purchases"),
            "opts": self.model._meta,
            "form": form,
            "selected_count": counts["selected"],
            "validating_count": counts["validating"],
            "skipped_count": counts["selected"] - counts["validating"],
            "shown": queryset.filter(status=Purchase.Status.VALIDATING)[: self.list_per_page],
            "selected_ids": queryset.values_list("pk", flat=True),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "reject_selected",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/purchases/purchase/reject_reason.html", context)
