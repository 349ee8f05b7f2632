from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User, normalize_email
from accounts.services import user_email_change_notify
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.selectors import reseller_cpf_taken

EMAIL_TAKEN_MESSAGE = _("An account with this e-mail already exists.")
CPF_TAKEN_MESSAGE = _("A reseller with this CPF already exists.")


def _duplicates(*, email: str | None, cpf_index: str | None, exclude_user_id=None) -> dict:
    errors = {}
    if email is not None and User.objects.filter(email=email).exclude(pk=exclude_user_id).exists():
        errors["email"] = [EMAIL_TAKEN_MESSAGE]
    if cpf_index is not None and reseller_cpf_taken(cpf_index=cpf_index):
        errors["cpf"] = [CPF_TAKEN_MESSAGE]
    return errors


@transaction.atomic
def reseller_register(*, full_name: str, cpf: str, email: str, password: str) -> Reseller:
    """Create the login and the reseller profile together (or neither).

    E-mail and CPF uniqueness is checked first for a friendly answer; the
    database constraints settle races, reported on the same fields."""
    email = normalize_email(email)
    digits = cpf_codec.normalize(cpf)
    cpf_index = cpf_codec.lookup_index(digits)
    if errors := _duplicates(email=email, cpf_index=cpf_index):
        raise ValidationError(errors, code="unique")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
            return Reseller.objects.create(user=user, cpf=digits)
    except IntegrityError as exc:
        errors = _duplicates(email=email, cpf_index=cpf_index) or {"email": [EMAIL_TAKEN_MESSAGE]}
        raise ValidationError(errors, code="unique") from exc


@transaction.atomic
def reseller_profile_update(
    *, reseller: Reseller, full_name: str | None = None, email: str | None = None
) -> Reseller:
    """Change the name and/or the e-mail address. A new address (the same
    one in another case is none) is told to the previous one once committed.
    Whoever calls this has checked the right to change the address (the API:
    the current password)."""
    user = reseller.user
    old_email = user.email
    changes = {}
    if full_name is not None:
        changes["full_name"] = full_name
    if email is not None and normalize_email(email) != old_email:
        changes["email"] = normalize_email(email)
        if errors := _duplicates(email=changes["email"], cpf_index=None, exclude_user_id=user.pk):
            raise ValidationError(errors, code="unique")
    if not changes:
        return reseller
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        with transaction.atomic():
            user.save(update_fields=list(changes))
    except IntegrityError as exc:
        raise ValidationError({"email": [EMAIL_TAKEN_MESSAGE]}, code="unique") from exc
    if "email" in changes:
        user_email_change_notify(user=user, old_email=old_email, changed_at=timezone.now())
    return reseller
