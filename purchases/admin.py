from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from purchases import cashback
from purchases.models import CashbackPolicy, CashbackTier
from purchases.months import current_month

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
