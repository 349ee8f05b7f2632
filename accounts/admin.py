from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from accounts.services import user_bulk_deactivate
from accounts.throttles import (
    THROTTLE_UNAVAILABLE_MESSAGE,
    TOO_MANY_ATTEMPTS_MESSAGE,
    LoginFailureThrottle,
    ThrottleUnavailable,
    login_allowed,
)
from core.admin import ActionCheckboxMixin, BoundedChangeListMixin, ReplicaReadsAdminMixin
from core.pagination import DeferredJoinPaginator


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login, under the API login's throttles (per address, and
    failures per account and address), failing closed like them."""

    def clean(self):
        try:
            allowed = login_allowed(self.request)
        except ThrottleUnavailable as exc:
            raise ValidationError(THROTTLE_UNAVAILABLE_MESSAGE, code="throttle_unavailable") from exc
        if not allowed:
            raise ValidationError(TOO_MANY_ATTEMPTS_MESSAGE, code="throttled")
        try:
            return super().clean()
        except ValidationError as exc:
            if getattr(exc, "code", None) in ("invalid_login", "inactive"):
                LoginFailureThrottle.record_failure(self.request)
            raise
        finally:
            LoginFailureThrottle.end_attempt(self.request)


OWN_ACCOUNT_KEPT_MESSAGE = _("Your own account was left active.")


# The site lives in core, which knows nothing of accounts: the login form is
# set from here, as models are registered.
admin.site.login_form = ThrottledAdminAuthenticationForm


class UserCreateForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(ReplicaReadsAdminMixin, BoundedChangeListMixin, ActionCheckboxMixin, BaseUserAdmin):
    form = UserEditForm
    actions = ["deactivate_users"]

    @admin.action(description=_("Deactivate selected users"), permissions=["change"])
    def deactivate_users(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        changed = user_bulk_deactivate(user_ids=selected, keep_id=request.user.pk)
        message = ngettext("%(count)d user deactivated.", "%(count)d users deactivated.", changed)
        self.message_user(request, message % {"count": changed}, messages.SUCCESS)
        if request.user.pk in selected:
            self.message_user(request, OWN_ACCOUNT_KEPT_MESSAGE, messages.WARNING)

    @admin.display(description=User._meta.get_field("date_joined").verbose_name, ordering="date_joined")
    def joined_on(self, user):
        # The day alone, as in the resellers' list: the whole date in a
        # narrow column (the user's page shows the time).
        return formats.date_format(timezone.localtime(user.date_joined), "SHORT_DATE_FORMAT")

    add_form = UserCreateForm
    # Built for tens of thousands of accounts (every reseller has one): deep
    # pages walk the ids first, and no count per filter choice (the facets
    # read the whole table once per filter, on every list).
    paginator = DeferredJoinPaginator
    show_facets = admin.ShowFacets.NEVER
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "joined_on"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("full_name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "password1", "password2"),
            },
        ),
    )


# Django registers the groups' admin with its own class: the project's
# mixins, like every other admin's.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ReplicaReadsAdminMixin, BoundedChangeListMixin, ActionCheckboxMixin, BaseGroupAdmin):
    pass
