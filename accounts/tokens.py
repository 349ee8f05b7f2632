"""What the API's tokens say about the account, besides its id.

Every token carries ``cred``: a short keyed digest of the account's password
hash. Setting a password always writes a new hash (a new salt, even for the
same password), whichever way it is set — the API, the admin's forms,
``manage.py changepassword``, ``set_password`` anywhere, even a queryset
``update()`` — so comparing the claim with the account as it is now ends
every session issued before the change: refresh compares it with the row it
reads, the authentication with the user it reads or caches. No list of
tokens is involved, so none can be missed by a snapshot or a rotation in
flight.

The digest is keyed with the tokens' signing key, so it tells nothing about
the hash to whoever reads a token (a JWT's payload is only encoded).
"""

from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import User

CREDENTIALS_CLAIM = "cred"
# 64 bits: a token is forged only with the signing key, and the chance that
# a new hash gives the old digest is 2**-64.
_DIGEST_LENGTH = 16
_KEY_SALT = "accounts.tokens.credentials"


def credentials_digest(password_hash: str) -> str:
    digest = salted_hmac(_KEY_SALT, password_hash, secret=jwt_settings.SIGNING_KEY, algorithm="sha256")
    return digest.hexdigest()[:_DIGEST_LENGTH]


def credentials_claim_add(token: Token, user: User) -> None:
    token[CREDENTIALS_CLAIM] = credentials_digest(user.password)


def credentials_match(token: Token, digest: str) -> bool:
    """Whether ``token`` was issued under the credentials ``digest`` stands
    for. A token without the claim (issued before it existed) never matches."""
    claim = token.get(CREDENTIALS_CLAIM)
    return isinstance(claim, str) and constant_time_compare(claim, digest)
