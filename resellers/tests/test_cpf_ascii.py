"""Only ASCII 0-9 are CPF digits: a CPF already taken cannot register again
written in other digits, nor log in that way; and the data check reports
CPFs stored before this rule."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

# 153.509.460-56 in other scripts' digits, and mixed with ASCII ones.
FOREIGN = [
    "".join(chr(0xFF10 + int(d)) if d.isdigit() else d for d in "153.509.460-56"),  # fullwidth
    "".join(chr(0x0660 + int(d)) for d in "15350946056"),  # Arabic-Indic
    "".join(chr(0x0966 + int(d)) for d in "15350946056"),  # Devanagari
    "15350946\u0660\u0665\u0666",  # one foreign digit among ASCII ones
]


@pytest.mark.parametrize("value", FOREIGN)
def test_normalize_refuses_non_ascii_digits(value):
    with pytest.raises(cpf_codec.InvalidCPF):
        cpf_codec.normalize(value)


@pytest.mark.parametrize("value", FOREIGN)
def test_a_taken_cpf_cannot_register_again_in_other_digits(value):
    ResellerFactory(cpf="15350946056")
    body = {"full_name": "Copy", "cpf": value, "email": "copy@example.com", "password": "s3nha-Forte-2024"}
    response = APIClient().post("/api/v1/resellers/", body, format="json")
    assert response.status_code == 400
    assert "cpf" in response.json()
    assert Reseller.objects.count() == 1


@pytest.mark.parametrize("value", FOREIGN)
def test_login_by_cpf_takes_ascii_digits_only(value):
    ResellerFactory(cpf="15350946056")
    response = APIClient().post("/api/v1/auth/token/", {"cpf": value, "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_data_check_passes_on_clean_data():
    ResellerFactory(cpf="15350946056")
    ResellerFactory(cpf="52998224725")
    call_command("check_cpf_duplicates")


def test_data_check_reports_cpfs_stored_with_other_digits_by_id_only(capsys):
    original = ResellerFactory(cpf="15350946056")
    copy = ResellerFactory(cpf="52998224725")
    # As the old parser stored it: the digits as written, indexed as written.
    Reseller.objects.filter(pk=copy.pk).update(
        cpf_encrypted=cpf_codec.encrypt(FOREIGN[1]), cpf_index=cpf_codec.blind_index(FOREIGN[1])
    )
    with pytest.raises(CommandError):
        call_command("check_cpf_duplicates")
    output = capsys.readouterr().out
    assert f"reseller {copy.pk}: CPF stored with non-ASCII digits" in output
    assert f"resellers {original.pk}, {copy.pk}: the same CPF" in output
    assert "15350946056" not in output
