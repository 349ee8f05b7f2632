"""The seed's data, generated: names, people, catalogue, purchases and
their cashback. Plain Python; the database is only asked for the cashback
policy of each month (through ``PolicyLookup``)."""

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from faker import Faker

from purchases import cashback
from purchases.models import Purchase
from purchases.months import FIRST_MONTH, month_start
from purchases.selectors import cashback_tiers_get
from resellers import cpf as cpf_codec

# Demo-only passwords, printed by the command and documented in its help.
STAFF_EMAIL = "admin@example.com"
STAFF_PASSWORD = "admin-Demo-2024"
STAFF_NAME = "Administração Demo"
DEMO_EMAIL = "demo@example.com"
DEMO_CPF = "15350946056"
DEMO_NAME = "Revendedora Demo"
# demo@example.com and every generated reseller share it.
RESELLER_PASSWORD = "demo-Senha-2024"
RESELLER_EMAIL_DOMAIN = "demo.example.com"
SKU_PREFIX = "DEMO-"
CODE_PREFIX = "NF-"
# Generated CPFs: check digits appended to 100000001, 100000002, ...
CPF_BASE = 100_000_000

ITEMS_SHARE = 1 / 3  # purchases recorded with 1-3 catalogue items
APPROVED_SHARE, VALIDATING_SHARE = 0.6, 0.3  # the rest is rejected
MIN_VALUE_CENTS, MAX_VALUE_CENTS = 10_00, 1_500_00

CATEGORIES = {
    "perfumaria": ("Perfumaria", ["Colônia", "Eau de Parfum", "Body Splash", "Desodorante Colônia"]),
    "maquiagem": ("Maquiagem", ["Batom Matte", "Base Líquida", "Máscara de Cílios", "Pó Compacto", "Blush"]),
    "cuidados-faciais": (
        "Cuidados Faciais",
        ["Sérum Facial", "Hidratante Facial", "Protetor Solar FPS 50", "Água Micelar"],
    ),
    "cabelos": ("Cabelos", ["Shampoo", "Condicionador", "Máscara Capilar", "Óleo Capilar", "Leave-in"]),
    "corpo-e-banho": (
        "Corpo e Banho",
        ["Sabonete Líquido", "Hidratante Corporal", "Óleo Corporal", "Creme para Mãos"],
    ),
    "masculino": ("Masculino", ["Gel de Barbear", "Pós-barba", "Desodorante Roll-on", "Balm para Barba"]),
    "infantil": ("Infantil", ["Shampoo Infantil", "Colônia Infantil", "Sabonete Infantil"]),
    "unhas": ("Unhas", ["Esmalte", "Base Fortalecedora", "Removedor de Esmalte"]),
}
PRODUCT_LINES = [
    "Açaí",
    "Baunilha",
    "Cacau",
    "Castanha",
    "Cupuaçu",
    "Erva-doce",
    "Flor de Lótus",
    "Jabuticaba",
    "Lavanda",
    "Maracujá",
    "Pitanga",
    "Rosa Mosqueta",
]
REJECTION_REASONS = [
    "Nota fiscal ilegível.",
    "Código não encontrado nos pedidos da marca.",
    "Valor diferente do da nota fiscal.",
    "Compra registrada em duplicidade.",
    "Data da compra diferente da nota fiscal.",
]


def seeded_random(*parts: object) -> random.Random:
    """A reproducible stream per concern: demo data, not secrets."""
    return random.Random(":".join(str(part) for part in parts))  # noqa: S311


def reseller_email(index: int) -> str:
    return DEMO_EMAIL if index == 0 else f"revendedor-{index:05d}@{RESELLER_EMAIL_DOMAIN}"


def reseller_cpf(index: int) -> str:
    return DEMO_CPF if index == 0 else cpf_codec.with_check_digits(f"{CPF_BASE + index:09d}")


def first_month(today: date, months: int) -> date:
    """The first day of the earliest of the ``months`` months ending with today's."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return max(date(index // 12, index % 12 + 1, 1), FIRST_MONTH)


# --- Catalogue and people -----------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    description: str
    category_slug: str
    price: Decimal


def product_specs(seed: int, count: int) -> list[ProductSpec]:
    rng = seeded_random(seed, "products")
    fake = Faker("pt_BR")
    fake.seed_instance(f"{seed}:products")
    slugs = sorted(CATEGORIES)
    specs = []
    for number in range(1, count + 1):
        slug = rng.choice(slugs)
        kind = rng.choice(CATEGORIES[slug][1])
        specs.append(
            ProductSpec(
                sku=f"{SKU_PREFIX}{number:04d}",
                name=f"{kind} {rng.choice(PRODUCT_LINES)}",
                description=fake.sentence(nb_words=12),
                category_slug=slug,
                # Catalogue-style prices: 9.90 to 299.90.
                price=Decimal(rng.randint(9, 299)) + Decimal("0.90"),
            )
        )
    return specs


@dataclass(frozen=True)
class ResellerSpec:
    index: int
    email: str
    full_name: str
    cpf: str


def reseller_specs(seed: int, count: int) -> list[ResellerSpec]:
    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    specs = [ResellerSpec(0, DEMO_EMAIL, DEMO_NAME, DEMO_CPF)]
    for index in range(1, count):
        specs.append(ResellerSpec(index, reseller_email(index), fake.name(), reseller_cpf(index)))
    return specs


def purchase_counts(seed: int, total: int, resellers: int) -> list[int]:
    """Split ``total`` purchases over the resellers, unevenly (a few buy a
    lot, most buy a little) but exactly: largest remainders get the rest."""
    rng = seeded_random(seed, "counts", resellers)
    weights = [rng.lognormvariate(0, 0.8) for _ in range(resellers)]
    scale = total / sum(weights)
    shares = [weight * scale for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(resellers), key=lambda i: (counts[i] - shares[i], i))
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


# --- Purchases and their cashback -------------------------------------------


@dataclass(slots=True)
class PurchaseRow:
    code: str
    value: Decimal
    date: date
    status: str
    reviewed: bool
    rejection_reason: str
    items: tuple[tuple[int, int, Decimal], ...]  # (product id, quantity, unit price)
    cashback_percent: Decimal = cashback.ZERO
    cashback_value: Decimal = cashback.ZERO


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: date
    policy_id: int
    total_value: Decimal
    purchase_count: int
    cashback_percent: Decimal
    cashback_value: Decimal


PolicyLookup = Callable[[date], tuple[int, tuple[cashback.Tier, ...]]]


def policy_lookup() -> PolicyLookup:
    """The services' ``cashback_tiers_get``, asked once per month of the run."""
    return cache(lambda month: cashback_tiers_get(month=month))


def generate_purchases(
    *,
    seed: int,
    reseller_index: int,
    count: int,
    first_day: date,
    today: date,
    products: Sequence[tuple[int, Decimal]],
    auto_approved: bool,
) -> list[PurchaseRow]:
    """One reseller's purchases, oldest first, without cashback yet."""
    rng = seeded_random(seed, "purchases", reseller_index)
    first, span = first_day.toordinal(), (today - first_day).days + 1
    days = sorted(first + rng.randrange(span) for _ in range(count))
    rows = []
    for number, ordinal in enumerate(days, start=1):
        items: tuple[tuple[int, int, Decimal], ...] = ()
        if products and rng.random() < ITEMS_SHARE:
            chosen = rng.sample(products, min(rng.randint(1, 3), len(products)))
            items = tuple((product_id, rng.randint(1, 4), price) for product_id, price in chosen)
            value = sum((price * quantity for _, quantity, price in items), cashback.ZERO)
        else:
            value = Decimal(rng.randint(MIN_VALUE_CENTS, MAX_VALUE_CENTS)).scaleb(-2)
        draw = rng.random()
        reason = rng.choice(REJECTION_REASONS)
        if auto_approved:
            # As purchase_create does for these CPFs: approved, never reviewed.
            status, reviewed, reason = Purchase.Status.APPROVED, False, ""
        elif draw < APPROVED_SHARE:
            status, reviewed, reason = Purchase.Status.APPROVED, True, ""
        elif draw < APPROVED_SHARE + VALIDATING_SHARE:
            status, reviewed, reason = Purchase.Status.VALIDATING, False, ""
        else:
            status, reviewed = Purchase.Status.REJECTED, True
        rows.append(
            PurchaseRow(
                code=f"{CODE_PREFIX}{number:06d}",
                value=value,
                date=date.fromordinal(ordinal),
                status=status,
                reviewed=reviewed,
                rejection_reason=reason,
                items=items,
            )
        )
    return rows


def apply_cashback(rows: Sequence[PurchaseRow], policies: PolicyLookup) -> list[MonthRow]:
    """Set each purchase's cashback and return the reseller's month rows, with
    the rule the services use (``cashback.month_cashback``)."""
    by_month: dict[date, list[PurchaseRow]] = defaultdict(list)
    for row in rows:
        by_month[month_start(row.date)].append(row)
    months = []
    for month, month_rows in by_month.items():
        figures = [
            cashback.MonthPurchase(row.value, rejected=row.status == Purchase.Status.REJECTED)
            for row in month_rows
        ]
        # As the services do: a month where nothing counts needs no policy and keeps no month row.
        policy_id, tiers = policies(month) if any(not f.rejected for f in figures) else (None, ())
        result = cashback.month_cashback(figures, tiers)
        for row, share in zip(month_rows, result.shares, strict=True):
            row.cashback_percent, row.cashback_value = share
        if result.purchase_count:
            months.append(
                MonthRow(
                    month=month,
                    policy_id=policy_id,
                    total_value=result.total_value,
                    purchase_count=result.purchase_count,
                    cashback_percent=result.percent,
                    cashback_value=result.cashback_value,
                )
            )
    return months
