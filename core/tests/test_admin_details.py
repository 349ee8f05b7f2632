"""The admin's details in Portuguese: counts with thousands separators,
messages agreeing with the model's gender, a count that follows a bulk
action, no "Mostrar tudo" on an unfiltered list, Brazilian dates in titles,
purchases found by the reseller's name."""

import re
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from products.models import Category
from products.tests.factories import CategoryFactory
from purchases.models import CashbackPolicy, Purchase
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

CATEGORIES = "/admin/products/category/"
PURCHASES = "/admin/purchases/purchase/"


def text_of(response) -> str:
    # The words people read: tags dropped, spaces collapsed.
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


@pytest.fixture
def thousand_categories(db):
    Category.objects.bulk_create(
        Category(name=f"Categoria {n:04}", slug=f"categoria-{n:04}") for n in range(1000)
    )


@pytest.mark.usefixtures("thousand_categories")
def test_counts_have_thousands_separators_and_select_all_agrees_in_gender(admin_client):
    page = text_of(admin_client.get(CATEGORIES))
    assert "1.000 categorias" in page
    assert "Selecionar todas as 1.000 categorias" in page


def test_select_all_in_the_masculine(admin_client):
    from products.tests.factories import ProductFactory

    category = CategoryFactory()
    ProductFactory.create_batch(101, category=category)
    assert "Selecionar todos os 101 produtos" in text_of(admin_client.get("/admin/products/product/"))


@pytest.mark.usefixtures("thousand_categories")
def test_search_counts_have_thousands_separators(admin_client):
    CategoryFactory(name="Outra")
    page = text_of(admin_client.get(CATEGORIES, {"q": "Categoria"}))
    assert "1.000 resultados (1.001 total)" in page


def test_messages_agree_with_feminine_models(admin_client):
    category = CategoryFactory(name="Perfumaria")
    response = admin_client.post(f"{CATEGORIES}{category.pk}/delete/", {"post": "yes"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "A categoria “Perfumaria” foi removida com sucesso."
    ]
    response = admin_client.post(
        "/admin/purchases/cashbackpolicy/add/",
        {
            "effective_from": "2099-01-01",
            "description": "",
            "tiers-TOTAL_FORMS": "1",
            "tiers-INITIAL_FORMS": "0",
            "tiers-0-up_to": "",
            "tiers-0-percent": "10",
        },
    )
    assert response.status_code == 302
    policy = CashbackPolicy.objects.get(effective_from=date(2099, 1, 1))
    message = re.sub(r"<[^>]+>", "", str(list(get_messages(response.wsgi_request))[-1]))
    assert message == f"A política de cashback “{policy}” foi adicionada com sucesso."


def test_bulk_delete_message_agrees_in_number_and_gender(admin_client):
    categories = CategoryFactory.create_batch(2)
    response = admin_client.post(
        CATEGORIES,
        {"action": "delete_selected", "_selected_action": [c.pk for c in categories], "post": "yes"},
    )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Removidas 2 categorias com sucesso."]


def test_messages_leave_the_objects_name_alone(admin_client):
    category = CategoryFactory(name="O outro adicionado")
    response = admin_client.post(f"{CATEGORIES}{category.pk}/delete/", {"post": "yes"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "A categoria “O outro adicionado” foi removida com sucesso."
    ]


@pytest.mark.usefixtures("default_cashback_policy")
def test_the_count_after_a_bulk_action_is_fresh(admin_client, settings, make_purchase):
    settings.LIST_COUNT_CACHE_SECONDS = 60
    purchases = [make_purchase() for _ in range(3)]
    pending = f"{PURCHASES}?status__exact=validating"
    assert "3 compras" in text_of(admin_client.get(pending))
    response = admin_client.post(
        pending, {"action": "approve_selected", "_selected_action": [purchases[0].pk], "index": "0"}
    )
    assert response.status_code == 302
    assert Purchase.objects.filter(status=Purchase.Status.VALIDATING).count() == 2
    page = text_of(admin_client.get(response["Location"]))
    assert "2 compras" in page, re.findall(r".{40}compras.{40}", page)
    # Then cached again for the others and the next pages, as before.
    Purchase.objects.filter(pk=purchases[1].pk).update(status=Purchase.Status.APPROVED)
    assert "2 compras" in text_of(admin_client.get(pending))


@pytest.mark.usefixtures("default_cashback_policy")
def test_show_all_only_where_something_is_filtered(admin_client, make_purchase):
    make_purchase(code="NF-1")
    unfiltered = text_of(admin_client.get(PURCHASES))
    assert "Mostrar tudo" not in unfiltered
    searched = text_of(admin_client.get(PURCHASES, {"q": "NF-1"}))
    assert "1 resultado (" in searched
    assert "Mostrar tudo" in searched
    filtered = text_of(admin_client.get(PURCHASES, {"status__exact": "approved"}))
    assert "Mostrar tudo" in filtered


@pytest.mark.usefixtures("default_cashback_policy")
def test_the_purchase_title_has_a_brazilian_date(admin_client, make_purchase):
    purchase = make_purchase(date=date(2026, 3, 5), code="NF-77")
    page = text_of(admin_client.get(f"{PURCHASES}{purchase.pk}/change/"))
    assert "NF-77 (05/03/2026)" in page
    assert "2026-03-05" not in page


@pytest.mark.usefixtures("default_cashback_policy")
def test_purchases_are_found_by_the_resellers_name(admin_client, make_purchase):
    maria = ResellerFactory(user__full_name="Maria Aparecida Figueiredo")
    mine = make_purchase(maria, code="NF-MARIA")
    make_purchase(code="NF-OTHER")
    response = admin_client.get(PURCHASES, {"q": "aparecida"})
    assert list(response.context["cl"].queryset) == [mine]


def test_permission_names_are_in_portuguese():
    names = dict(
        Permission.objects.filter(
            codename__in=["add_favorite", "view_reseller_cpf", "change_cashbackpolicy", "delete_category"]
        ).values_list("codename", "name")
    )
    assert names == {
        "add_favorite": "Pode adicionar favorito",
        "change_cashbackpolicy": "Pode alterar política de cashback",
        "delete_category": "Pode remover categoria",
        "view_reseller_cpf": "Pode ver o CPF do revendedor",
    }
