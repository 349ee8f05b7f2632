"""Throttles of the routes that guard credentials: login (API and admin),
registration, password change and password reset (API and admin).

* **Per address** (``login``): every login attempt from one client address,
  whatever the account.
* **Per account and address** (``login_failures``): failed logins against one
  account from one address. The account is resolved first, so its e-mail and
  its CPF share one budget; and because the address is part of the key,
  failures from other addresses never lock the account's owner out.
* **Registration per address** (``registration``).
* **Password checks per account** (``password``): password changes, and
  e-mail changes, which check the current password too (one budget).
* **Password reset requests** (``password_reset``), per client address and
  per e-mail address asked for: one client cannot send many messages, and
  many clients cannot flood one mailbox. The e-mail is keyed whether or not
  an account uses it, so the limit tells nothing about accounts.

Each is one atomic counter per window (core.throttling.FixedWindowMixin):
however many attempts arrive together, exactly the rate gets through. The
failure count reserves: an attempt takes a slot when it is let through and
gives it back unless the login fails (``LoginFailureThrottle``).

They **fail closed**: their counters live in the ``strict`` cache alias, which
(unlike the default cache) raises when Redis does not answer, and a throttle
that cannot count answers 503 instead of letting every attempt through. Only a
store error (core.cache.STORE_ERRORS) is an outage: a body that cannot be
read is the client's error (415, 400) and anything else a bug. Other routes'
throttles (anon/user) use the default cache and fail open: an outage of the
cache must not take the whole API down.

Keys hold no identifier in clear: an account id, or a keyed hash of an
identifier that matches no account (a CPF never reaches the cache).
"""

import hashlib
import hmac
import logging

from django.conf import settings
from django.contrib import auth
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User, normalize_email
from core.cache import STORE_ERRORS
from core.throttling import FixedWindowMixin

logger = logging.getLogger(__name__)

THROTTLE_UNAVAILABLE_MESSAGE = _(
    "Sign-in and registration are briefly unavailable (the attempt counter does not answer). "
    "Try again in a few seconds."
)
TOO_MANY_ATTEMPTS_MESSAGE = _("Too many attempts. Try again in a minute.")


class ThrottleUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = THROTTLE_UNAVAILABLE_MESSAGE
    default_code = "throttle_unavailable"


class FailClosedThrottle(FixedWindowMixin, SimpleRateThrottle):
    """A throttle whose store raises when down, answered by a 503."""

    @property
    def cache(self):
        return caches["strict"]

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except STORE_ERRORS as exc:
            logger.warning("Throttle store unavailable (%s); refusing the request.", type(exc).__name__)
            raise ThrottleUnavailable() from None


class FailClosedAddressThrottle(FailClosedThrottle):
    """Per client address (NUM_PROXIES decides which), whoever is asking."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"ip:{self.get_ident(request)}"}


class LoginAddressThrottle(FailClosedAddressThrottle):
    scope = "login"


class PasswordChangeThrottle(FailClosedThrottle):
    """Password changes per account: each attempt checks the current
    password, so the route must not become a way to guess it."""

    scope = "password"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}


class PasswordCheckThrottle(PasswordChangeThrottle):
    """Other requests that check the current password (an e-mail change),
    counted in the password change's budget: the password cannot be guessed
    through both routes at twice the rate. A request sending no
    ``current_password`` checks none, and is not counted."""

    def allow_request(self, request, view):
        # Parsed first, outside the store's error handling: a body that cannot
        # be read is the request's error, not an outage of the store.
        self.data = request.data
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if not isinstance(self.data, dict) or "current_password" not in self.data:
            return None
        return super().get_cache_key(request, view)


class RegistrationAddressThrottle(FailClosedAddressThrottle):
    scope = "registration"


def login_credentials(request) -> dict[str, str]:
    """The identifier a login names: ``{"email": …}`` or ``{"cpf": …}`` (the
    admin's form calls the e-mail ``username``)."""
    data = getattr(request, "data", None)
    if not isinstance(data, dict):
        data = request.POST
    email, cpf = data.get("email") or data.get("username"), data.get("cpf")
    if isinstance(email, str) and email.strip():
        return {"email": email}
    if isinstance(cpf, str) and cpf.strip():
        return {"cpf": cpf}
    return {}


def login_account_key(credentials: dict[str, str]) -> str | None:
    """One key per account, whatever identifier names it: ``user:<id>`` when
    an account matches (one indexed query), else a keyed hash of the
    normalised identifier. E-mails are resolved here; other identifiers by
    the authentication backends that know them (``login_user_id``), so
    accounts never reads a CPF."""
    if not credentials:
        return None
    user_id = None
    if "email" in credentials:
        email = normalize_email(credentials["email"])
        normalized = f"email:{email}"
        if _is_email(email):
            user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
    else:
        normalized = "cpf:" + "".join(ch for ch in credentials["cpf"] if ch in "0123456789")
        for backend in auth.get_backends():
            resolve = getattr(backend, "login_user_id", None)
            if resolve is not None and (user_id := resolve(**credentials)) is not None:
                break
    if user_id is not None:
        return f"user:{user_id}"
    # surrogatepass: the key must never fail to encode, whatever was sent.
    digest = hmac.new(
        settings.SECRET_KEY.encode(), normalized.encode("utf-8", "surrogatepass"), hashlib.sha256
    )
    return f"id:{digest.hexdigest()}"


def _is_email(value: str) -> bool:
    # Checked before the query: the throttle runs before the input is
    # validated, and a NUL byte would make PostgreSQL refuse the query.
    try:
        validate_email(value)
    except ValidationError:
        return False
    return len(value) <= 254


class LoginFailureThrottle(FailClosedThrottle):
    """Failed logins per account and address. Checking the count and adding
    the failure cannot be two steps (attempts checked together would all see
    room left), so an attempt takes a slot when it is let through: a failed
    login keeps it (``record_failure``), and ``end_attempt`` gives it back
    otherwise. A refused attempt takes none."""

    scope = "login_failures"

    def get_cache_key(self, request, view):
        account = getattr(request, "_login_account_key", None)
        if account is None:
            account = login_account_key(login_credentials(request))
            request._login_account_key = account
        if account is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"{account}:ip:{self.get_ident(request)}"}

    def allow_request(self, request, view):
        self.key = None
        allowed = super().allow_request(request, view)
        if self.key is not None:
            if allowed:
                request._login_failure_slot = self.key
            else:
                _give_back(self.cache, self.key)
        return allowed

    @staticmethod
    def record_failure(request) -> None:
        """The attempt failed: it keeps its slot."""
        request._login_failure_kept = True

    @staticmethod
    def end_attempt(request) -> None:
        """The attempt is answered: unless it failed, its slot is free again."""
        key = getattr(request, "_login_failure_slot", None)
        request._login_failure_slot = None
        if key is not None and not getattr(request, "_login_failure_kept", False):
            _give_back(caches["strict"], key)


def _give_back(cache, key: str) -> None:
    try:
        cache.decr(key)
    except ValueError:
        pass  # the window is over: its counter is gone
    except STORE_ERRORS as exc:
        # The attempt is decided already; the slot stays taken until the
        # window ends, which errs on the safe side.
        logger.warning("Could not give back a login attempt's slot (%s).", type(exc).__name__)


def login_throttles() -> list[SimpleRateThrottle]:
    """The checks every login goes through, API and admin alike."""
    return [LoginAddressThrottle(), LoginFailureThrottle()]


def login_allowed(request) -> bool:
    """For logins outside DRF (the admin): the same throttles as the API's
    (raises ThrottleUnavailable when their store is down)."""
    return all(throttle.allow_request(request, None) for throttle in login_throttles())


def reset_email_key(request) -> str | None:
    """A keyed hash of the normalised e-mail a reset request names (the API's
    body or the admin's form), or None when it names none."""
    data = getattr(request, "data", None)
    if not isinstance(data, dict):
        data = request.POST
    email = data.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"reset:{normalize_email(email)}".encode("utf-8", "surrogatepass"),
        hashlib.sha256,
    )
    return f"email:{digest.hexdigest()}"


class PasswordResetAddressThrottle(FailClosedAddressThrottle):
    scope = "password_reset"


class PasswordResetEmailThrottle(FailClosedThrottle):
    scope = "password_reset"

    def get_cache_key(self, request, view):
        key = reset_email_key(request)
        return None if key is None else self.cache_format % {"scope": self.scope, "ident": key}


def password_reset_throttles() -> list[SimpleRateThrottle]:
    """The checks every reset request goes through, API and admin alike."""
    return [PasswordResetAddressThrottle(), PasswordResetEmailThrottle()]


def password_reset_allowed(request) -> bool:
    """For the admin's reset form: the API's reset throttles (raises
    ThrottleUnavailable when their store is down). Every throttle counts the
    request, as DRF's own check does."""
    return all([throttle.allow_request(request, None) for throttle in password_reset_throttles()])
