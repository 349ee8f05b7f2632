"""Django's ``createsuperuser``, stricter in ``--no-input`` mode, the way
operators run it (in a one-off container, the values in the environment):
the password validators apply there too (Django skips them), and a missing
value is named by its environment variable, not only by its option."""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError
from django.utils.translation import gettext_lazy as _

MISSING_VALUE = _("Set %(variable)s (or pass --%(option)s) to create a superuser with --no-input.")
PASSWORD_VARIABLE = "DJANGO_SUPERUSER_PASSWORD"


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        if not options["interactive"]:
            self._check_environment(options)
        return super().handle(*args, **options)

    def _check_environment(self, options) -> None:
        values = {}
        for name in (self.UserModel.USERNAME_FIELD, *self.UserModel.REQUIRED_FIELDS):
            variable = f"DJANGO_SUPERUSER_{name.upper()}"
            value = options[name] or os.environ.get(variable)
            if not value:
                raise CommandError(MISSING_VALUE % {"variable": variable, "option": name})
            values[name] = value
        password = os.environ.get(PASSWORD_VARIABLE)
        if password is None:
            return  # as Django: an unusable password, set later
        try:
            # The user as it will be: the similarity rule compares with them.
            validate_password(password, self.UserModel(**values))
        except ValidationError as error:
            raise CommandError(f"{PASSWORD_VARIABLE}: {' '.join(error.messages)}") from error
