"""Demo data for ``manage.py seed``: its names, its generation, its writes.

Every seeded object has a natural key fixed by the seed's own naming, so a run
can tell what is already there and a reset can find everything it made:

- logins: ``admin@example.com`` (staff), ``demo@example.com`` (the reseller
  with CPF 153.509.460-56) and ``revendedor-NNNNN@demo.example.com``;
- categories by slug (the fixed list below), products by SKU (``DEMO-NNNN``);
- purchases belong to the seeded resellers, codes ``NF-NNNNNN`` per reseller.

Generation is plain Python from string-seeded ``random.Random`` streams (one
per concern, one per reseller), so the same ``--seed`` and sizes give the same
rows on any database and a reseller's purchases do not depend on which other
resellers already exist. The cashback columns are computed here with the rule
and the policy lookup of ``purchases.services.recalculate_month`` (a test
checks that recalculating changes nothing), so no service runs per purchase.
"""

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from itertools import islice

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import Q, QuerySet
from faker import Faker

from accounts.models import User
from products.models import Category, Product
from purchases import cashback
from purchases.models import MonthlyCashback, Purchase, PurchaseItem
from purchases.months import FIRST_MONTH, month_start
from purchases.selectors import policy_for_month
from resellers import cpf as cpf_codec
from resellers.models import Reseller

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


def chunks(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


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
    """``policy_for_month`` asked once per month: (policy id, its tiers)."""

    @cache
    def lookup(month: date) -> tuple[int, tuple[cashback.Tier, ...]]:
        policy = policy_for_month(month)
        return policy.pk, policy.as_tiers()

    return lookup


def auto_approved_cpfs() -> set[str]:
    valid = set()
    for value in settings.CASHBACK_AUTO_APPROVED_CPFS:
        try:
            valid.add(cpf_codec.normalize(value))
        except cpf_codec.InvalidCPF:
            continue
    return valid


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
    """Set each purchase's cashback and return the reseller's month rows,
    exactly as services.recalculate_month would."""
    by_month: dict[date, list[PurchaseRow]] = defaultdict(list)
    for row in rows:
        by_month[month_start(row.date)].append(row)
    months = []
    for month, month_rows in by_month.items():
        counted = [row for row in month_rows if row.status != Purchase.Status.REJECTED]
        if not counted:
            continue  # rejected purchases keep 0 / 0.00; recalculate_month keeps no month row
        policy_id, tiers = policies(month)
        total = sum((row.value for row in counted), Decimal("0"))
        percent = cashback.percent_for_total(total, tiers)
        for row in counted:
            row.cashback_percent = percent
            row.cashback_value = cashback.cashback_amount(row.value, percent)
        months.append(
            MonthRow(
                month=month,
                policy_id=policy_id,
                total_value=total,
                purchase_count=len(counted),
                cashback_percent=percent,
                cashback_value=sum((row.cashback_value for row in counted), cashback.ZERO),
            )
        )
    return months


# --- Writes -------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    reseller_id: int
    user_id: int


@dataclass
class WriteCounts:
    purchases: int = 0
    items: int = 0
    months: int = 0


class Writer:
    def __init__(self, *, staff_id: int, now: datetime, batch_size: int):
        self.staff_id, self.now, self.batch_size = staff_id, now, batch_size
        self.counts = WriteCounts()

    def write(self, batch: Sequence[tuple[Owner, PurchaseRow]], months: Sequence[tuple[Owner, MonthRow]]):
        raise NotImplementedError


class OrmWriter(Writer):
    """bulk_create in batches: any database."""

    def write(self, batch: Sequence[tuple[Owner, PurchaseRow]], months: Sequence[tuple[Owner, MonthRow]]):
        purchases = [
            Purchase(
                reseller_id=owner.reseller_id,
                code=row.code,
                value=row.value,
                date=row.date,
                status=row.status,
                cashback_percent=row.cashback_percent,
                cashback_value=row.cashback_value,
                created_by_id=owner.user_id,
                reviewed_by_id=self.staff_id if row.reviewed else None,
                reviewed_at=self.now if row.reviewed else None,
                rejection_reason=row.rejection_reason,
            )
            for owner, row in batch
        ]
        Purchase.objects.bulk_create(purchases, batch_size=self.batch_size)
        if not connection.features.can_return_rows_from_bulk_insert:
            self._read_back_ids(purchases)
        items = [
            PurchaseItem(purchase_id=purchase.pk, product_id=product_id, quantity=quantity, unit_price=price)
            for purchase, (_, row) in zip(purchases, batch, strict=True)
            for product_id, quantity, price in row.items
        ]
        PurchaseItem.objects.bulk_create(items, batch_size=self.batch_size)
        MonthlyCashback.objects.bulk_create(
            [
                MonthlyCashback(
                    reseller_id=owner.reseller_id,
                    month=row.month,
                    policy_id=row.policy_id,
                    total_value=row.total_value,
                    purchase_count=row.purchase_count,
                    cashback_percent=row.cashback_percent,
                    cashback_value=row.cashback_value,
                )
                for owner, row in months
            ],
            batch_size=self.batch_size,
        )
        self.counts.purchases += len(purchases)
        self.counts.items += len(items)
        self.counts.months += len(months)

    @staticmethod
    def _read_back_ids(purchases: list[Purchase]) -> None:
        # SQLite before 3.35 cannot return the new ids; the resellers are new,
        # so (reseller, code) finds exactly the rows just written.
        reseller_ids = {purchase.reseller_id for purchase in purchases}
        ids = {
            (reseller_id, code): pk
            for pk, reseller_id, code in Purchase.objects.filter(reseller_id__in=reseller_ids).values_list(
                "pk", "reseller_id", "code"
            )
        }
        for purchase in purchases:
            purchase.pk = ids[(purchase.reseller_id, purchase.code)]


def _fill_pks(objects: Sequence, existing: QuerySet, key: Callable) -> None:
    """After bulk_create on a database that cannot return the new ids
    (SQLite before 3.35), read them back by natural key."""
    if connection.features.can_return_rows_from_bulk_insert:
        return
    pks = {key(obj): obj.pk for obj in existing}
    for obj in objects:
        obj.pk = pks[key(obj)]


def seeded_users() -> QuerySet[User]:
    return User.objects.filter(
        Q(email__in=[STAFF_EMAIL, DEMO_EMAIL]) | Q(email__endswith=f"@{RESELLER_EMAIL_DOMAIN}")
    )


def ensure_staff() -> tuple[User, bool]:
    staff = User.objects.filter(email=STAFF_EMAIL).first()
    if staff is not None:
        return staff, False
    return User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD, full_name=STAFF_NAME), True


def ensure_categories() -> tuple[dict[str, Category], int]:
    """The fixed categories by slug; one already there (same slug or same
    name) is reused."""
    existing = Category.objects.filter(
        Q(slug__in=list(CATEGORIES)) | Q(name__in=[name for name, _ in CATEGORIES.values()])
    )
    by_slug = {category.slug: category for category in existing}
    by_name = {category.name: category for category in existing}
    missing = [
        Category(slug=slug, name=name)
        for slug, (name, _) in CATEGORIES.items()
        if slug not in by_slug and name not in by_name
    ]
    Category.objects.bulk_create(missing)
    _fill_pks(missing, Category.objects.filter(slug__in=list(CATEGORIES)), lambda category: category.slug)
    by_slug.update((category.slug, category) for category in missing)
    return {slug: by_slug.get(slug) or by_name[name] for slug, (name, _) in CATEGORIES.items()}, len(missing)


def ensure_products(specs: Sequence[ProductSpec], categories: dict[str, Category]) -> int:
    existing = set(Product.objects.filter(sku__startswith=SKU_PREFIX).values_list("sku", flat=True))
    missing = [
        Product(
            sku=spec.sku,
            name=spec.name,
            description=spec.description,
            category=categories[spec.category_slug],
            price=spec.price,
        )
        for spec in specs
        if spec.sku not in existing
    ]
    Product.objects.bulk_create(missing, batch_size=1000)
    return len(missing)


def catalogue_for_items(specs: Sequence[ProductSpec]) -> list[tuple[int, Decimal]]:
    """(id, current price) of the seeded products that can be bought, in SKU order."""
    wanted = {spec.sku for spec in specs}
    rows = Product.objects.filter(sku__startswith=SKU_PREFIX, is_active=True).order_by("sku")
    return [(pk, price) for pk, sku, price in rows.values_list("pk", "sku", "price") if sku in wanted]


@dataclass
class ResellerSetup:
    created: list[tuple[ResellerSpec, Owner]]
    cpf_taken: list[ResellerSpec]  # their CPF belongs to an account outside the seed


def ensure_resellers(specs: Sequence[ResellerSpec], *, batch_size: int) -> ResellerSetup:
    """Create the seeded resellers that are missing (by e-mail), with one
    password hash computed once for all of them."""
    present = set(seeded_users().values_list("email", flat=True))
    wanted = [spec for spec in specs if spec.email not in present]
    indexes = {spec.email: cpf_codec.blind_index(spec.cpf) for spec in wanted}
    taken = set()
    for chunk in chunks(indexes.values(), 500):
        taken.update(Reseller.objects.filter(cpf_index__in=chunk).values_list("cpf_index", flat=True))
    setup = ResellerSetup(created=[], cpf_taken=[spec for spec in wanted if indexes[spec.email] in taken])
    wanted = [spec for spec in wanted if indexes[spec.email] not in taken]
    if not wanted:
        return setup

    password = make_password(RESELLER_PASSWORD)
    users = [User(email=spec.email, full_name=spec.full_name, password=password) for spec in wanted]
    User.objects.bulk_create(users, batch_size=batch_size)
    _fill_pks(users, seeded_users(), lambda user: user.email)
    resellers = [
        Reseller(user_id=user.pk, cpf_encrypted=cpf_codec.encrypt(spec.cpf), cpf_index=indexes[spec.email])
        for spec, user in zip(wanted, users, strict=True)
    ]
    Reseller.objects.bulk_create(resellers, batch_size=batch_size)
    _fill_pks(resellers, Reseller.objects.filter(user__in=seeded_users()), lambda reseller: reseller.user_id)
    setup.created = [
        (spec, Owner(reseller_id=reseller.pk, user_id=user.pk))
        for spec, user, reseller in zip(wanted, users, resellers, strict=True)
    ]
    return setup


def delete_seeded_data() -> dict[str, int]:
    """Remove what the seed makes: the seeded logins with their resellers,
    those resellers' purchases (whoever recorded them) and month rows, and the
    seeded products and categories that nothing else uses any more."""
    resellers = Reseller.objects.filter(user__in=seeded_users())
    deleted = {"items": PurchaseItem.objects.filter(purchase__reseller__in=resellers).delete()[0]}
    # One statement: QuerySet.delete() would load every purchase into memory
    # to cascade to their items, which are gone already.
    subquery, params = resellers.order_by().values("pk").query.sql_with_params()
    table = connection.ops.quote_name(Purchase._meta.db_table)
    column = connection.ops.quote_name(Purchase._meta.get_field("reseller").column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({subquery})", params)  # noqa: S608
        deleted["purchases"] = cursor.rowcount
    deleted["months"] = MonthlyCashback.objects.filter(reseller__in=resellers).delete()[0]
    deleted["resellers"] = resellers.count()
    deleted["users"] = seeded_users().count()
    seeded_users().delete()
    deleted["products"] = (
        Product.objects.filter(sku__startswith=SKU_PREFIX, purchase_items__isnull=True)
        .delete()[1]
        .get(Product._meta.label, 0)
    )
    deleted["categories"] = (
        Category.objects.filter(slug__in=list(CATEGORIES), products__isnull=True)
        .delete()[1]
        .get(Category._meta.label, 0)
    )
    return deleted


PURCHASE_COPY_FIELDS = [
    "id",
    "reseller",
    "code",
    "value",
    "date",
    "status",
    "cashback_percent",
    "cashback_value",
    "created_by",
    "reviewed_by",
    "reviewed_at",
    "rejection_reason",
    "created_at",
    "updated_at",
]
ITEM_COPY_FIELDS = ["purchase", "product", "quantity", "unit_price"]
MONTH_COPY_FIELDS = [
    "reseller",
    "month",
    "policy",
    "total_value",
    "purchase_count",
    "cashback_percent",
    "cashback_value",
    "updated_at",
]


class CopyWriter(Writer):
    """PostgreSQL: purchase ids reserved from their sequence, so the items can
    point at them, and every row streamed with COPY (about three times faster
    than bulk_create, which builds a model instance and an INSERT parameter
    per field)."""

    def write(self, batch: Sequence[tuple[Owner, PurchaseRow]], months: Sequence[tuple[Owner, MonthRow]]):
        now, staff_id = self.now, self.staff_id
        with connection.connection.cursor() as cursor:
            ids = self._reserve_ids(cursor, len(batch))
            purchases = [
                (
                    pk,
                    owner.reseller_id,
                    row.code,
                    row.value,
                    row.date,
                    str(row.status),  # the value, not the enum member
                    row.cashback_percent,
                    row.cashback_value,
                    owner.user_id,
                    staff_id if row.reviewed else None,
                    now if row.reviewed else None,
                    row.rejection_reason,
                    now,
                    now,
                )
                for pk, (owner, row) in zip(ids, batch, strict=True)
            ]
            items = [
                (pk, product_id, quantity, price)
                for pk, (_, row) in zip(ids, batch, strict=True)
                for product_id, quantity, price in row.items
            ]
            month_rows = [
                (
                    owner.reseller_id,
                    row.month,
                    row.policy_id,
                    row.total_value,
                    row.purchase_count,
                    row.cashback_percent,
                    row.cashback_value,
                    now,
                )
                for owner, row in months
            ]
            self._copy(cursor, Purchase, PURCHASE_COPY_FIELDS, purchases)
            self._copy(cursor, PurchaseItem, ITEM_COPY_FIELDS, items)
            self._copy(cursor, MonthlyCashback, MONTH_COPY_FIELDS, month_rows)
        self.counts.purchases += len(purchases)
        self.counts.items += len(items)
        self.counts.months += len(month_rows)

    @staticmethod
    def _reserve_ids(cursor, count: int) -> list[int]:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [Purchase._meta.db_table, Purchase._meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]

    @staticmethod
    def _copy(cursor, model, fields: list[str], rows: list[tuple]) -> None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
        with cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def writer_for(*, staff_id: int, now: datetime, batch_size: int) -> Writer:
    writer = CopyWriter if connection.vendor == "postgresql" else OrmWriter
    return writer(staff_id=staff_id, now=now, batch_size=batch_size)


def analyze() -> None:
    """Fresh planner statistics on PostgreSQL, so the first queries after a
    big seed do not wait for autovacuum to notice the new rows."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(
        connection.ops.quote_name(model._meta.db_table) for model in (Purchase, PurchaseItem, MonthlyCashback)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
