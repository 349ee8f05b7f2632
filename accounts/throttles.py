"""Login throttling, keyed both by the login identifier and by the client
address, so neither one account nor one address can be hammered."""

import hashlib
import hmac

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class LoginAddressThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"ip:{self.get_ident(request)}"}


class LoginIdentifierThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, dict) else {}
        email, cpf = data.get("email"), data.get("cpf")
        if isinstance(email, str) and email.strip():
            normalized = "email:" + email.strip().lower()
        elif isinstance(cpf, str) and cpf.strip():
            normalized = "cpf:" + "".join(ch for ch in cpf if ch.isdigit())
        else:
            return None
        # The identifier may be a CPF: only a keyed hash of it reaches the cache.
        digest = hmac.new(settings.SECRET_KEY.encode(), normalized.encode(), hashlib.sha256)
        return self.cache_format % {"scope": self.scope, "ident": f"id:{digest.hexdigest()}"}
