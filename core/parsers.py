"""The API's JSON parser: DRF's, refusing what would break something later.

* **Nesting deeper than ``MAX_DEPTH``**: a thousand nested arrays make the
  decoder (and then any recursive walk of the data) raise RecursionError.
  The depth is measured on the raw text first, in one linear pass, so a deep
  document never reaches the decoder.
* **Numbers that overflow** (``1e309`` becomes ``inf``; ``int(inf)`` raises
  OverflowError wherever an id or amount is read) and ``NaN``/``Infinity``.
* **Lone UTF-16 surrogates** (``"\\ud800"``): valid JSON, but not text. Such a
  string cannot be encoded to UTF-8, which the database, the cache keys and
  the logs all do.

Each is a 400 ``parse_error`` before any view code runs.
"""

import json
import math
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32

TOO_DEEP_MESSAGE = _("JSON parse error - the document is nested too deeply.")
NOT_FINITE_MESSAGE = _("JSON parse error - numbers must be finite.")
SURROGATE_MESSAGE = _("JSON parse error - strings must be valid Unicode text.")
INVALID_JSON_MESSAGE = _("JSON parse error - the body is not valid JSON.")

# Strings (escapes included) are skipped; what remains are the brackets.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class _Refused(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _depth_exceeds(text: str, limit: int) -> bool:
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(NOT_FINITE_MESSAGE)
    return number


def _refuse_constant(name: str):
    raise _Refused(NOT_FINITE_MESSAGE)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_strings(data) -> None:
    # Iterative: the depth is bounded already, but a walk needs no stack.
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                raise _Refused(SURROGATE_MESSAGE)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def loads(text: str):
    """Decode a JSON document under the rules above (raises ParseError)."""
    if _depth_exceeds(text, MAX_DEPTH):
        raise ParseError(TOO_DEEP_MESSAGE)
    try:
        data = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
        # Integers are unbounded in JSON; a float-looking one is parsed above.
        _check_strings(data)
    except _Refused as exc:
        raise ParseError(exc.message) from None
    except (ValueError, RecursionError):
        raise ParseError(INVALID_JSON_MESSAGE) from None
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
        except (UnicodeDecodeError, LookupError):
            raise ParseError(INVALID_JSON_MESSAGE) from None
        return loads(text)
