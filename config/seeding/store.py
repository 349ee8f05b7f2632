"""The seed's database side: what is already there, the bulk writes of
purchases with their items and month rows (COPY on PostgreSQL, bulk_create
elsewhere), and the reset."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import islice

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from config.seeding.generate import (
    CATEGORIES,
    DEMO_EMAIL,
    RESELLER_EMAIL_DOMAIN,
    RESELLER_PASSWORD,
    SKU_PREFIX,
    STAFF_EMAIL,
    STAFF_NAME,
    STAFF_PASSWORD,
    MonthRow,
    ProductSpec,
    PurchaseRow,
    ResellerSpec,
)
from products.models import Category, Product
from purchases.models import (
    CodeCounts,
    DayCounts,
    MonthlyCashback,
    MonthTotals,
    ProductMonthSales,
    Purchase,
    PurchaseItem,
)
from resellers import cpf as cpf_codec
from resellers.models import Reseller


def chunks(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


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
        connection.ops.quote_name(model._meta.db_table)
        for model in (
            Purchase,
            PurchaseItem,
            MonthlyCashback,
            MonthTotals,
            ProductMonthSales,
            DayCounts,
            CodeCounts,
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
