from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

NOT_A_RESELLER_MESSAGE = _("This account has no reseller profile.")


def get_reseller(user):
    """The user's reseller profile, or None (staff accounts have none)."""
    if not user or not user.is_authenticated:
        return None
    return getattr(user, "reseller", None)


class IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsReseller(BasePermission):
    message = NOT_A_RESELLER_MESSAGE

    def has_permission(self, request, view) -> bool:
        return get_reseller(request.user) is not None


class IsResellerOrStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or get_reseller(user)))
