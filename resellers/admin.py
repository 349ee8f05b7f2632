from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ModelAdmin
from core.pagination import DeferredJoinPaginator
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.permissions import cpf_visible_to
from resellers.selectors import reseller_cpf_condition, reseller_cpf_taken
from resellers.services import CPF_TAKEN_MESSAGE

CPF_SEARCH_HELP = _("Name, e-mail or the exact CPF (000.000.000-00 or 00000000000).")


class _ConcurrentWrite(Exception):
    """A unique constraint fired between the form's checks and the save."""


class ResellerAdminForm(forms.ModelForm):
    # Not a model field: the model keeps only ciphertext and blind index, and
    # its ``cpf`` property setter computes both from the digits.
    cpf = forms.CharField(
        label=_("CPF"),
        max_length=14,
        help_text=_("As 000.000.000-00 or 00000000000."),
    )

    class Meta:
        model = Reseller
        fields = ["user"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("cpf", self.instance.cpf_formatted)

    def clean_cpf(self):
        try:
            digits = cpf_codec.normalize(self.cleaned_data["cpf"])
        except cpf_codec.InvalidCPF as exc:
            raise ValidationError(cpf_codec.INVALID_CPF_MESSAGE, code="invalid_cpf") from exc
        if reseller_cpf_taken(cpf_index=cpf_codec.blind_index(digits), exclude_pk=self.instance.pk):
            raise ValidationError(CPF_TAKEN_MESSAGE, code="unique")
        return digits

    def save(self, commit=True):
        # The property setter encrypts the digits and recomputes the index.
        self.instance.cpf = self.cleaned_data["cpf"]
        return super().save(commit=commit)


class ResellerAdmin(ModelAdmin):
    """Name and e-mail live on the user (edited in the users admin); here the
    CPF is shown formatted and edited through a plain field. The ciphertext
    and the blind index are never shown; the CPF itself only to staff with
    its permission (resellers.permissions): for the others it is left out of
    the list and the page, and the page is read-only (the CPF is all it
    edits).

    Registered by purchases (purchases/analytics/admin.py), whose figures
    the list shows beside each reseller: what joins two apps is served by the
    one on the right, as the API's routes are."""

    form = ResellerAdminForm
    list_display = ["full_name", "email", "cpf_display", "created_on"]
    list_select_related = ["user"]
    search_fields = ["user__full_name", "user__email"]
    search_help_text = CPF_SEARCH_HELP
    ordering = ["-created_at", "-id"]  # an index (resellers 0003), read backwards
    # Deep pages walk the ids first (an index-only scan), then read and join
    # the page's rows alone.
    paginator = DeferredJoinPaginator
    autocomplete_fields = ["user"]
    exclude = ["cpf_encrypted", "cpf_index"]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(description=_("full name"), ordering="user__full_name")
    def full_name(self, reseller):
        return reseller.user.full_name

    @admin.display(description=_("e-mail"), ordering="user__email")
    def email(self, reseller):
        # One line (the admin's CSS), the whole address in the tooltip.
        return format_html('<span title="{}">{}</span>', reseller.user.email, reseller.user.email)

    @admin.display(description=_("CPF"))
    def cpf_display(self, reseller):
        return reseller.cpf_formatted

    @admin.display(description=_("created at"), ordering="created_at")
    def created_on(self, reseller):
        # The day alone (the page shows the time): the rows stay one line high
        # at 1366 px with the month columns purchases adds.
        return formats.date_format(timezone.localtime(reseller.created_at), "SHORT_DATE_FORMAT")

    def get_list_display(self, request):
        list_display = super().get_list_display(request)
        if cpf_visible_to(request.user):
            return list_display
        return [name for name in list_display if name != "cpf_display"]

    def get_fields(self, request, obj=None):
        if obj is None:
            # A new profile's CPF is typed in, not shown.
            return ["user", "cpf"]
        if cpf_visible_to(request.user):
            return ["user", "cpf", "created_at", "updated_at"]
        return ["user", "created_at", "updated_at"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and not cpf_visible_to(request.user):
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # The login a profile belongs to is chosen once, when it is created.
        return ["user", *self.readonly_fields] if obj else []

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        condition = reseller_cpf_condition(search_term)
        if condition is not None:
            results |= queryset.filter(condition)
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        try:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
        except IntegrityError as exc:
            raise _ConcurrentWrite from exc

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ConcurrentWrite:
            # Another save took the CPF (or the user) after this form was
            # validated; validating again reports it on the field.
            return super().changeform_view(request, object_id, form_url, extra_context)
