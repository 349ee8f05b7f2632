"""The API's default throttles, as fixed windows.

DRF's throttles keep the timestamp of every request in the window in the
cache and rewrite the whole list on each request: at 1,200/min a busy client
costs a 1,200-float pickle read and written per request. These count the
requests of the current window with one atomic increment instead. As with
any fixed window, a client may get up to twice the rate across a window
boundary; login, registration and password routes have their own throttles
(accounts.throttles).

If the cache does not answer, these let the request through (as DRF's do):
only the routes named above fail closed.
"""

from rest_framework import throttling


class FixedWindowMixin:
    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{ident}:w{window}"
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request: the key does not exist yet
            count = 1 if self.cache.add(key, 1, timeout=self.duration + 1) else self.cache.incr(key)
        if count is None:  # the cache swallowed an error: fail open
            return True
        return count <= self.num_requests

    def wait(self):
        return max(self.window_ends - self.now, 0)


class AnonRateThrottle(FixedWindowMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FixedWindowMixin, throttling.UserRateThrottle):
    pass
