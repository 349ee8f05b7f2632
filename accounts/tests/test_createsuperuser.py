"""``createsuperuser --no-input``, as operators run it in a one-off container:
the password rules apply as everywhere else, and a missing value is named
the way it is given there (an environment variable)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts.models import User
from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ENV = {
    "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    "DJANGO_SUPERUSER_FULL_NAME": "Back Office",
    "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
}


@pytest.fixture
def environment(monkeypatch):
    def set_environment(**overrides):
        for name in ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in {**ENV, **overrides}.items():
            if value is not None:
                monkeypatch.setenv(name, value)

    return set_environment


def createsuperuser():
    out = StringIO()
    call_command("createsuperuser", interactive=False, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_creates_the_superuser_from_the_environment(environment):
    environment()
    createsuperuser()
    user = User.objects.get(email="admin@example.com")
    assert user.is_superuser
    assert user.is_staff
    assert user.full_name == "Back Office"
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("password", ["123", "password", "12345678901", "admin@example", ""])
def test_refuses_a_password_the_validators_refuse(environment, password):
    environment(DJANGO_SUPERUSER_PASSWORD=password)
    with pytest.raises(CommandError) as error:
        createsuperuser()
    assert str(error.value)
    assert not User.objects.exists()


def test_a_short_password_gets_the_validators_message_in_portuguese(environment):
    environment(DJANGO_SUPERUSER_PASSWORD="123")
    with translation.override("pt-br"), pytest.raises(CommandError) as error:
        createsuperuser()
    assert "Esta senha é muito curta" in str(error.value)


def test_without_a_password_the_account_has_no_usable_one(environment):
    # As Django does: the password is set later (changepassword, reset).
    environment(DJANGO_SUPERUSER_PASSWORD=None)
    createsuperuser()
    assert not User.objects.get(email="admin@example.com").has_usable_password()


@pytest.mark.parametrize(
    ("missing", "option"),
    [("DJANGO_SUPERUSER_FULL_NAME", "--full_name"), ("DJANGO_SUPERUSER_EMAIL", "--email")],
)
@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_value_names_its_environment_variable(environment, missing, option, value):
    environment(**{missing: value})
    with translation.override("en"), pytest.raises(CommandError) as error:
        createsuperuser()
    message = str(error.value)
    assert message.startswith(f"Set {missing} (or pass {option})"), message
    assert not User.objects.exists()


def test_a_missing_value_is_named_in_portuguese_by_default(environment):
    environment(DJANGO_SUPERUSER_FULL_NAME=None)
    with translation.override("pt-br"), pytest.raises(CommandError) as error:
        createsuperuser()
    assert str(error.value).startswith("Defina DJANGO_SUPERUSER_FULL_NAME (ou passe --full_name)")


def test_an_option_still_stands_in_for_the_variable(environment):
    environment(DJANGO_SUPERUSER_FULL_NAME=None)
    call_command("createsuperuser", interactive=False, full_name="Given Name", stdout=StringIO())
    assert User.objects.get(email="admin@example.com").full_name == "Given Name"
