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

And a body declared in any charset but UTF-8 (``charset=latin-1``,
``utf-16``, or ``undefined`` and ``punycode``, codecs that fail on any
input) is a 415 ``unsupported_media_type``: JSON is UTF-8 (RFC 8259), and
no charset at all means UTF-8. The declared charset is never used to decode
anything else either (config.wsgi.WSGIRequest).
"""

import json
import math
import re

from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType

MAX_DEPTH = 32

TOO_DEEP_MESSAGE = _("JSON parse error - the document is nested too deeply.")
NOT_FINITE_MESSAGE = _("JSON parse error - numbers must be finite.")
SURROGATE_MESSAGE = _("JSON parse error - strings must be valid Unicode text.")
INVALID_JSON_MESSAGE = _("JSON parse error - the body is not valid JSON.")
NOT_UTF8_MESSAGE = _("The request body must be encoded in UTF-8: send charset=utf-8, or no charset.")

UTF8_NAMES = frozenset({"utf-8", "utf8"})

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


def declares_utf8(media_type: str | None) -> bool:
    """Whether a Content-Type declares UTF-8, or no charset (UTF-8 then)."""
    charset = parse_header_parameters(media_type or "")[1].get("charset")
    return charset is None or charset.lower() in UTF8_NAMES


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # The declared charset is checked, never used: DRF would decode with
        # it (Django's request.encoding), whatever codec it names.
        if not declares_utf8(media_type):
            raise UnsupportedMediaType(media_type, detail=NOT_UTF8_MESSAGE)
        try:
            text = stream.read().decode("utf-8") if stream is not None else ""
        except UnicodeDecodeError:
            raise ParseError(INVALID_JSON_MESSAGE) from None
        return loads(text)
