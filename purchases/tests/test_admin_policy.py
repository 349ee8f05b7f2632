from datetime import date
from decimal import Decimal

import pytest

from purchases.models import CashbackPolicy

pytestmark = pytest.mark.django_db

ADD = "/admin/purchases/cashbackpolicy/add/"


def policy_form(effective_from, tiers):
    data = {
        "effective_from": effective_from,
        "description": "Summer",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    for index, (up_to, percent) in enumerate(tiers):
        data[f"tiers-{index}-up_to"] = up_to
        data[f"tiers-{index}-percent"] = percent
    return data


@pytest.mark.usefixtures("frozen_today")
def test_staff_adds_a_policy_for_a_future_month(admin_client):
    response = admin_client.post(ADD, policy_form("2026-04-01", [("2000.00", "12"), ("", "18")]))
    assert response.status_code == 302
    policy = CashbackPolicy.objects.get(effective_from=date(2026, 4, 1))
    assert [(t.up_to, t.percent) for t in policy.as_tiers()] == [(2000, 12), (None, 18)]


@pytest.mark.usefixtures("frozen_today")
@pytest.mark.parametrize("effective_from", ["2026-03-01", "2026-02-01", "2026-04-15"])
def test_policies_cannot_start_in_a_begun_month_or_mid_month(admin_client, effective_from):
    response = admin_client.post(ADD, policy_form(effective_from, [("", "18")]))
    assert response.status_code == 200
    assert "effective_from" in response.context["adminform"].form.errors
    assert CashbackPolicy.objects.count() == 1


@pytest.mark.usefixtures("frozen_today")
@pytest.mark.parametrize(
    "tiers",
    [
        [("1000", "10")],  # no open-ended tier
        [("", "10"), ("", "20")],  # two open-ended tiers
        [("1000", "10"), ("1000", "15"), ("", "20")],  # repeated bound
        [("1000", "10"), ("", "150")],  # percent over 100
    ],
)
def test_invalid_tiers_are_refused(admin_client, tiers):
    response = admin_client.post(ADD, policy_form("2026-04-01", tiers))
    assert response.status_code == 200
    assert CashbackPolicy.objects.count() == 1


def test_the_policy_in_force_is_read_only(admin_client):
    policy = CashbackPolicy.objects.get()
    url = f"/admin/purchases/cashbackpolicy/{policy.pk}/change/"
    response = admin_client.get(url)
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    admin_client.post(url, policy_form("2030-01-01", [("", "50")]))
    policy.refresh_from_db()
    assert policy.effective_from == date(2000, 1, 1)
    assert (
        admin_client.post(f"/admin/purchases/cashbackpolicy/{policy.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert CashbackPolicy.objects.filter(pk=policy.pk).exists()


def test_policy_changelist(admin_client):
    response = admin_client.get("/admin/purchases/cashbackpolicy/")
    assert response.status_code == 200
    assert "≤ R$ 1.500,00: 15% · sem limite: 20%" in response.content.decode()
    # The month it starts, by name; no bulk actions (no delete of policies in force).
    assert "Janeiro de 2000" in response.content.decode()
    assert 'name="action"' not in response.content.decode()


@pytest.mark.usefixtures("frozen_today")
def test_tiers_are_typed_and_shown_the_brazilian_way(admin_client):
    response = admin_client.post(ADD, policy_form("2026-04-01", [("1.500,00", "7,5"), ("", "12,25")]))
    assert response.status_code == 302
    policy = CashbackPolicy.objects.get(effective_from=date(2026, 4, 1))
    assert [(t.up_to, t.percent) for t in policy.as_tiers()] == [
        (Decimal("1500"), Decimal("7.5")),
        (None, Decimal("12.25")),
    ]
    page = admin_client.get(f"/admin/purchases/cashbackpolicy/{policy.pk}/change/").content.decode()
    assert 'value="1.500,00"' in page
    assert 'value="7,50"' in page
    assert 'value="12,25"' in page


@pytest.mark.usefixtures("frozen_today")
def test_an_ambiguous_tier_bound_is_refused(admin_client):
    response = admin_client.post(ADD, policy_form("2026-04-01", [("1.500", "10"), ("", "12")]))
    assert response.status_code == 200
    assert "ambíguo" in str(response.context["inline_admin_formsets"][0].formset.errors)


@pytest.mark.usefixtures("frozen_today")
def test_a_policy_paying_less_at_a_higher_tier_is_refused_in_portuguese(admin_client):
    tiers = [("1.500,00", "15"), ("2.000,00", "10"), ("", "20")]
    response = admin_client.post(ADD, policy_form("2026-04-01", tiers))
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == [
        "Os percentuais não podem diminuir quando o total sobe: "
        "cada faixa paga ao menos o percentual da faixa abaixo dela."
    ]
    assert CashbackPolicy.objects.count() == 1
    # Listed in any order, the tiers are read by their bounds.
    response = admin_client.post(
        ADD, policy_form("2026-04-01", [("", "20"), ("2.000,00", "10"), ("1.500,00", "15")])
    )
    assert response.status_code == 200
    assert CashbackPolicy.objects.count() == 1


@pytest.mark.usefixtures("frozen_today")
def test_a_policy_with_equal_percentages_is_accepted(admin_client):
    response = admin_client.post(ADD, policy_form("2026-04-01", [("1.500,00", "15"), ("", "15")]))
    assert response.status_code == 302
