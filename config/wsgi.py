import os

import django
from django.core.handlers import wsgi
from django.utils.http import parse_header_parameters


class WSGIRequest(wsgi.WSGIRequest):
    """Django's, decoding the query string and form bodies as UTF-8
    (``DEFAULT_CHARSET``) whatever charset the Content-Type declares.
    Django decodes them with any codec Python knows, while it builds the
    request: with ``charset=undefined`` (or ``punycode``, ``rot13``) any
    query string raised before a middleware could answer, and an EBCDIC
    charset turned it into other text. The charset stays in
    ``content_params``, where the JSON parser refuses it (core.parsers)."""

    def _set_content_type_params(self, meta):
        # Django's, without setting ``encoding`` from the charset.
        self.content_type, self.content_params = parse_header_parameters(meta.get("CONTENT_TYPE", ""))


class WSGIHandler(wsgi.WSGIHandler):
    request_class = WSGIRequest


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# As django.core.wsgi.get_wsgi_application, with the request class above.
django.setup(set_prefix=False)
application = WSGIHandler()
