"""The project's admin site: Django's, with its titles and a way for an app
to add a page that belongs to no model (the analytics chart), so that the
root URLconf needs to know no app's admin pages. Those pages are listed on
the index and in the sidebar as one more section, "Reports"."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.safestring import SafeData, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.forms import BrazilianDecimalField
from core.models import Job
from core.routing import replica_view

REPORTS_SECTION = _("Reports")


@dataclass(frozen=True)
class AdminPage:
    route: str
    view: Callable[[HttpRequest], HttpResponse]
    name: str
    title: str | None  # None: reachable (a download, a sub-page) but not listed
    permission: str  # "app_label.codename" a staff member needs to open it

    def allows(self, request: HttpRequest) -> bool:
        return request.user.has_perm(self.permission)


@dataclass(frozen=True)
class IndexPanel:
    context: Callable[[HttpRequest], dict]
    template: str
    permission: str


class AdminSite(admin.AdminSite):
    site_header = _("Reseller cashback — back office")
    site_title = _("Reseller cashback")
    index_title = _("Back office")
    # The header's "View site": the root page, which lists the API's
    # documentation, its schema and this site.
    site_url = reverse_lazy("home")

    def __init__(self, name="admin"):
        super().__init__(name)
        self._pages: list[AdminPage] = []
        self._panels: list[IndexPanel] = []

    def register_view(self, route: str, view, *, name: str, title: str | None, permission: str) -> None:
        """Serve ``view`` at ``admin/<route>`` as ``admin:<name>``, for staff
        holding ``permission`` only (wrapped in ``admin_view``: never cached,
        CSRF-protected; others get a 403), and, unless ``title`` is None,
        list it under "Reports" on the index and in the sidebar of those who
        may open it."""
        self._pages.append(AdminPage(route=route, view=view, name=name, title=title, permission=permission))

    def register_index_panel(self, context, *, template: str, permission: str) -> None:
        """Show ``template``, rendered with ``context(request)``, at the top of
        the admin's home page (what needs doing, the month's figures), to
        staff holding ``permission`` only, in the order registered: an app
        adds its part of the home page without core knowing the app."""
        self._panels.append(IndexPanel(context=context, template=template, permission=permission))

    def index(self, request, extra_context=None):
        panels = [
            render_to_string(panel.template, panel.context(request), request)
            for panel in self._panels
            if request.user.has_perm(panel.permission)
        ]
        return super().index(request, {"index_panels": panels, **(extra_context or {})})

    def get_app_list(self, request, app_label=None):
        """Django's apps, preceded by the registered pages as a "Reports"
        section shaped like an app (a view-only "model" per page), so that
        the index and the sidebar list them with the admin's own template."""
        app_list = super().get_app_list(request, app_label)
        # Staff only, like the pages: the login and password-reset pages
        # build this list too.
        if app_label is not None or not self.has_permission(request):
            return app_list
        listed = [page for page in self._pages if page.title is not None and page.allows(request)]
        if not listed:
            return app_list
        links = [
            {
                "name": page.title,
                "object_name": page.name,
                "admin_url": reverse(f"{self.name}:{page.name}", current_app=self.name),
                "add_url": None,
                "perms": {"view": True},
                "view_only": True,
            }
            for page in listed
        ]
        reports = {
            "name": REPORTS_SECTION,
            "app_label": "reports",
            "app_url": links[0]["admin_url"],
            "has_module_perms": True,
            "models": links,
        }
        return [reports, *app_list]

    def get_urls(self):
        pages = [
            path(page.route, self.admin_view(self._guarded(page)), name=page.name) for page in self._pages
        ]
        return pages + super().get_urls()

    @staticmethod
    def _guarded(page: AdminPage):
        @wraps(page.view)
        def view(request, *args, **kwargs):
            if not page.allows(request):
                raise PermissionDenied
            return page.view(request, *args, **kwargs)

        return view


class BoundedChangeList(ChangeList):
    """Django's changelist, refusing parameters it cannot handle with its
    "?e=1" page, not a 500: date-hierarchy values out of range
    (``date__year=9999&date__month=12`` overflows computing the next month,
    year 0 does not exist) or in other digits (``int()`` reads them), and NUL
    bytes."""

    def get_filters(self, request):
        if self.date_hierarchy:
            # The year after must exist too (the hierarchy links to it).
            for part, last in (("year", 9998), ("month", 12), ("day", 31)):
                value = request.GET.get(f"{self.date_hierarchy}__{part}")
                if value is not None and not (
                    value.isascii() and value.isdigit() and 1 <= int(value) <= last
                ):
                    raise IncorrectLookupParameters(f"Invalid {part}.")
        # PostgreSQL refuses NUL in text: a search or filter holding one would
        # be a DataError.
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            raise IncorrectLookupParameters("NUL in a parameter.")
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc

    def get_results(self, request):
        # A paginator bounded in depth (core.pagination.CachedCountPaginator):
        # a page beyond the last one it offers is answered with that last
        # page and the reason, not with the "?e=1" page.
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        last = getattr(paginator, "last_page_offered", None)
        if last is not None and self.page_num > last and not self.show_all:
            messages.warning(request, paginator.deep_page_message)
            self.page_num = paginator.num_pages  # the last offered, or the last there is
        super().get_results(request)
        # A count that stopped past the rows a page may reach (the bounded
        # paginator's): the list says "more than 10,000", or for a whole
        # table "about 10,000,000" (core.templatetags.admin_counts).
        self.count_over_bound = getattr(self.paginator, "over_bound", False)
        self.count_bound = getattr(self.paginator, "max_rows", None)
        self.count_estimate = (
            getattr(self.paginator, "estimated_total", None) if self.count_over_bound else None
        )
        if self.count_over_bound:
            self.can_show_all = False  # "show all" of a count that stopped: never

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        # Lookups in the query string (``date__year=0``) fail only when the SQL
        # is built: build it now (no query runs), while "?e=1" can answer.
        try:
            queryset.query.sql_with_params()
        except EmptyResultSet:
            pass
        except (OverflowError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc
        return queryset


class BoundedChangeListMixin:
    """No changelist answers a 500 to its query parameters."""

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList


class ReplicaReadsAdminMixin:
    """The changelist's GETs read from a replica when there are any
    (core.routing: after the staff member's own writes, from the primary
    until a replica has them). Who is signed in is read before, on the
    primary."""

    def changelist_view(self, request, extra_context=None):
        return replica_view(super().changelist_view)(request, extra_context)


class ActionCheckboxMixin:
    """The changelist's selection checkbox, written as Django's
    ``action_checkbox`` writes it but without rendering the widget's
    templates for every row, which took two fifths of the time spent writing
    the rows of a page of 100 purchases. A test holds the two equal."""

    def action_checkbox(self, obj):
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


# Money and percentages typed and shown the Brazilian way ("1.299,90").
DECIMAL_FORMFIELD_OVERRIDES = {models.DecimalField: {"form_class": BrazilianDecimalField}}


FRESH_COUNT_SESSION_KEY = "admin:fresh_count"


class ModelAdmin(ReplicaReadsAdminMixin, BoundedChangeListMixin, ActionCheckboxMixin, admin.ModelAdmin):
    """The base of every admin of the project: Django's, with the
    changelist read from a replica (when there are any) and bounded, the
    checkbox written directly and decimals in the Brazilian form. Admins
    built on another of Django's (the users') add the three mixins to it."""

    formfield_overrides = DECIMAL_FORMFIELD_OVERRIDES
    # Portuguese nouns have a gender Django's messages ignore ("O política …
    # foi removido"): True for the models named by a feminine noun.
    feminine_name = False

    def response_action(self, request, queryset):
        response = super().response_action(request, queryset)
        if isinstance(response, HttpResponseRedirect):
            # The action changed rows: the list it returns to counts them
            # afresh, not from the few seconds' cache.
            request.session[FRESH_COUNT_SESSION_KEY] = True
        return response

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        # Read once per request: the bounded changelist asks for a paginator
        # twice (to check the page's depth, then to read it).
        if not hasattr(request, "_admin_fresh_count"):
            request._admin_fresh_count = request.session.pop(FRESH_COUNT_SESSION_KEY, False)
        paginator.fresh_count = request._admin_fresh_count
        if hasattr(paginator, "count_floor"):
            # Set by a search that knows some of its rows (PurchaseAdmin's).
            paginator.count_floor = getattr(request, "admin_count_floor", None)
        return paginator

    def message_user(self, request, message, level=messages.INFO, extra_tags="", fail_silently=False):
        if get_language().startswith("pt"):
            message = agree_in_gender(message, feminine=self.feminine_name)
        super().message_user(request, message, level, extra_tags, fail_silently)


# Django's Portuguese messages, written for masculine nouns, as they read for
# feminine ones; and its bulk deletion's "Removido 3 …" in number and gender.
_FEMININE = [
    (re.compile(r"^O(\s+)"), r"A\1"),
    (re.compile(r"\b(adicionad|alterad|removid)o\b"), r"\1a"),
    (re.compile(r"\b(editá|alterá)-lo\b"), r"\1-la"),
    (re.compile(r"\boutro\b"), "outra"),
]
_BULK_DELETED = re.compile(r"^Removido (\d+) ")


def agree_in_gender(message, *, feminine: bool):
    text = str(message)
    if feminine:
        # Only Django's words: not inside the object's name, between “ and ”.
        parts = re.split(r"(“[^”]*”)", text)
        for index in range(0, len(parts), 2):
            for pattern, replacement in _FEMININE:
                parts[index] = pattern.sub(replacement, parts[index])
        text = "".join(parts)
    if match := _BULK_DELETED.match(text):
        word = ("Removida" if feminine else "Removido") + ("s" if int(match[1]) > 1 else "")
        text = f"{word} {text[len('Removido ') :]}"
    return mark_safe(text) if isinstance(message, SafeData) else text  # noqa: S308 (it was safe)


class TabularInline(admin.TabularInline):
    """The base of the project's inlines: decimals in the Brazilian form."""

    formfield_overrides = DECIMAL_FORMFIELD_OVERRIDES


# --- Background jobs ------------------------------------------------------------


class JobAdmin(ModelAdmin):
    """The jobs page: what each background job is doing or did, for the staff
    member who started it (superusers see everyone's). Read-only: jobs are
    started from the pages they act on (a bulk review, an export).
    Registered by core.apps.AdminConfig once the site exists (this module
    defines the site's class, so it cannot register with it on import)."""

    feminine_name = True  # "tarefa"
    list_display = [
        "what",
        "created_by",
        "created_at",
        "status",
        "progress",
        "failures",
        "finished_at",
        "file_link",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["created_by"]
    fields = [
        "what",
        "status",
        "progress",
        "failures",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "result_text",
        "error",
        "file_link",
    ]
    readonly_fields = fields
    change_list_template = "admin/core/job/change_list.html"
    change_form_template = "admin/core/job/change_form.html"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or request.user.is_superuser or obj.created_by_id == request.user.pk

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(created_by=request.user)

    def changelist_view(self, request, extra_context=None):
        running = (
            self.get_queryset(request).filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).exists()
        )
        return super().changelist_view(request, {**(extra_context or {}), "jobs_running": running})

    def get_urls(self):
        download = path(
            "<uuid:pk>/download/", self.admin_site.admin_view(self.download_view), name="core_job_download"
        )
        return [download, *super().get_urls()]

    def download_view(self, request, pk):
        from core.jobs import job_download_allowed
        from core.views import job_file_response

        job = self.get_queryset(request).filter(pk=pk).first()
        if job is None or not request.user.has_perm(job.permission):
            raise PermissionDenied
        if not job_download_allowed(job, request.GET.get("token", "")):  # forged (None) or expired
            self.message_user(
                request, gettext("This link has expired or its file was removed."), messages.ERROR
            )
            return HttpResponseRedirect(reverse("admin:core_job_change", args=[job.pk]))
        return job_file_response(job)

    @admin.display(description=_("job"))
    def what(self, job: Job) -> str:
        return job.description or job.get_kind_display()

    @admin.display(description=_("progress"))
    def progress(self, job: Job) -> str:
        from django.utils.formats import number_format

        done, total = (
            number_format(job.done, force_grouping=True),
            number_format(job.total, force_grouping=True),
        )
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {}', job.done, max(job.total, 1), done, total
        )

    @admin.display(description=_("result"))
    def result_text(self, job: Job) -> str:
        return job.result.get("summary", "") if isinstance(job.result, dict) else ""

    @admin.display(description=_("file"))
    def file_link(self, job: Job) -> str:
        from core.jobs import job_download_url

        url = job_download_url(job)
        if url is None:
            return "—"
        token = url.partition("?token=")[2]
        link = reverse("admin:core_job_download", args=[job.pk]) + f"?token={token}"
        return format_html('<a href="{}">{}</a>', link, gettext("Download"))
