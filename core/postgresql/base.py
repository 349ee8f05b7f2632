"""Django's PostgreSQL backend, reading ``timestamptz`` values with psycopg's
compiled loader.

Django's psycopg 3 backend registers a ``timestamptz`` loader of its own (to
set the time zone of the values read) that subclasses psycopg's pure-Python
one, so even with psycopg's C build installed every timestamp is parsed in
Python: about 5 µs a value, half a millisecond for a page of 50 purchases
with two timestamps each (Django ticket #36960). This backend's loader does
the same as Django's, with the parsing done by the loader psycopg itself
registers for the type (the compiled one when it is installed), found
through the public ``AdaptersMap.get_loader``.

It builds on two of Django's internals (``psycopg_any.BaseTzLoader`` and
``get_adapters_template``), so it loads only on the Django version it was
written for; on another, select Django's own backend
(``DATABASE_ENGINE=django.db.backends.postgresql``) until it is checked.
"""

from functools import lru_cache

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from psycopg import adapt, adapters
from psycopg.pq import Format

WRITTEN_FOR = (5, 2)
if django.VERSION[:2] != WRITTEN_FOR:
    raise ImproperlyConfigured(
        f"core.postgresql was written for Django {WRITTEN_FOR[0]}.{WRITTEN_FOR[1]}, not "
        f"{django.get_version()}: set DATABASE_ENGINE=django.db.backends.postgresql, or check "
        "its loader against this version's django.db.backends.postgresql.psycopg_any."
    )

TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid
_PARSER = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class TzLoader(BaseTzLoader):
    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._parse = _PARSER(oid, context).load

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


@lru_cache
def adapters_template(use_tz, timezone):
    """Django's adapters, with ``TzLoader`` for ``timestamptz``."""
    context = adapt.AdaptersMap(get_adapters_template(use_tz, timezone))
    context.register_loader("timestamptz", type("SpecificTzLoader", (TzLoader,), {"timezone": timezone}))
    return context


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params["context"] = adapters_template(settings.USE_TZ, self.timezone)
        return params

    def chunked_cursor(self):
        """A server-side cursor for ``QuerySet.iterator()``, except outside a
        transaction behind a transaction pooler (DATABASE_PGBOUNCER): there
        Django would declare it WITH HOLD in one transaction and fetch from
        it in the next, which the pooler may hand to another server
        connection that has no such cursor. A plain cursor reads the rows
        at once instead: iterate inside ``transaction.atomic()`` to stream
        them."""
        if self.settings_dict.get("TRANSACTION_POOLING") and self.get_autocommit():
            return self.cursor()
        return super().chunked_cursor()
