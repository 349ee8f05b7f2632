import copy
import functools
import io
import uuid
from collections.abc import Iterable, Iterator

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import IGNORED_PARAMS, SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    QueryDict,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, translation
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from rangefilter.filters import DateRangeFilter, NumericRangeFilter

from accounts.models import User
from core.admin import ModelAdmin, TabularInline
from core.exceptions import ConflictError
from core.forms import BrazilianDecimalField
from core.jobs import job_send, job_start
from core.lookups import InIntegers
from core.models import Job
from core.pagination import CachedCountPaginator
from core.routing import replica_view
from core.spreadsheet import spreadsheet_writer
from purchases import cashback
from purchases.exports import (
    DIALECT_CHOICES,
    PT_BR,
    export_description,
    purchase_export_start,
)
from purchases.models import (
    REVIEW_PERMISSION,
    CashbackPolicy,
    CashbackTier,
    Purchase,
    PurchaseItem,
    format_brl,
    format_month_name,
    format_percent,
)
from purchases.months import current_month, format_month, next_month, parse_month
from purchases.selectors import cashback_months_get
from purchases.services import (
    ALREADY_REVIEWED_MESSAGE,
    APPROVE,
    REASON_REQUIRED_MESSAGE,
    REJECT,
    purchase_approve,
    purchase_reject,
    purchases_review_bulk,
)
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.permissions import cpf_visible_to
from resellers.selectors import reseller_cpf_condition

POLICY_START_MESSAGE = _("A policy starts on the first day of a month after the current one.")


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
            # The rule's own message (translated), not a summary of all of them.
            raise ValidationError(exc.args[0], code="invalid_tiers") from exc


class CashbackTierInline(TabularInline):
    model = CashbackTier
    formset = CashbackTierFormSet
    extra = 3
    fields = ["up_to", "percent"]


@admin.register(CashbackPolicy)
class CashbackPolicyAdmin(ModelAdmin):
    """Policies in force (their month has begun) are read-only: editing them
    would change the cashback of months already computed."""

    form = CashbackPolicyForm
    inlines = [CashbackTierInline]
    feminine_name = True  # "política"
    list_display = ["starts", "description", "tiers_summary", "in_force"]
    ordering = ["-effective_from"]
    # No bulk delete: policies are few, and those in force may not be
    # deleted (the action would refuse the whole selection with a 403).
    actions = None

    @admin.display(description=_("effective from"), ordering="effective_from")
    def starts(self, policy):
        return format_month_name(policy.effective_from)

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

PURCHASE_SEARCH_HELP = _(
    "Code, the reseller's name or e-mail, or the reseller's exact CPF (000.000.000-00 or 00000000000)."
)
REASON_MAX_LENGTH = 500  # as the API's reject route
# Up to this many resellers found by a search, their ids are written in the
# query; more, and it reads them as a subquery (see get_search_results).
MAX_SEARCHED_RESELLERS = 5000
DATE_RANGE_REVERSED_MESSAGE = _("The start date must not be after the end date.")
VALUE_RANGE_REVERSED_MESSAGE = _("The minimum value must not be above the maximum.")
PURCHASE_APPROVED_MESSAGE = _("Purchase %(code)s approved.")
# The list of one reseller's purchases (their "see purchases" link): the
# changelist takes any lookup on its model's own fields (lookup_allowed), and
# this one reads the reseller column alone.
RESELLER_PARAMETER = "reseller__id__exact"
RESELLER_SUBTITLE = _("Purchases of %(name)s")
PURCHASE_REJECTED_MESSAGE = _("Purchase %(code)s rejected.")
NO_PENDING_LEFT_MESSAGE = _("No purchase in validation is left in this list.")
# The review buttons' "and open the next pending purchase of the list".
NEXT_PENDING_PARAMETER = "_next_pending"
# The first purchases a bulk review's confirmation lists (the count says how
# many there are in all).
CONFIRMATION_SHOWN = 20
# Purchases a background review locks and reviews in one transaction: short
# enough that a single review waiting on one of them waits briefly.
REVIEW_CHUNK_SIZE = 500


class PurchaseMonthFilter(admin.SimpleListFilter):
    title = _("month")
    parameter_name = "month"
    months_offered = 12

    def lookups(self, request, model_admin):
        # The latest months with purchases, newest first, read from the month
        # aggregates (tens of thousands of rows) rather than the purchases (a
        # million): a month whose purchases were all rejected has no aggregate
        # and is not offered (the parameter still filters it). Their months
        # are first days already: read as stored, not truncated row by row.
        months = cashback_months_get(limit=self.months_offered)
        return [(format_month(month), format_month_name(month)) for month in months]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            start = parse_month(self.value())
        except ValidationError as exc:
            # The changelist answers with its "?e=1" page, not a 500.
            raise IncorrectLookupParameters(exc) from exc
        return queryset.filter(date__gte=start, date__lt=next_month(start))


class CheckedRangeMixin:
    """A django-admin-rangefilter range whose input is not a range (not its
    type, out of bounds, from after to) matches nothing and the filter's
    form says why: a list or an export must never be wider than what was
    asked for. ``reversed_message`` is what a range from after to says."""

    reversed_message = None

    def _get_form_class(self):
        form_class = super()._get_form_class()
        start_name, end_name, reversed_message = (
            self.lookup_kwarg_gte,
            self.lookup_kwarg_lte,
            self.reversed_message,
        )

        def clean(form):
            cleaned = forms.BaseForm.clean(form)
            start, end = cleaned.get(start_name), cleaned.get(end_name)
            if start is not None and end is not None and start > end:
                raise ValidationError(reversed_message, code="reversed_range")
            return cleaned

        form_class.clean = clean  # a class made for this filter alone
        return form_class

    def queryset(self, request, queryset):
        if not self.form.is_bound:
            return queryset
        if not self.form.is_valid():
            return queryset.none()
        bounds = {
            f"{self.field_path}__gte": self.form.cleaned_data.get(self.lookup_kwarg_gte),
            f"{self.field_path}__lte": self.form.cleaned_data.get(self.lookup_kwarg_lte),
        }
        return queryset.filter(**{lookup: bound for lookup, bound in bounds.items() if bound is not None})


class PurchaseDateRangeFilter(CheckedRangeMixin, DateRangeFilter):
    """django-admin-rangefilter's "from / to" dates (both inclusive, in the
    language's date format or ISO), filtering the date column by dates: the
    package's own filter compares a date column with datetimes at the day's
    edges. Input that is not a date range (not a date, year 0, other
    digits, from after to) matches nothing and the filter shows why: a list
    or an export must never be wider than what was asked for."""

    reversed_message = DATE_RANGE_REVERSED_MESSAGE


class PurchaseReviewerFilter(admin.SimpleListFilter):
    """Who reviewed the purchase. The choices are the staff accounts (a
    few rows), not the reviewers found among the purchases (a DISTINCT over
    a million rows on every list)."""

    title = _("reviewer")
    parameter_name = "reviewer"

    def lookups(self, request, model_admin):
        staff = User.objects.filter(is_staff=True).order_by("full_name", "pk")
        return [(str(pk), name or email) for pk, name, email in staff.values_list("pk", "full_name", "email")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit()):
            raise IncorrectLookupParameters("Invalid reviewer.")
        return queryset.filter(reviewed_by_id=int(value))


class PurchaseValueRangeFilter(CheckedRangeMixin, NumericRangeFilter):
    """The value between two amounts (both inclusive, either may be left
    empty), typed as money in the language's format ("29,90") or with a dot,
    read as Decimal. Input that is not an amount range (not a number, a
    negative amount, from above to) matches nothing and the filter says why,
    as the date range does."""

    def _get_form_fields(self):
        def amount(placeholder):
            return BrazilianDecimalField(
                label="",
                required=False,
                min_value=0,
                max_digits=12,
                decimal_places=2,
                widget=forms.TextInput(attrs={"placeholder": placeholder, "inputmode": "decimal"}),
            )

        return {
            self.lookup_kwarg_gte: amount(pgettext_lazy("value range", "Minimum")),
            self.lookup_kwarg_lte: amount(pgettext_lazy("value range", "Maximum")),
        }

    reversed_message = VALUE_RANGE_REVERSED_MESSAGE


class RejectReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        error_messages={"required": REASON_REQUIRED_MESSAGE},
    )


class PurchaseItemInline(admin.TabularInline):
    model = PurchaseItem
    fields = ["product", "quantity", "unit_price_display"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("unit price"))
    def unit_price_display(self, item):
        return format_brl(item.unit_price)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The resellers' CSV (purchases.analytics.reseller_admin), streamed: rows
# sent to the client at a time.
EXPORT_ROWS_PER_WRITE = 500


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, a few hundred rows at a time:
    the header alone first, so the download starts before the query runs."""
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)  # every field quoted, formulas neutralised
    buffer.write("\ufeff")  # UTF-8 byte-order mark: spreadsheets then read accents right
    writer.writerow(header)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(rows, 1):
        writer.writerow(row)
        if count % EXPORT_ROWS_PER_WRITE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _after_in_order(order_by, purchase: Purchase) -> Q | None:
    """The rows after ``purchase`` in a list ordered by ``order_by`` (plain
    field names, "-" for descending, ending in the primary key as the
    changelist's always do), as a keyset condition; None for an order it
    cannot read."""
    fields = []
    for term in order_by:
        if not isinstance(term, str):
            return None
        name = term.lstrip("-")
        name = "pk" if name in ("pk", "id") else name
        if "__" in name or not hasattr(purchase, name):
            return None
        fields.append((name, term.startswith("-")))
    if not fields or fields[-1][0] != "pk":
        return None
    condition = Q()
    equal = {}
    for name, descending in fields:
        value = getattr(purchase, name)
        condition |= Q(**equal, **{f"{name}__{'lt' if descending else 'gt'}": value})
        equal[name] = value
    return condition


class RowsOnlyChangeList:
    """A changelist that builds its queryset (filters, search, order) and no
    page: the export reads every row itself, so it needs neither the count
    nor a page of them."""

    def get_results(self, request):
        self.result_count = self.full_result_count = None
        self.result_list = self.queryset.none()
        self.can_show_all = self.multi_page = False


EXPORT_STARTED_MESSAGE = _("The export has started: its file appears on this page once it is written.")


class PurchaseExportForm(forms.Form):
    dialect = forms.ChoiceField(
        label=_("Format"), choices=DIALECT_CHOICES, initial=PT_BR, widget=forms.RadioSelect
    )


def admin_export_params(query: QueryDict) -> dict:
    """What an export started from the changelist keeps to find its rows:
    the list's query string (filters, search, order), which the task turns
    into the same changelist again (``purchase_admin_export_list``). The
    search is kept encrypted, as CPFs are: it may be one."""
    query = query.copy()
    search = query.pop(SEARCH_VAR, [""])[-1]
    return {
        "source": "admin",
        "query": query.urlencode(),
        "search": cpf_codec.encrypt(search) if search else "",
    }


def purchase_admin_export_list(job: Job) -> QuerySet[Purchase]:
    """The rows of the changelist an export was started from: its query
    string read by the same ModelAdmin, as the person who started it, so
    every filter, the search and the order mean what they meant on the
    list, whatever filters the list has (no second copy of them to keep in
    step)."""
    if job.created_by is None:
        raise PermissionDenied("The export's author no longer exists.")
    query = QueryDict(job.params.get("query", ""), mutable=True)
    if job.params.get("search"):
        query[SEARCH_VAR] = cpf_codec.decrypt(job.params["search"])
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = reverse("admin:purchases_purchase_changelist")
    request.GET = query
    request.user = job.created_by
    request.rows_only = True  # the rows alone: no page, no count (PurchaseAdmin.get_changelist)
    return admin.site.get_model_admin(Purchase).get_changelist_instance(request).queryset


def _filters_summary(changelist) -> list[str]:
    """The list's filters and search as people read them (the export's page,
    its job's description); a CPF searched for is named, never shown."""
    parts = []
    for spec in changelist.filter_specs:
        if not spec.used_parameters:
            continue
        title = capfirst(str(spec.title))
        if isinstance(spec, CheckedRangeMixin):
            if spec.form.is_valid():
                start = spec.form.cleaned_data.get(spec.lookup_kwarg_gte)
                end = spec.form.cleaned_data.get(spec.lookup_kwarg_lte)
                shown = [formats.localize(value) if value is not None else "…" for value in (start, end)]
                parts.append(
                    f"{title}: " + gettext("%(start)s to %(end)s") % {"start": shown[0], "end": shown[1]}
                )
            continue
        chosen = [str(choice["display"]) for choice in spec.choices(changelist) if choice.get("selected")]
        parts.append(f"{title}: {', '.join(chosen)}")
    # Lookups no filter on the right reads (the reseller's "see purchases"
    # link, a status typed in the address), as the changelist applies them.
    read = {name for spec in changelist.filter_specs for name in spec.expected_parameters()}
    for name, value in changelist.params.items():
        if name in read or name in IGNORED_PARAMS:
            continue
        label = capfirst(gettext("reseller id")) if name == RESELLER_PARAMETER else name
        parts.append(f"{label}: {value}")
    term = changelist.query.strip()
    if term:
        parts.append(f"{gettext('Search')}: {'CPF' if _is_cpf(term) else term}")
    return parts


def _is_cpf(term: str) -> bool:
    try:
        cpf_codec.normalize(term)
    except cpf_codec.InvalidCPF:
        return False
    return True


@admin.register(Purchase)
class PurchaseAdmin(ModelAdmin):
    """Purchases are recorded, edited and deleted through the API, whose
    services recompute the month's cashback; here staff read them, review
    them and export them. The only writes are approving and rejecting (the
    bulk actions and the purchase page's buttons), which call the same
    services as the API (so the same rules and locks apply). A purchase's
    page is view-only: status and review audit never change by form."""

    change_list_template = "admin/purchases/purchase/change_list.html"
    change_form_template = "admin/purchases/purchase/change_form.html"
    list_display = [
        "code_display",
        "reseller_name",
        "value_display",
        "date_display",
        "status",
        "cashback_display",
    ]
    list_filter = [
        "status",
        PurchaseMonthFilter,
        ("date", PurchaseDateRangeFilter),
        ("value", PurchaseValueRangeFilter),
        PurchaseReviewerFilter,
    ]
    search_fields = ["code"]  # and the reseller's name, e-mail or CPF: see get_search_results
    search_help_text = PURCHASE_SEARCH_HELP
    ordering = ["-date", "-id"]
    # Built for millions of rows: the orders an index serves (the id breaks
    # ties), the count cached for a few seconds and never a second COUNT(*)
    # of the whole table, and no date hierarchy (each of its levels reads
    # every date of the filtered rows; the month filter takes its place).
    sortable_by = ["date_display", "value_display"]
    paginator = CachedCountPaginator
    show_full_result_count = False
    feminine_name = True  # "compra"
    show_facets = admin.ShowFacets.NEVER  # a COUNT per filter option, over every row
    actions = ["approve_selected", "reject_selected"]
    inlines = [PurchaseItemInline]
    fieldsets = [
        (None, {"fields": ["reseller", "reseller_cpf", "code", "value_display", "date"]}),
        (_("Review"), {"fields": ["status", "reviewed_by", "reviewed_at", "rejection_reason"]}),
        (_("Cashback"), {"fields": ["cashback_percent_display", "cashback_value_display"]}),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "reseller",
        "reseller_cpf",
        "code",
        "value_display",
        "date",
        "status",
        "reviewed_by",
        "reviewed_at",
        "rejection_reason",
        "cashback_percent_display",
        "cashback_value_display",
        "created_by",
        "created_at",
        "updated_at",
    ]

    class Media:
        # Column widths and alignment that keep every column visible at 1366 px.
        css = {"all": ["admin/purchases/purchase.css"]}

    # Short headers (and values with no wasted width): the list fits a
    # 1366-pixel screen beside the filters.
    @admin.display(description=_("code"))
    def code_display(self, purchase):
        # On one line; the few very long codes (up to 64 characters) end in
        # an ellipsis with the whole code on hover (and on the page).
        return format_html('<span class="purchase-code" title="{}">{}</span>', purchase.code, purchase.code)

    @admin.display(description=_("reseller"), ordering="reseller__user__full_name")
    def reseller_name(self, purchase):
        return purchase.reseller.user.full_name

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, purchase):
        return format_brl(purchase.value)

    @admin.display(description=_("date"), ordering="date")
    def date_display(self, purchase):
        return formats.date_format(purchase.date, "SHORT_DATE_FORMAT")

    @admin.display(description=_("cashback"))
    def cashback_display(self, purchase):
        # The value over its percent, in one column: the list has no width to spare.
        return format_html(
            '{}<br><span class="purchase-percent">{}</span>',
            format_brl(purchase.cashback_value),
            format_percent(purchase.cashback_percent),
        )

    @admin.display(description=_("cashback %"))
    def cashback_percent_display(self, purchase):
        return format_percent(purchase.cashback_percent)

    @admin.display(description=_("cashback"))
    def cashback_value_display(self, purchase):
        return format_brl(purchase.cashback_value)

    @admin.display(description=_("reseller CPF"))
    def reseller_cpf(self, purchase):
        return purchase.reseller.cpf_formatted

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if cpf_visible_to(request.user):
            return fieldsets
        # Without the CPF permission the page leaves the reseller's CPF out.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "reseller_cpf"]})
            for name, options in fieldsets
        ]

    def get_queryset(self, request):
        # The changelist, the change page and the actions all read the
        # reseller's name (and the page its CPF): one join, no N+1.
        return super().get_queryset(request).select_related("reseller__user")

    def get_search_results(self, request, queryset, search_term):
        """Code (contains), the reseller's name or e-mail (contains) or their
        exact CPF. The resellers are looked up first, in their own tables (the
        users' trigram indexes, accounts 0002; the CPF's blind index), so the
        purchases are filtered by indexed columns only (the code's trigram
        index, the reseller's) instead of a join OR-ed across tables.

        Up to MAX_SEARCHED_RESELLERS resellers found, their ids are written
        in the query (core.lookups.InIntegers: not a parameter each), so the
        database knows how many purchases they have: a
        rare name's few rows are read by the reseller's index, a common one's
        ("maria": 3,600 resellers of 50,000) by walking the list's order,
        which they soon fill (18 ms at 10,000,000 purchases; 60 ms with the
        resellers as a subquery, whose matches the database cannot foresee).
        More resellers than that (a term of a letter or two), and they are
        read as a subquery, every one of them. The purchases of those found
        are also the count's floor (core.pagination.CachedCountPaginator):
        when they alone pass the rows a page may reach (an index-only count),
        so does the list, which is then not counted row by row."""
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(user__email__icontains=term) | Q(user__full_name__icontains=term)
        if (cpf_condition := reseller_cpf_condition(term)) is not None:
            matches |= cpf_condition
        resellers = Reseller.objects.filter(matches).order_by().values_list("pk", flat=True)
        reseller_ids = list(resellers[: MAX_SEARCHED_RESELLERS + 1])
        condition = Q(code__icontains=term)
        if len(reseller_ids) > MAX_SEARCHED_RESELLERS:
            condition |= Q(reseller_id__in=resellers)
        elif reseller_ids:
            condition |= InIntegers(F("reseller_id"), reseller_ids)
        if reseller_ids:
            request.admin_count_floor = queryset.filter(InIntegers(F("reseller_id"), reseller_ids))
        return queryset.filter(condition), False

    # Recorded through the API only (it prices items and recomputes cashback).
    def has_add_permission(self, request):
        return False

    # A purchase's page is view-only: nothing here changes a purchase by
    # form (edits go through the API). Reviewing has its own permission.
    def has_change_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request, obj=None):
        """Approve or reject: ``purchases.review_purchase``, the permission
        the API's review routes need (the actions ask for it by the name
        "review"; the page's buttons and views too)."""
        return request.user.has_perm(REVIEW_PERMISSION)

    # Deleting follows the API's rules (only in validation, month recomputed).
    def has_delete_permission(self, request, obj=None):
        return False

    def _url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def _url(self, view: str, *args) -> str:
        return reverse(f"admin:{self._url_name(view)}", args=args, current_app=self.admin_site.name)

    def get_urls(self):
        wrap = self.admin_site.admin_view  # staff only, never cached, CSRF-checked
        own = [
            path("export/", wrap(replica_view(self.export_view)), name=self._url_name("export")),
            path("<path:object_id>/approve/", wrap(self.approve_view), name=self._url_name("approve")),
            path("<path:object_id>/reject/", wrap(self.reject_view), name=self._url_name("reject")),
        ]
        return own + super().get_urls()

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if getattr(request, "rows_only", False) or (
            request.resolver_match and request.resolver_match.url_name == self._url_name("export")
        ):
            return type("ExportChangeList", (RowsOnlyChangeList, changelist), {})
        return changelist

    def changelist_view(self, request, extra_context=None):
        # Opened from a reseller ("Ver compras"): say whose purchases these
        # are, since that parameter has no filter of its own on the right.
        reseller_id = request.GET.get(RESELLER_PARAMETER, "")
        if reseller_id.isascii() and reseller_id.isdigit():
            name = Reseller.objects.filter(pk=reseller_id).values_list("user__full_name", flat=True).first()
            if name is not None:
                extra_context = {**(extra_context or {}), "subtitle": RESELLER_SUBTITLE % {"name": name}}
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_review"] = obj is not None and obj.is_editable and self.has_review_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- Review on the purchase's page --------------------------------------------

    def _purchase_for_review(self, request, object_id) -> Purchase | None:
        # Reviewers see what they review, as on the API's review routes.
        if not (self.has_view_permission(request) and self.has_review_permission(request)):
            raise PermissionDenied
        return self.get_object(request, unquote(object_id))

    def _change_page(self, request, purchase: Purchase) -> HttpResponseRedirect:
        return HttpResponseRedirect(self._with_filters(request, self._url("change", quote(purchase.pk))))

    def _with_filters(self, request, url: str) -> str:
        # The list's filters, carried as Django carries them (the page's
        # "_changelist_filters"), so "Fechar" and the breadcrumbs lead back.
        context = {"opts": self.opts, "preserved_filters": self.get_preserved_filters(request)}
        return add_preserved_filters(context, url)

    def _after_review(self, request, purchase: Purchase) -> HttpResponseRedirect:
        """Back to the list the purchase was opened from, with its filters;
        or, asked for ("and go to the next pending"), to the next purchase in
        validation of that list, in its order."""
        if NEXT_PENDING_PARAMETER not in request.POST:
            return HttpResponseRedirect(self._with_filters(request, self._url("changelist")))
        following = self._next_pending(request, purchase)
        if following is None:
            self.message_user(request, NO_PENDING_LEFT_MESSAGE, messages.INFO)
            return HttpResponseRedirect(self._with_filters(request, self._url("changelist")))
        return self._change_page(request, following)

    def _next_pending(self, request, purchase: Purchase) -> Purchase | None:
        """The first purchase in validation after ``purchase`` in the order
        of the list it came from (its filters, search and sort), else the
        first one from the top of that list. One indexed query each."""
        listing = copy.copy(request)
        listing.GET = QueryDict(request.GET.get("_changelist_filters", ""))
        listing.rows_only = True
        try:
            changelist = self.get_changelist_instance(listing)
        except IncorrectLookupParameters:
            return None
        pending = changelist.queryset.filter(status=Purchase.Status.VALIDATING).exclude(pk=purchase.pk)
        after = _after_in_order(pending.query.order_by, purchase)
        if after is not None and (following := pending.filter(after).first()) is not None:
            return following
        return pending.first()

    def approve_view(self, request, object_id):
        # A POST from the page's button (admin_view checks its CSRF token): a
        # link followed or prefetched never approves.
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        purchase = self._purchase_for_review(request, object_id)
        if purchase is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        try:
            purchase_approve(purchase=purchase, reviewer=request.user)
        except ConflictError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, PURCHASE_APPROVED_MESSAGE % {"code": purchase.code}, messages.SUCCESS)
            return self._after_review(request, purchase)
        return self._change_page(request, purchase)

    def reject_view(self, request, object_id):
        """GET asks for the reason; POST rejects with it."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        purchase = self._purchase_for_review(request, object_id)
        if purchase is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not purchase.is_editable:
            self.message_user(request, ALREADY_REVIEWED_MESSAGE, messages.ERROR)
            return self._change_page(request, purchase)

        form = RejectReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                purchase_reject(purchase=purchase, reviewer=request.user, reason=form.cleaned_data["reason"])
            except ConflictError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request, PURCHASE_REJECTED_MESSAGE % {"code": purchase.code}, messages.SUCCESS
                )
                return self._after_review(request, purchase)
            return self._change_page(request, purchase)

        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject purchase"),
            "opts": self.opts,
            "form": form,
            "purchase": purchase,
            "value": format_brl(purchase.value),
            "preserved_filters": self.get_preserved_filters(request),
            "next_pending_parameter": NEXT_PENDING_PARAMETER,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/purchases/purchase/reject_reason.html", context)

    # --- Export -----------------------------------------------------------------

    def export_view(self, request):
        """GET: the export's page, to choose its format; POST: starts it, as a
        background job, for the list's current filters, search and order (the
        page's query string), and opens the job's page, where the file's
        link appears once it is written (core.admin.JobAdmin)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        try:
            # The filters as the list reads them (its "?e=1" page for bad ones).
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(self._url("changelist") + "?e=1")
        form = PurchaseExportForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            dialect = form.cleaned_data["dialect"]
            try:
                job = purchase_export_start(
                    user=request.user,
                    dialect=dialect,
                    params=admin_export_params(request.GET),
                    description=export_description(dialect, _filters_summary(changelist)),
                )
            except ConflictError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, EXPORT_STARTED_MESSAGE, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:core_job_change", args=[job.pk], current_app=self.admin_site.name)
                )
        query = changelist.get_query_string()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Export purchases"),
            "opts": self.opts,
            "form": form,
            "filters": _filters_summary(changelist),
            "changelist_url": self._url("changelist") + (query if query != "?" else ""),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/purchases/purchase/export.html", context)

    # --- Review actions ---------------------------------------------------------
    #
    # The selection's purchases in validation are reviewed through
    # purchases_review_bulk (the rules and locks of a single review); those
    # no longer in validation are skipped and counted. Up to
    # BULK_REVIEW_IMMEDIATE_MAX of them are reviewed in the request; more
    # (a "select all" across pages) ask for confirmation, showing how many,
    # then run as a background job staff follow on its page. Either way each
    # reseller gets one e-mail about their purchases.

    def _pending_ids(self, queryset, *, action: str = APPROVE):
        pending = queryset.filter(status=Purchase.Status.VALIDATING)
        if action == REJECT:
            # A rejection recomputes each reseller-month it touches: a
            # reseller's purchases together, each month is recomputed in one
            # chunk (not once per chunk holding one of its purchases), and
            # workers sharing the job seldom wait on each other's resellers.
            pending = pending.order_by("reseller_id", "date", "pk")
        else:
            pending = pending.order_by("pk")
        return pending.values_list("pk", flat=True)

    def _review_selected(self, request, queryset, *, action: str, reason: str = "", confirmed: bool = True):
        limit = settings.BULK_REVIEW_IMMEDIATE_MAX
        # At most one more than the limit is read to choose: a selection of
        # 300,000 is not loaded here.
        first = list(self._pending_ids(queryset)[: limit + 1])
        if len(first) > limit:
            if not confirmed:
                return self._confirmation(request, queryset, action=action)
            return self._review_in_background(request, queryset, action=action, reason=reason)
        outcome = purchases_review_bulk(
            purchase_ids=first,
            reviewer=request.user,
            action=action,
            reason=reason,
            notify_key=f"purchase-review-bulk:{uuid.uuid4().hex}",
        )
        changed = len(outcome.reviewed)
        if action == APPROVE:
            done = ngettext("%(count)d purchase approved.", "%(count)d purchases approved.", changed)
        else:
            done = ngettext("%(count)d purchase rejected.", "%(count)d purchases rejected.", changed)
        self._report(
            request, changed=changed, skipped=queryset.count() - changed, done=done % {"count": changed}
        )
        return None

    def _review_in_background(self, request, queryset, *, action: str, reason: str):
        with transaction.atomic():
            # The ids are read with a cursor and written as chunk rows by
            # job_start; the job's task is sent once this commits.
            job = job_start(
                kind=Job.Kind.PURCHASE_REVIEW,
                task="purchases.tasks.purchases_review_job",
                user=request.user,
                permission=REVIEW_PERMISSION,
                params={"action": action, "reason": reason, "reviewer_id": request.user.pk},
                chunks=self._pending_ids(queryset, action=action).iterator(chunk_size=5000),
                chunk_size=REVIEW_CHUNK_SIZE,
            )
            # Stored text, read by whoever follows the job: in the project's language.
            with translation.override(settings.LANGUAGE_CODE):
                count = number_format(job.total, force_grouping=True)
                if action == APPROVE:
                    description = gettext("Approval of %(count)s purchases") % {"count": count}
                else:
                    description = gettext("Rejection of %(count)s purchases: %(reason)s") % {
                        "count": count,
                        "reason": reason,
                    }
            Job.objects.filter(pk=job.pk).update(description=description[:300])
            # More workers share the chunks (each takes them with SKIP LOCKED);
            # the one that does the last runs the job's end.
            for _extra in range(settings.BULK_REVIEW_WORKERS - 1):
                transaction.on_commit(functools.partial(job_send, job.pk))
        self.message_user(
            request,
            gettext("Reviewing %(count)s purchases in the background: this page shows how it goes.")
            % {"count": number_format(job.total, force_grouping=True)},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:core_job_change", args=[job.pk]))

    def _confirmation(self, request, queryset, *, action: str, form=None):
        """The page that asks before a review: how many purchases of the
        selection will be reviewed (in the background, above the limit) and
        skipped, the first of them, and for a rejection the reason. It
        posts the selection back as it came (the checked ids, or "select
        all" with the list's filters in the URL), never a list of every id."""
        counts = queryset.aggregate(
            selected=Count("pk"), validating=Count("pk", filter=Q(status=Purchase.Status.VALIDATING))
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Approve purchases") if action == APPROVE else _("Reject purchases"),
            "opts": self.model._meta,
            "approve": action == APPROVE,
            "form": form,
            "selected_count": counts["selected"],
            "validating_count": counts["validating"],
            "skipped_count": counts["selected"] - counts["validating"],
            "background": counts["validating"] > settings.BULK_REVIEW_IMMEDIATE_MAX,
            "shown": [
                (purchase, format_brl(purchase.value))
                for purchase in queryset.filter(status=Purchase.Status.VALIDATING).order_by("pk")[
                    :CONFIRMATION_SHOWN
                ]
            ],
            "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "approve_selected" if action == APPROVE else "reject_selected",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/purchases/purchase/bulk_review.html", context)

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

    @admin.action(description=_("Approve selected purchases"), permissions=["review"])
    def approve_selected(self, request, queryset):
        # A few are approved at once; more are confirmed first (the page
        # posts back here with "apply").
        return self._review_selected(request, queryset, action=APPROVE, confirmed="apply" in request.POST)

    @admin.action(description=_("Reject selected purchases"), permissions=["review"])
    def reject_selected(self, request, queryset):
        # The usual admin two-step: the changelist's POST shows a page asking
        # for the reason; that page posts back here with "apply".
        submitted = "apply" in request.POST
        form = RejectReasonForm(request.POST if submitted else None)
        if submitted and form.is_valid():
            return self._review_selected(request, queryset, action=REJECT, reason=form.cleaned_data["reason"])
        return self._confirmation(request, queryset, action=REJECT, form=form)
