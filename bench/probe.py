"""The application under test, with one response header that says what each
request cost: bench/loadtest.py serves ``probe:application`` instead of
``config.wsgi:application`` (gunicorn's ``--pythonpath bench``).

``X-Bench-Probe: q=<statements> d=<data reads> c=<counts> t=<microseconds>``

- ``q``: every SQL statement the request executed;
- ``d``: the SELECTs among them other than the authentication's user lookup
  (a SELECT whose FROM clause starts with the users table): a GET with
  ``d=0`` was answered without reading the data, i.e. from the cache;
- ``c``: the ``SELECT COUNT(*)`` among them (a list whose count came from the
  cache has none);
- ``t``: the time the application took, from the call to the returned
  response (rendering included, the socket and gunicorn's parsing not).

This is what makes a per-route cache hit rate honest without knowing how the
application names its cache keys, and it survives a change of caching code.
Its own cost, measured in-process on the load test's machine: about 10
microseconds per request and 2 per statement, well under 1 % of the
cheapest route. Bench-only: nothing in the application refers to it.
"""

import time

from django.db import connection

from config.wsgi import application as django_application

HEADER = "X-Bench-Probe"


class _Counter:
    __slots__ = ("counts", "data", "statements")

    def __init__(self):
        self.statements = self.data = self.counts = 0

    def __call__(self, execute, sql, params, many, context):
        self.statements += 1
        # Django writes its keywords in capitals and quotes table names.
        if sql.startswith("SELECT"):
            if sql.startswith("SELECT COUNT("):
                self.counts += 1
            # The user (and profile) behind the token, read when the
            # authentication cache misses, is not the route's data.
            if not sql.startswith('"accounts_user"', sql.find(" FROM ") + 6):
                self.data += 1
        return execute(sql, params, many, context)


def application(environ, start_response):
    counter = _Counter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        response = django_application(environ, start_response_with_probe(start_response, counter, started))
    return response


def start_response_with_probe(start_response, counter, started):
    def wrapped(status, headers, exc_info=None):
        elapsed = round((time.perf_counter() - started) * 1e6)
        value = f"q={counter.statements} d={counter.data} c={counter.counts} t={elapsed}"
        return start_response(status, [*headers, (HEADER, value)], exc_info)

    return wrapped
