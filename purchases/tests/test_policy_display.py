"""How the cashback policy reads in the back office: Brazilian money and
percentages, month names, and the default policy's Portuguese description."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import translation

from conftest import EN
from purchases.models import CashbackPolicy, CashbackTier, format_brl, format_month_name, format_percent

D = Decimal
description_migration = importlib.import_module("purchases.migrations.0005_default_policy_description_pt_br")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("pt-br", ["R$ 1.202,14", "R$ 0,00", "R$ 1.000.000,00", "15%", "12,5%", "0,25%", "Novembro de 2026"]),
        ("en", ["R$ 1,202.14", "R$ 0.00", "R$ 1,000,000.00", "15%", "12.5%", "0.25%", "November 2026"]),
    ],
)
def test_display_helpers_follow_the_language(language, expected):
    with translation.override(language):
        assert [
            format_brl(D("1202.14")),
            format_brl(D("0")),
            format_brl(D("1000000")),
            format_percent(D("15.00")),
            format_percent(D("12.50")),
            format_percent(D("0.25")),
            format_month_name(date(2026, 11, 1)),
        ] == expected


def test_tiers_read_with_brazilian_money():
    policy = CashbackPolicy(effective_from=date(2026, 11, 1), description="Natal")
    with translation.override("pt-br"):
        assert (
            str(CashbackTier(policy=policy, up_to=D("1000.00"), percent=D("10.00"))) == "≤ R$ 1.000,00: 10%"
        )
        assert str(CashbackTier(policy=policy, up_to=None, percent=D("20.00"))) == "sem limite: 20%"
        assert str(policy) == "Novembro de 2026 — Natal"
    with translation.override("en"):
        assert (
            str(CashbackTier(policy=policy, up_to=D("1500.00"), percent=D("15.00"))) == "≤ R$ 1,500.00: 15%"
        )
        assert str(CashbackTier(policy=policy, up_to=None, percent=D("20.00"))) == "no limit: 20%"


@pytest.mark.django_db
def test_the_policy_admin_lists_tiers_the_brazilian_way(admin_client):
    html = admin_client.get("/admin/purchases/cashbackpolicy/").content.decode()
    assert "≤ R$ 1.000,00: 10% · ≤ R$ 1.500,00: 15% · sem limite: 20%" in html
    assert description_migration.PORTUGUESE in html
    assert "by monthly total" not in html

    html = admin_client.get("/admin/purchases/cashbackpolicy/", **EN).content.decode()
    assert "≤ R$ 1,000.00: 10% · ≤ R$ 1,500.00: 15% · no limit: 20%" in html


@pytest.mark.django_db
def test_the_migrated_default_policy_is_described_in_portuguese():
    policy = CashbackPolicy.objects.get(effective_from=date(2000, 1, 1))
    assert policy.description == "10 / 15 / 20 % conforme o total do mês"


@pytest.mark.django_db
def test_the_description_migration_changes_only_the_untouched_english_text():
    policy = CashbackPolicy.objects.get(effective_from=date(2000, 1, 1))
    policy.description = description_migration.ENGLISH
    policy.save()
    description_migration.to_portuguese(apps, None)
    policy.refresh_from_db()
    assert policy.description == description_migration.PORTUGUESE

    # Reversible.
    description_migration.to_english(apps, None)
    policy.refresh_from_db()
    assert policy.description == description_migration.ENGLISH

    # A description staff wrote themselves stays theirs.
    policy.description = "Política padrão"
    policy.save()
    description_migration.to_portuguese(apps, None)
    policy.refresh_from_db()
    assert policy.description == "Política padrão"
