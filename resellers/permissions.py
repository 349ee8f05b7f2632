"""The resellers' CPFs, to staff: only with their own permission.

Staff who may see resellers (``resellers.view_reseller``) see their name and
e-mail; the CPF, personal data under the LGPD, only with
``resellers.view_reseller_cpf`` (declared in Reseller.Meta.permissions). The
API's staff routes answer ``cpf: null`` without it, the admin leaves it off
its pages. A reseller always sees their own.
"""

CPF_PERMISSION = "resellers.view_reseller_cpf"


def cpf_visible_to(user) -> bool:
    """Whether this user may see other people's CPFs (superusers may)."""
    return bool(user and user.is_authenticated and user.is_staff and user.has_perm(CPF_PERMISSION))
