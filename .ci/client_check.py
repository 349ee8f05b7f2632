"""A client generated from the published schema (openapi-python-client, by
.ci/fuzz) parses the API's error bodies: a 400 keyed by field and a 404
``{detail, code}``. Run with the generated package ``client`` importable and
the live app's base URL as the only argument."""

import sys

from client import AuthenticatedClient, Client
from client.api.auth import auth_token_create
from client.api.purchases import purchases_retrieve
from client.models import Error, LoginInputRequest, TokenPairOutput, ValidationError

base_url = sys.argv[1]
anonymous = Client(base_url=base_url)

# 400: the e-mail is not an address. Errors keyed by field name.
bad = auth_token_create.sync_detailed(
    client=anonymous, body=LoginInputRequest(password="x", email="not-an-email")
)
assert bad.status_code == 400, bad.status_code
assert isinstance(bad.parsed, ValidationError), type(bad.parsed)
assert "email" in bad.parsed.additional_properties, bad.parsed.to_dict()

# 404: no such purchase. {"detail", "code"}.
login = auth_token_create.sync_detailed(
    client=anonymous, body=LoginInputRequest(password="admin-Demo-2024", email="admin@example.com")
)
assert isinstance(login.parsed, TokenPairOutput), login.content
staff = AuthenticatedClient(base_url=base_url, token=login.parsed.access)
missing = purchases_retrieve.sync_detailed(client=staff, id=2**62)
assert missing.status_code == 404, missing.status_code
assert isinstance(missing.parsed, Error), type(missing.parsed)
assert missing.parsed.code == "not_found", missing.parsed.to_dict()
assert missing.parsed.detail, missing.parsed.to_dict()

print("generated client: 400 parsed as ValidationError (email), 404 as Error (not_found)")  # noqa: T201
