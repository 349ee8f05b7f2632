import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from resellers import admin as reseller_admin
from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.selectors import reseller_cpf_condition, reseller_get_by_cpf
from resellers.tests.factories import ResellerFactory, make_cpf

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/resellers/reseller/"
ADD = f"{CHANGELIST}add/"


@pytest.fixture
def ana(db):
    return ResellerFactory(user__email="ana@example.com", user__full_name="Ana Souza")


@pytest.fixture
def bia(db):
    return ResellerFactory(user__email="bia@example.com", user__full_name="Bia Lima")


def change_url(reseller):
    return f"{CHANGELIST}{reseller.pk}/change/"


def found(response):
    return sorted(reseller.user.email for reseller in response.context["cl"].result_list)


def cpf_errors(response):
    return response.context["adminform"].form.errors.get("cpf")


# --- The search helper ----------------------------------------------------------


def test_cpf_condition_accepts_either_format_and_nothing_else():
    digits = make_cpf(7)
    index = cpf_codec.blind_index(digits)
    assert reseller_cpf_condition(digits).children == [("cpf_index", index)]
    assert reseller_cpf_condition(cpf_codec.format_cpf(digits), lookup="reseller__cpf_index").children == [
        ("reseller__cpf_index", index)
    ]
    wrong_check_digit = digits[:10] + str((int(digits[10]) + 1) % 10)
    for term in ["", "ana", digits[:9], cpf_codec.format_cpf(digits)[:7], "11111111111", wrong_check_digit]:
        assert reseller_cpf_condition(term) is None


# --- Changelist -----------------------------------------------------------------


def test_changelist_shows_formatted_cpfs_and_never_the_ciphertext(admin_client, ana, bia):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    for reseller in [ana, bia]:
        assert reseller.cpf_formatted in content
        assert reseller.user.email in content
        assert reseller.user.full_name in content
        assert reseller.cpf_encrypted not in content
        assert reseller.cpf_index not in content


def test_search_by_name_email_and_exact_cpf(admin_client, ana, bia):
    assert found(admin_client.get(CHANGELIST, {"q": "souza"})) == ["ana@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": "bia@"})) == ["bia@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": "example.com"})) == ["ana@example.com", "bia@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf})) == ["bia@example.com"]
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf_formatted})) == ["bia@example.com"]


def test_a_partial_cpf_finds_nothing(admin_client, ana, bia):
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf[:8]})) == []
    assert found(admin_client.get(CHANGELIST, {"q": bia.cpf_formatted[:11]})) == []


def test_changelist_has_no_n_plus_one(admin_client, django_assert_max_num_queries):
    ResellerFactory()
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(CHANGELIST).status_code == 200
    ResellerFactory.create_batch(49)
    # session, user, COUNT, full COUNT, the page (one query joining the user).
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50
    assert len(one.captured_queries) <= 5


# --- Change form ----------------------------------------------------------------


def test_change_form_shows_the_formatted_cpf_only(admin_client, ana):
    response = admin_client.get(change_url(ana))
    assert response.status_code == 200
    assert response.context["adminform"].form["cpf"].value() == ana.cpf_formatted
    content = response.content.decode()
    assert ana.cpf_encrypted not in content
    assert ana.cpf_index not in content
    assert 'name="cpf_encrypted"' not in content
    assert 'name="cpf_index"' not in content


@pytest.mark.parametrize(
    "value", ["", "123", "111.111.111-11", "153.509.460-57", "1535094605a", "153509460-56"]
)
def test_change_form_refuses_an_invalid_cpf(admin_client, ana, value):
    before = (ana.cpf_encrypted, ana.cpf_index)
    response = admin_client.post(change_url(ana), {"cpf": value})
    assert response.status_code == 200
    assert cpf_errors(response)
    ana.refresh_from_db()
    assert (ana.cpf_encrypted, ana.cpf_index) == before


@pytest.mark.parametrize("formatted", [True, False])
def test_change_form_refuses_another_resellers_cpf(admin_client, ana, bia, formatted):
    response = admin_client.post(change_url(ana), {"cpf": bia.cpf_formatted if formatted else bia.cpf})
    assert response.status_code == 200
    assert cpf_errors(response)
    ana.refresh_from_db()
    assert ana.cpf != bia.cpf


def test_change_form_saves_a_new_cpf_through_the_blind_index(admin_client, ana):
    old, new = ana.cpf, make_cpf(999_999)
    response = admin_client.post(change_url(ana), {"cpf": cpf_codec.format_cpf(new)})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.cpf == new
    assert ana.cpf_index == cpf_codec.blind_index(new)
    assert new not in ana.cpf_encrypted
    assert reseller_get_by_cpf(cpf=new) == ana
    assert reseller_get_by_cpf(cpf=old) is None


def test_change_form_keeps_the_own_cpf(admin_client, ana):
    cpf = ana.cpf
    assert admin_client.post(change_url(ana), {"cpf": ana.cpf_formatted}).status_code == 302
    ana.refresh_from_db()
    assert ana.cpf == cpf
    assert ana.user.email == "ana@example.com"


def test_a_cpf_taken_between_validation_and_save_is_a_form_error(admin_client, ana, bia, monkeypatch):
    # Simulate the race: the first uniqueness check misses a concurrent save.
    real = reseller_admin.reseller_cpf_taken
    calls = []

    def racy(*, cpf_index, exclude_pk=None):
        calls.append(cpf_index)
        return False if len(calls) == 1 else real(cpf_index=cpf_index, exclude_pk=exclude_pk)

    monkeypatch.setattr(reseller_admin, "reseller_cpf_taken", racy)
    response = admin_client.post(change_url(ana), {"cpf": bia.cpf})
    assert response.status_code == 200
    assert cpf_errors(response)
    assert len(calls) == 2
    ana.refresh_from_db()
    assert ana.cpf != bia.cpf


# --- Add form -------------------------------------------------------------------


def test_add_form_creates_a_reseller_for_an_existing_user(admin_client):
    assert admin_client.get(ADD).status_code == 200
    user, cpf = UserFactory(), make_cpf(123_456)
    response = admin_client.post(ADD, {"user": user.pk, "cpf": cpf_codec.format_cpf(cpf)})
    assert response.status_code == 302
    reseller = reseller_get_by_cpf(cpf=cpf)
    assert reseller.user == user
    assert reseller.cpf == cpf


def test_add_form_refuses_a_taken_user_or_cpf(admin_client, ana):
    response = admin_client.post(ADD, {"user": ana.user.pk, "cpf": make_cpf(123_456)})
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors

    response = admin_client.post(ADD, {"user": UserFactory().pk, "cpf": ana.cpf_formatted})
    assert response.status_code == 200
    assert cpf_errors(response)
    assert Reseller.objects.count() == 1


# --- Access ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "reseller", "user"])
def test_only_staff_reach_the_resellers_admin(client, ana, who):
    if who == "reseller":
        client.force_login(ana.user)
    elif who == "user":
        client.force_login(UserFactory())
    for url in [CHANGELIST, change_url(ana), ADD]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert client.post(change_url(ana), {"cpf": make_cpf(5)}).status_code == 302
    ana.refresh_from_db()
    assert ana.cpf != make_cpf(5)
