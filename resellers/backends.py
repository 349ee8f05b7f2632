"""Login by CPF, as a Django authentication backend.

The CPF lives with the reseller, so the login route (in ``accounts``) does not
look it up itself: it calls ``authenticate(cpf=..., password=...)`` and this
backend, listed in ``AUTHENTICATION_BACKENDS``, answers for it. E-mail logins
never reach it (its signature takes no ``email``).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend

from resellers.selectors import reseller_get_by_cpf


class CPFBackend(BaseBackend):
    """Authenticates; permissions stay with ModelBackend (listed first)."""

    def authenticate(self, request, cpf=None, password=None):
        if cpf is None or password is None:
            return None
        reseller = reseller_get_by_cpf(cpf=cpf)
        if reseller is None:
            # Hash anyway, as ModelBackend does for an unknown e-mail: an
            # unknown CPF costs the same time as a wrong password.
            get_user_model()().set_password(password)
            return None
        user = reseller.user
        if user.check_password(password) and user.is_active:
            return user
        return None

    def login_user_id(self, cpf=None, **credentials):
        """The account a CPF names (for the login throttles), or None."""
        reseller = reseller_get_by_cpf(cpf=cpf) if cpf is not None else None
        return reseller.user_id if reseller is not None else None

    def get_user(self, user_id):
        return ModelBackend().get_user(user_id)
