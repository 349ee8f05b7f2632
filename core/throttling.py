"""The API's throttles, as fixed windows.

DRF's throttles keep the timestamp of every request in the window in the
cache and rewrite the whole list on each request: read, then write, so
concurrent requests all read the same history and all get through (and at
1,200/min a busy client costs a 1,200-float pickle read and written per
request). ``FixedWindowMixin`` counts the requests of the current window
with one atomic increment instead (``add`` + ``incr``: Redis's SET NX and
INCR; the local-memory cache does both under its lock), so of any number of
concurrent requests exactly the rate gets through. As with any fixed window,
a client may get up to twice the rate across a window boundary.

Every throttle of the project is one: the default anon/user throttles here,
and the credential throttles of accounts.throttles (login, registration,
password change and reset), which count in the strict cache alias and fail
closed. These fail open: if the default cache does not answer, the request
goes through (as DRF's do).
"""

from rest_framework import throttling


class FixedWindowMixin:
    """One counter per client and window, under ``<cache key>:w<window>``."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        count = self.count(ident)
        if count is None:  # the cache swallowed an error: fail open
            return True
        return count <= self.num_requests

    def count(self, ident: str) -> int | None:
        """Count one request of ``ident`` in the current window (its key is
        left in ``self.key``); the window's count so far, or None from a
        cache that swallows its errors."""
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        self.key = f"{ident}:w{window}"
        while True:
            try:
                return self.cache.incr(self.key)
            except ValueError:  # the window's first request: no counter yet
                pass
            # Exactly one of concurrent first requests creates it; the others
            # increment it. (A counter expiring in between starts over.)
            added = self.cache.add(self.key, 1, timeout=self.duration + 1)
            if added is None:
                return None
            if added:
                return 1

    def wait(self):
        return max(self.window_ends - self.now, 0)


class AnonRateThrottle(FixedWindowMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FixedWindowMixin, throttling.UserRateThrottle):
    pass
