"""CPF handling: parsing, check digits, display, encryption and blind index.

The CPF is personal data (LGPD). At rest it exists only as Fernet ciphertext
(``encrypt``/``decrypt``, MultiFernet so keys can rotate) plus a keyed
HMAC-SHA256 of the 11 digits (``blind_index``) used for exact lookup and the
uniqueness constraint. Nothing here ever puts the digits into an exception
message or a log record.
"""

import hashlib
import hmac
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

INVALID_CPF_MESSAGE = _(
    "Enter a valid CPF: 11 digits with correct check digits, as 000.000.000-00 or 00000000000."
)

# Only ASCII digits: "\d" and str.isdigit() accept any Unicode digit, which
# would let a CPF written in fullwidth digits register again one already taken.
# The API publishes it (CPFField): the text exactly, with nothing around it.
CPF_PATTERN = r"\A(?:[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}|[0-9]{11})\Z"
_ACCEPTED_FORMAT = re.compile(CPF_PATTERN)
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")


class InvalidCPF(ValueError):
    """Raised for a CPF that is malformed or fails its check digits.

    The message is always the generic one: the rejected value is never echoed.
    """

    def __init__(self):
        super().__init__(str(INVALID_CPF_MESSAGE))


def _check_digit(digits: str) -> int:
    weight = len(digits) + 1
    total = sum(int(digit) * (weight - position) for position, digit in enumerate(digits))
    remainder = total * 10 % 11
    return 0 if remainder == 10 else remainder


def is_valid_digits(digits: str) -> bool:
    if not _ELEVEN_DIGITS.fullmatch(digits) or digits == digits[0] * 11:
        return False
    return _check_digit(digits[:9]) == int(digits[9]) and _check_digit(digits[:10]) == int(digits[10])


def with_check_digits(base: str) -> str:
    """Complete 9 digits into a valid CPF (used to generate demo and test data)."""
    first = _check_digit(base)
    return f"{base}{first}{_check_digit(f'{base}{first}')}"


def normalize(value: object) -> str:
    """Return the 11 digits of a well-formed, valid CPF or raise InvalidCPF."""
    if not isinstance(value, str):
        raise InvalidCPF()
    value = value.strip()
    if not _ACCEPTED_FORMAT.fullmatch(value):
        raise InvalidCPF()
    digits = value.replace(".", "").replace("-", "")
    if not is_valid_digits(digits):
        raise InvalidCPF()
    return digits


def format_cpf(digits: str) -> str:
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("CPF_ENCRYPTION_KEYS is empty.")
    return MultiFernet([Fernet(key) for key in keys])


def _cipher() -> MultiFernet:
    return _fernet(tuple(settings.CPF_ENCRYPTION_KEYS))


def encrypt(digits: str) -> str:
    return _cipher().encrypt(digits.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A CPF could not be decrypted with CPF_ENCRYPTION_KEYS (was a key removed too early?)."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a ciphertext under the primary (first) key."""
    return _cipher().rotate(token.encode()).decode()


def lookup_index(value: object) -> str:
    """The blind index of a CPF written in either accepted format: the one way
    a CPF is looked up (raises InvalidCPF for anything that is not a CPF)."""
    return blind_index(normalize(value))


def blind_index(digits: str) -> str:
    key = settings.CPF_BLIND_INDEX_KEY
    if not key:
        raise ImproperlyConfigured("CPF_BLIND_INDEX_KEY is empty.")
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()
