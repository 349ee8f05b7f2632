"""Who may call what.

Resellers act on their own data. Staff act through the API with the same
Django permissions the admin asks of them (superusers hold them all): each
staff view names, per action, the permissions it needs, and
``StaffPermissions`` checks them. Being staff alone opens nothing.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

NOT_A_RESELLER_MESSAGE = _("This account has no reseller profile.")


def get_reseller(user):
    """The user's reseller profile, or None (staff accounts have none)."""
    if not user or not user.is_authenticated:
        return None
    return getattr(user, "reseller", None)


class IsReseller(BasePermission):
    message = NOT_A_RESELLER_MESSAGE

    def has_permission(self, request, view) -> bool:
        return get_reseller(request.user) is not None


class StaffPermissions(BasePermission):
    """A staff user holding every permission the view names for the action.

    The view's ``staff_permissions`` maps an action to the permissions it
    needs, all of them, as ``"app_label.codename"``: for a viewset the
    action (``list``, ``create``, ``approve``...), for a plain view the HTTP
    method in lower case (``get``; HEAD is GET). An action the map does not
    name is refused: a route added without saying what it needs stays shut.
    OPTIONS, which only describes the route, needs staff alone, as in DRF's
    DjangoModelPermissions.

    As ``User.has_perms`` decides: superusers hold every permission; an
    inactive user none.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method == "OPTIONS":
            return True
        needed = self.required(view, request.method)
        return needed is not None and user.has_perms(needed)

    @staticmethod
    def required(view, method: str) -> tuple[str, ...] | None:
        """The permissions the view names for this method's action; None
        when it names none."""
        actions = getattr(view, "action_map", None)
        if actions:
            action = actions.get(method.lower())
        else:
            action = "get" if method.upper() == "HEAD" else method.lower()
        needed = getattr(view, "staff_permissions", {}).get(action)
        return None if needed is None else tuple(needed)

    def describe(self, view, method: str) -> str | None:
        """What the API schema says of this permission's 403."""
        needed = self.required(view, method)
        if not needed:
            return None
        *names, last = (f"`{name}`" for name in sorted(needed))
        if not names:
            return gettext("Staff need the permission %(name)s.") % {"name": last}
        return gettext("Staff need the permissions %(names)s and %(last)s.") % {
            "names": ", ".join(names),
            "last": last,
        }


class IsResellerOrStaffPermissions(StaffPermissions):
    """A reseller (not staff) on their own data, as IsReseller; staff as
    StaffPermissions. A staff account is judged as staff even if it also
    has a reseller profile: what it sees is the staff's view."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user and user.is_authenticated and not user.is_staff:
            return get_reseller(user) is not None
        return super().has_permission(request, view)

    def describe(self, view, method: str) -> str | None:
        staff = super().describe(view, method)
        if staff is None:
            return None
        own = gettext("Resellers act on their own purchases.")
        return f"{own} {staff}"
