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
"""

from functools import lru_cache

from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from psycopg import adapt, adapters
from psycopg.pq import Format

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
