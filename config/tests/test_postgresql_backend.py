"""The PostgreSQL backend (core.postgresql): Django's, reading timestamps
with psycopg's compiled loader, to the same values."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from core.postgresql.base import TIMESTAMPTZ_OID, TzLoader
from purchases.models import Purchase

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BRASILIA = timezone(timedelta(hours=-3))


def _read(literal: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [literal])
        return cursor.fetchone()[0]


def test_the_connection_reads_timestamps_with_the_compiled_loader():
    with connection.cursor() as cursor:
        loader = cursor.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert issubclass(loader, TzLoader)
    # Django's check in create_cursor: no loader of its own is put back.
    assert loader.timezone == connection.timezone
    # psycopg-binary is pinned: the parsing is psycopg's C code.
    with connection.cursor() as cursor:
        parser = loader(TIMESTAMPTZ_OID, cursor.connection)._parse
    assert type(parser.__self__).__module__ == "psycopg_binary._psycopg"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2026-03-15 10:30:00-03", datetime(2026, 3, 15, 10, 30, tzinfo=BRASILIA)),
        ("2026-03-15 13:30:00.000001+00", datetime(2026, 3, 15, 13, 30, 0, 1, tzinfo=UTC)),
        ("2026-10-31 23:59:59.999999-03:00", datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=BRASILIA)),
        ("2024-02-29 12:00:00+05:45", datetime(2024, 2, 29, 6, 15, tzinfo=UTC)),
        ("1900-01-01 00:00:00+00", datetime(1900, 1, 1, tzinfo=UTC)),
        ("0001-01-01 00:00:00+00", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31 23:59:59.999999+00", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_timestamps_read_as_djangos_loader_reads_them(literal, expected):
    value = _read(literal)
    assert value == expected
    assert value.tzinfo is UTC
    # The same as Django's own loader gives for the same text.
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz::text", [literal])
        text = cursor.fetchone()[0]
        djangos = type("Loader", (BaseTzLoader,), {"timezone": connection.timezone})
        assert value == djangos(TIMESTAMPTZ_OID, cursor.connection).load(text.encode())


@pytest.mark.parametrize("literal", ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC"])
def test_timestamps_python_cannot_hold_are_a_data_error_as_with_django(literal):
    with pytest.raises(DataError):
        _read(literal)


def test_a_saved_purchase_reads_back_its_timestamps(make_purchase):
    purchase = make_purchase()
    stored = Purchase.objects.values("created_at", "updated_at").get(pk=purchase.pk)
    assert stored == {"created_at": purchase.created_at, "updated_at": purchase.updated_at}
    assert stored["created_at"].tzinfo is UTC
