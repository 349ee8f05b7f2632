import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import User
from conftest import EN
from resellers.models import Reseller
from resellers.services import CPF_TAKEN_MESSAGE, EMAIL_TAKEN_MESSAGE
from resellers.tests.factories import ResellerFactory, make_cpf

pytestmark = pytest.mark.django_db

URL = "/api/v1/resellers/"


def payload(**overrides):
    data = {
        "full_name": "Maria da Silva",
        "cpf": "153.509.460-56",
        "email": "Maria@Example.com",
        "password": "s3nha-Forte-2024",
    }
    data.update(overrides)
    return data


def test_register_creates_user_and_reseller(api_client):
    response = api_client.post(URL, payload(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "full_name", "cpf", "email", "created_at"}
    assert body["cpf"] == "153.509.460-56"
    assert body["email"] == "maria@example.com"
    assert "password" not in body
    reseller = Reseller.objects.select_related("user").get(pk=body["id"])
    assert reseller.cpf == "15350946056"
    assert reseller.user.check_password("s3nha-Forte-2024")
    assert not reseller.user.is_staff


def test_register_accepts_unformatted_cpf(api_client):
    response = api_client.post(URL, payload(cpf="15350946056"), format="json")
    assert response.status_code == 201
    assert response.json()["cpf"] == "153.509.460-56"


def test_register_ignores_a_stale_authorization_header(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")
    assert api_client.post(URL, payload(), format="json").status_code == 201


def test_cpf_is_encrypted_at_rest(api_client):
    api_client.post(URL, payload(), format="json")
    table = Reseller._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table name
        rows = cursor.fetchall()
    assert len(rows) == 1
    raw = " ".join(str(value) for value in rows[0])
    assert "15350946056" not in raw
    assert "153.509.460-56" not in raw
    assert "153509460" not in raw


@pytest.mark.parametrize("field", ["full_name", "cpf", "email", "password"])
def test_register_requires_every_field(api_client, field):
    data = payload()
    del data[field]
    response = api_client.post(URL, data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "cpf",
    ["153.509.460-57", "15350946057", "111.111.111-11", "1535094605", "abc", "153 509 460 56", ""],
)
def test_register_rejects_invalid_cpf_without_echoing_it(api_client, cpf):
    response = api_client.post(URL, payload(cpf=cpf), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["cpf"]
    if cpf:
        assert cpf not in response.content.decode()
    assert not Reseller.objects.exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [("123", "too short"), ("12345678901", "numeric"), ("password123", "common"), ("mariasilva", "similar")],
)
def test_register_rejects_weak_passwords(api_client, password, reason):
    response = api_client.post(URL, payload(password=password, full_name="Maria Silva"), format="json")
    assert response.status_code == 400, reason
    assert "password" in response.json()
    assert not User.objects.exists()


def test_register_rejects_bad_email(api_client):
    response = api_client.post(URL, payload(email="not-an-email"), format="json")
    assert response.status_code == 400
    assert "email" in response.json()


def test_register_rejects_duplicate_email_in_another_case(api_client):
    ResellerFactory(user__email="maria@example.com")
    response = api_client.post(URL, payload(email="MARIA@EXAMPLE.COM"), format="json")
    assert response.status_code == 400
    assert response.json() == {"email": [str(EMAIL_TAKEN_MESSAGE)]}
    assert User.objects.count() == 1


def test_register_rejects_duplicate_cpf_in_either_format(api_client):
    ResellerFactory(cpf="15350946056")
    response = api_client.post(URL, payload(cpf="153.509.460-56"), format="json")
    assert response.status_code == 400
    assert response.json() == {"cpf": [str(CPF_TAKEN_MESSAGE)]}
    assert "15350946056" not in response.content.decode()
    assert Reseller.objects.count() == 1


def test_register_race_is_reported_on_the_field(api_client, monkeypatch):
    """When two registrations pass the friendly checks together, the database
    constraint decides and the loser still gets a 400 on the field."""
    from resellers import services

    ResellerFactory(cpf=make_cpf(1))
    monkeypatch.setattr(services, "_duplicates", lambda **kwargs: {})
    response = api_client.post(URL, payload(cpf=make_cpf(1)), format="json")
    assert response.status_code == 400
    assert "cpf" in response.json() or "email" in response.json()
    assert User.objects.count() == 1


def test_register_rejects_non_json_body(api_client):
    response = api_client.post(URL, "full_name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "detail" in response.json()


def test_register_rejects_malformed_json(api_client):
    response = api_client.post(URL, '{"full_name": ', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_register_rejects_oversized_body(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api_client.post(URL, payload(full_name="x" * 2000), format="json")
    assert response.status_code == 413
    assert response.json()["detail"]
    assert not User.objects.exists()


def test_register_rejects_non_object_json(api_client):
    response = api_client.post(URL, ["a", "b"], format="json")
    assert response.status_code == 400
    assert not User.objects.exists()


def test_errors_are_in_english_on_request(api_client):
    response = api_client.post(URL, payload(cpf="1"), format="json", **EN)
    assert "valid CPF" in response.json()["cpf"][0]


def test_errors_are_in_portuguese_by_default(api_client):
    response = api_client.post(URL, payload(cpf="1"), format="json")
    assert "CPF válido" in response.json()["cpf"][0]


def test_reverse_names_match_spec_paths():
    assert reverse("reseller-list") == URL
    assert reverse("reseller-me") == "/api/v1/resellers/me/"
