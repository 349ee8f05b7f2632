import pytest

from conftest import EN
from products.models import Category
from products.services import (
    CATEGORY_IN_USE_MESSAGE,
    CATEGORY_NAME_TAKEN_MESSAGE,
    CATEGORY_SLUG_REQUIRED_MESSAGE,
    CATEGORY_SLUG_TAKEN_MESSAGE,
)
from products.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/categories/"


def detail(category_id) -> str:
    return f"{LIST}{category_id}/"


def test_list_shape_ordered_by_name(reseller_client):
    body_care = CategoryFactory(name="Corpo e banho", slug="corpo-e-banho")
    perfume = CategoryFactory(name="Perfumaria", slug="perfumaria")
    response = reseller_client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"] == [
        {"id": body_care.id, "name": "Corpo e banho", "slug": "corpo-e-banho"},
        {"id": perfume.id, "name": "Perfumaria", "slug": "perfumaria"},
    ]


def test_list_requires_authentication(api_client):
    assert api_client.get(LIST).status_code == 401


def test_detail(reseller_client):
    category = CategoryFactory()
    response = reseller_client.get(detail(category.id))
    assert response.status_code == 200
    assert response.json() == {"id": category.id, "name": category.name, "slug": category.slug}
    assert reseller_client.get(detail(999999)).status_code == 404


@pytest.mark.parametrize("size", [1, 30])
def test_list_query_count_is_constant(reseller_client, django_assert_num_queries, size):
    CategoryFactory.create_batch(size)
    # Cache cold, user from the token: 1 count, 1 page of categories.
    with django_assert_num_queries(2):
        response = reseller_client.get(LIST, {"page_size": 100})
    assert len(response.json()["results"]) == size


def test_staff_creates_a_category_with_a_slug_from_its_name(staff_client):
    response = staff_client.post(LIST, {"name": "  Cuidados   com a Pele "}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "Cuidados com a Pele"
    assert response.json()["slug"] == "cuidados-com-a-pele"
    assert Category.objects.filter(slug="cuidados-com-a-pele").exists()


def test_staff_creates_a_category_with_its_own_slug(staff_client):
    response = staff_client.post(LIST, {"name": "Perfumaria", "slug": "Perfumes"}, format="json")
    assert response.status_code == 201
    assert response.json()["slug"] == "perfumes"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "PERFUMARIA", "slug": "outra"}, "name", CATEGORY_NAME_TAKEN_MESSAGE),
        ({"name": "Outra", "slug": "perfumaria"}, "slug", CATEGORY_SLUG_TAKEN_MESSAGE),
        ({"name": "!!!"}, "slug", CATEGORY_SLUG_REQUIRED_MESSAGE),
    ],
)
def test_create_rejects_duplicates_and_unsluggable_names(staff_client, data, field, message):
    CategoryFactory(name="Perfumaria", slug="perfumaria")
    response = staff_client.post(LIST, data, format="json", **EN)
    assert response.status_code == 400
    assert response.json() == {field: [str(message)]}
    assert Category.objects.count() == 1


@pytest.mark.parametrize("data", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "ok", "slug": "não slug"}])
def test_create_rejects_bad_input(staff_client, data):
    response = staff_client.post(LIST, data, format="json")
    assert response.status_code == 400
    assert not Category.objects.exists()


def test_staff_renames_a_category(staff_client):
    category = CategoryFactory(name="Perfumes", slug="perfumes")
    response = staff_client.patch(detail(category.id), {"name": "Perfumaria"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"id": category.id, "name": "Perfumaria", "slug": "perfumes"}


def test_staff_replaces_a_category(staff_client):
    category = CategoryFactory()
    response = staff_client.put(detail(category.id), {"name": "Maquiagem", "slug": "make"}, format="json")
    assert response.status_code == 200
    assert response.json()["slug"] == "make"


def test_rename_keeps_own_name_in_another_case(staff_client):
    category = CategoryFactory(name="Perfumaria")
    assert staff_client.patch(detail(category.id), {"name": "PERFUMARIA"}, format="json").status_code == 200


def test_staff_deletes_an_empty_category(staff_client):
    category = CategoryFactory()
    assert staff_client.delete(detail(category.id)).status_code == 204
    assert not Category.objects.filter(pk=category.pk).exists()


def test_deleting_a_category_with_products_is_409(staff_client):
    product = ProductFactory(is_active=False)
    response = staff_client.delete(detail(product.category_id), **EN)
    assert response.status_code == 409
    assert response.json() == {"detail": str(CATEGORY_IN_USE_MESSAGE), "code": "conflict"}
    assert Category.objects.filter(pk=product.category_id).exists()


def test_resellers_cannot_write_categories(reseller_client):
    category = CategoryFactory()
    assert reseller_client.post(LIST, {"name": "X"}, format="json").status_code == 403
    assert reseller_client.patch(detail(category.id), {"name": "X"}, format="json").status_code == 403
    assert reseller_client.delete(detail(category.id)).status_code == 403
    assert Category.objects.get(pk=category.pk).name == category.name


def test_anonymous_cannot_write_categories(api_client):
    category = CategoryFactory()
    assert api_client.post(LIST, {"name": "X"}, format="json").status_code == 401
    assert api_client.delete(detail(category.id)).status_code == 401
