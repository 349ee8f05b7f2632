"""The database settings an operator turns on: read replicas, the native
connection pool, PgBouncer (config/settings/base.py "Database"), each read
by a fresh interpreter; and what PgBouncer mode changes in the engine."""

import json

import pytest
from django.db import connection, transaction

from core.tests.settings_process import import_settings

PRIMARY_URL = "postgres://app:secret@db.internal:5432/cashback"
REPLICA_URL = "postgres://reader:other@replica.internal:5433/cashback?sslmode=require"

PROGRAM = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
from django.conf import settings
print(json.dumps({
    "databases": settings.DATABASES,
    "routers": settings.DATABASE_ROUTERS,
    "replicas": settings.DATABASE_REPLICAS,
    "middleware": settings.MIDDLEWARE,
}, default=str))
"""

VARIABLES = ("DATABASE_", "GUNICORN_THREADS")


def database_settings(**env: str) -> dict:
    process = import_settings(PROGRAM, unset=lambda name: name.startswith(VARIABLES), env=env)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)


def refusal(**env: str) -> str:
    process = import_settings(PROGRAM, unset=lambda name: name.startswith(VARIABLES), env=env)
    assert process.returncode != 0
    return process.stderr


def test_by_default_one_database_no_pool_no_router():
    found = database_settings(DATABASE_URL=PRIMARY_URL)
    assert list(found["databases"]) == ["default"]
    assert found["databases"]["default"]["CONN_MAX_AGE"] == 60
    assert "pool" not in found["databases"]["default"].get("OPTIONS", {})
    assert found["routers"] == []
    assert found["replicas"] == []
    assert "core.routing.ReadYourWritesMiddleware" not in found["middleware"]


def test_replicas_get_the_primarys_engine_and_options_and_mirror_its_test_database():
    found = database_settings(
        DATABASE_URL=PRIMARY_URL,
        DATABASE_REPLICA_URLS=f"{REPLICA_URL},postgres://reader@replica2.internal/cashback",
        DATABASE_REPLICA_CONNECT_TIMEOUT="3",
    )
    databases = found["databases"]
    assert found["replicas"] == ["replica1", "replica2"]
    assert found["routers"] == ["core.routing.ReplicaRouter"]
    replica = databases["replica1"]
    assert replica["ENGINE"] == databases["default"]["ENGINE"] == "core.postgresql"
    assert (replica["HOST"], replica["PORT"], replica["USER"], replica["NAME"]) == (
        "replica.internal",
        5433,
        "reader",
        "cashback",
    )
    assert replica["OPTIONS"] == {"sslmode": "require", "connect_timeout": 3}
    assert replica["TEST"] == {"MIRROR": "default"}
    assert databases["replica2"]["HOST"] == "replica2.internal"
    middleware = found["middleware"]
    authentication = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert middleware[authentication + 1] == "core.routing.ReadYourWritesMiddleware"


def test_replicas_need_postgresql():
    assert "read replicas need PostgreSQL" in refusal(DATABASE_REPLICA_URLS=REPLICA_URL)


def test_the_pool_is_sized_to_the_gunicorn_threads_without_persistent_connections():
    found = database_settings(
        DATABASE_URL=PRIMARY_URL,
        DATABASE_POOL="true",
        GUNICORN_THREADS="6",
        DATABASE_REPLICA_URLS=REPLICA_URL,
    )
    default = found["databases"]["default"]
    assert default["CONN_MAX_AGE"] == 0
    assert default["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 6, "timeout": 3.0}
    # A replica that does not answer is given up on sooner.
    assert found["databases"]["replica1"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 6, "timeout": 2}


def test_the_pool_refuses_persistent_connections():
    stderr = refusal(DATABASE_URL=PRIMARY_URL, DATABASE_POOL="true", DATABASE_CONN_MAX_AGE="60")
    assert "unset DATABASE_CONN_MAX_AGE" in stderr


def test_pgbouncer_mode_prepares_nothing_and_keeps_server_side_cursors_in_transactions():
    default = database_settings(DATABASE_URL=PRIMARY_URL, DATABASE_PGBOUNCER="true")["databases"]["default"]
    assert default["OPTIONS"]["prepare_threshold"] is None
    assert default["TRANSACTION_POOLING"] is True
    assert "DISABLE_SERVER_SIDE_CURSORS" not in default


def test_pgbouncer_mode_with_djangos_own_engine_has_no_server_side_cursors():
    default = database_settings(
        DATABASE_URL=PRIMARY_URL, DATABASE_PGBOUNCER="true", DATABASE_ENGINE="django.db.backends.postgresql"
    )["databases"]["default"]
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True


@pytest.fixture
def transaction_pooling():
    connection.settings_dict["TRANSACTION_POOLING"] = True
    yield
    del connection.settings_dict["TRANSACTION_POOLING"]


def _cursor_name(cursor):
    return getattr(cursor.cursor, "name", None)


@pytest.mark.postgres
def test_behind_a_transaction_pooler_server_side_cursors_live_in_transactions_only(
    transactional_db, transaction_pooling
):
    with connection.chunked_cursor() as cursor:
        assert _cursor_name(cursor) is None  # autocommit: a plain cursor
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        assert _cursor_name(cursor)
        assert not cursor.cursor._withhold


@pytest.mark.postgres
def test_without_a_transaction_pooler_iterators_use_server_side_cursors(transactional_db):
    with connection.chunked_cursor() as cursor:
        assert _cursor_name(cursor)
