"""The PostgreSQL backend (core.postgresql): Django's, reading timestamps
with psycopg's compiled loader, to the same values."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from core.postgresql.base import TIMESTAMPTZ_OID, TzLoader
from core.tests.settings_process import import_settings
from purchases.models import Purchase

BRASILIA = timezone(timedelta(hours=-3))


def _read(literal: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [literal])
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db
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


@pytest.mark.postgres
@pytest.mark.django_db
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


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC"])
def test_timestamps_python_cannot_hold_are_a_data_error_as_with_django(literal):
    with pytest.raises(DataError):
        _read(literal)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_saved_purchase_reads_back_its_timestamps(make_purchase):
    purchase = make_purchase()
    stored = Purchase.objects.values("created_at", "updated_at").get(pk=purchase.pk)
    assert stored == {"created_at": purchase.created_at, "updated_at": purchase.updated_at}
    assert stored["created_at"].tzinfo is UTC


def test_the_backend_refuses_a_django_version_it_was_not_written_for():
    program = (
        "import django; django.VERSION = (6, 0, 0, 'final', 0)\n"
        "try:\n"
        "    import core.postgresql.base\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = import_settings(program, unset=(), env={})
    assert result.stdout.startswith("ImproperlyConfigured core.postgresql was written for Django 5.2")


@pytest.mark.parametrize(
    ("engine", "expected"),
    [(None, "core.postgresql"), ("django.db.backends.postgresql", "django.db.backends.postgresql")],
)
def test_the_engine_is_named_in_settings(engine, expected):
    program = "import config.settings.local as s; print(s.DATABASES['default']['ENGINE'])"
    env = {"DATABASE_URL": "postgres://user@127.0.0.1:5432/name"}
    if engine:
        env["DATABASE_ENGINE"] = engine
    result = import_settings(program, unset={"DATABASE_ENGINE"}, env=env)
    assert result.stdout.strip() == expected, result.stderr
