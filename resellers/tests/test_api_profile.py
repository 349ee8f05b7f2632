import pytest

from accounts.models import User
from accounts.permissions import NOT_A_RESELLER_MESSAGE
from accounts.tests.factories import PASSWORD, StaffFactory
from conftest import authenticated_client
from core.serializers import UNKNOWN_FIELD_MESSAGE
from resellers.services import EMAIL_TAKEN_MESSAGE
from resellers.tests.factories import ResellerFactory, make_cpf

pytestmark = pytest.mark.django_db

ME = "/api/v1/resellers/me/"
LIST = "/api/v1/resellers/"


def test_me_shows_own_profile_with_formatted_cpf(reseller, reseller_client):
    response = reseller_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": reseller.id,
        "full_name": reseller.user.full_name,
        "cpf": reseller.cpf_formatted,
        "email": reseller.user.email,
        "created_at": response.json()["created_at"],
    }


def test_me_requires_a_reseller_profile(staff_client):
    response = staff_client.get(ME)
    assert response.status_code == 403
    assert response.json()["detail"] == str(NOT_A_RESELLER_MESSAGE)


def test_me_requires_authentication(api_client):
    assert api_client.get(ME).status_code == 401


def test_patch_me_changes_name_and_email(reseller, reseller_client):
    response = reseller_client.patch(
        ME,
        {"full_name": "  Ana   Souza ", "email": "ANA@Example.com", "current_password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["full_name"] == "Ana Souza"
    assert response.json()["email"] == "ana@example.com"
    reseller.user.refresh_from_db()
    assert (reseller.user.full_name, reseller.user.email) == ("Ana Souza", "ana@example.com")


def test_patch_me_keeps_own_email_in_another_case(reseller, reseller_client):
    response = reseller_client.patch(ME, {"email": reseller.user.email.upper()}, format="json")
    assert response.status_code == 200


def test_patch_me_rejects_an_email_in_use(reseller, reseller_client):
    other = ResellerFactory()
    response = reseller_client.patch(
        ME, {"email": other.user.email.upper(), "current_password": PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"email": [str(EMAIL_TAKEN_MESSAGE)]}
    reseller.user.refresh_from_db()
    assert reseller.user.email != other.user.email


@pytest.mark.parametrize(
    "data", [{"full_name": ""}, {"full_name": "   "}, {"email": "nope"}, {"full_name": "x" * 151}]
)
def test_patch_me_rejects_bad_values(reseller, reseller_client, data):
    before = User.objects.values().get(pk=reseller.user_id)
    response = reseller_client.patch(ME, data, format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(data)
    assert User.objects.values().get(pk=reseller.user_id) == before


@pytest.mark.parametrize(
    "body",
    [
        {"cpf": make_cpf(999)},
        {"password": "an0ther-Senha-2024"},
        {"is_staff": True},
        {"full_name": "X", "id": 9},
    ],
)
def test_patch_me_refuses_what_it_cannot_change_naming_the_field(reseller, reseller_client, body):
    user, cpf_index = reseller.user, reseller.cpf_index
    response = reseller_client.patch(ME, body, format="json")
    assert response.status_code == 400
    refused = set(body) - {"full_name"}
    assert set(response.json()) == refused
    assert response.json()[refused.pop()] == [str(UNKNOWN_FIELD_MESSAGE)]
    reseller.refresh_from_db()
    user.refresh_from_db()
    assert (reseller.cpf_index, user.is_staff, user.full_name) == (cpf_index, False, reseller.user.full_name)
    assert user.check_password("s3nha-Forte-2024")


def test_staff_lists_resellers_with_formatted_cpf(staff_client):
    resellers = ResellerFactory.create_batch(3)
    response = staff_client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    by_id = {row["id"]: row for row in body["results"]}
    for reseller in resellers:
        assert by_id[reseller.id]["cpf"] == reseller.cpf_formatted


def test_reseller_cannot_list_resellers(reseller_client):
    assert reseller_client.get(LIST).status_code == 403


def test_anonymous_cannot_list_resellers(api_client):
    assert api_client.get(LIST).status_code == 401


@pytest.mark.parametrize("term", ["153.509.460-56", "15350946056"])
def test_staff_search_by_exact_cpf(staff_client, term):
    target = ResellerFactory(cpf="15350946056")
    ResellerFactory.create_batch(2)
    results = staff_client.get(LIST, {"search": term}).json()["results"]
    assert [row["id"] for row in results] == [target.id]


def test_staff_search_by_partial_cpf_finds_nothing(staff_client):
    ResellerFactory(cpf="15350946056")
    assert staff_client.get(LIST, {"search": "153509"}).json()["count"] == 0


def test_staff_search_by_name_and_email(staff_client):
    maria = ResellerFactory(user__full_name="Maria Aparecida", user__email="cida@example.com")
    ResellerFactory(user__full_name="João Pedro", user__email="jp@example.com")
    assert [r["id"] for r in staff_client.get(LIST, {"search": "aparecida"}).json()["results"]] == [maria.id]
    assert [r["id"] for r in staff_client.get(LIST, {"search": "CIDA@"}).json()["results"]] == [maria.id]


def test_staff_list_pagination_and_limits(staff_client):
    ResellerFactory.create_batch(3)
    body = staff_client.get(LIST, {"page_size": 2}).json()
    assert len(body["results"]) == 2
    assert body["next"]
    assert staff_client.get(LIST, {"page": 99}).status_code == 404
    assert staff_client.get(LIST, {"page_size": 1000}).status_code == 400  # at most 100


@pytest.mark.parametrize("size", [1, 30])
def test_staff_list_query_count_is_constant(staff_client, django_assert_num_queries, size):
    ResellerFactory.create_batch(size)
    # 1 authenticated user, 1 count, 1 page of resellers joined with their users
    with django_assert_num_queries(3):
        response = staff_client.get(LIST, {"page_size": 100})
    assert len(response.json()["results"]) == size


def test_staff_detail(staff_client):
    reseller = ResellerFactory()
    response = staff_client.get(f"{LIST}{reseller.id}/")
    assert response.status_code == 200
    assert response.json()["cpf"] == reseller.cpf_formatted


def test_staff_detail_unknown_is_json_404(staff_client):
    response = staff_client.get(f"{LIST}999999/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_reseller_cannot_see_another_reseller(reseller_client):
    other = ResellerFactory()
    assert reseller_client.get(f"{LIST}{other.id}/").status_code == 403


# --- The CPF, to staff: only with its own permission ------------------------------

SEES_RESELLERS = ["resellers.view_reseller"]
SEES_CPFS = ["resellers.view_reseller", "resellers.view_reseller_cpf"]


def _staff(permissions):
    return authenticated_client(StaffFactory(permissions=permissions))


@pytest.mark.parametrize("route", ["list", "detail"])
def test_staff_without_the_cpf_permission_get_a_null_cpf(route):
    reseller = ResellerFactory()
    client = _staff(SEES_RESELLERS)
    response = client.get(LIST if route == "list" else f"{LIST}{reseller.id}/")
    assert response.status_code == 200
    row = response.json()["results"][0] if route == "list" else response.json()
    assert row["id"] == reseller.id
    assert row["cpf"] is None
    content = response.content.decode()
    assert reseller.cpf not in content
    assert reseller.cpf_formatted not in content


@pytest.mark.parametrize("route", ["list", "detail"])
def test_staff_with_the_cpf_permission_see_it_formatted(route):
    reseller = ResellerFactory()
    response = _staff(SEES_CPFS).get(LIST if route == "list" else f"{LIST}{reseller.id}/")
    row = response.json()["results"][0] if route == "list" else response.json()
    assert row["cpf"] == reseller.cpf_formatted


def test_the_cpf_permission_alone_does_not_open_the_resellers():
    ResellerFactory()
    response = _staff(["resellers.view_reseller_cpf"]).get(LIST)
    assert response.status_code == 403
    assert set(response.json()) == {"detail", "code"}


def test_a_search_by_exact_cpf_still_finds_but_does_not_show_it():
    # The searcher typed the CPF: finding its owner tells them nothing of
    # anyone else's; the answer still leaves it out.
    target = ResellerFactory(cpf="15350946056")
    ResellerFactory()
    rows = _staff(SEES_RESELLERS).get(LIST, {"search": "153.509.460-56"}).json()["results"]
    assert [(row["id"], row["cpf"]) for row in rows] == [(target.id, None)]


@pytest.mark.parametrize("size", [1, 30])
def test_staff_list_query_count_with_permissions_is_constant(django_assert_num_queries, size):
    ResellerFactory.create_batch(size)
    client = _staff(SEES_CPFS)
    # 1 authenticated user, 2 of their permissions (own and groups', read once
    # per request for the route and the CPF alike), 1 count, 1 page
    with django_assert_num_queries(5):
        response = client.get(LIST, {"page_size": 100})
    assert len(response.json()["results"]) == size
