"""The credential throttles: a body they cannot read is the client's error
(415 or 400), not an outage of their store."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
RESET = "/api/v1/auth/password/reset/"
REGISTER = "/api/v1/resellers/"
CHANGE = "/api/v1/auth/password/change/"


# --- Bodies the throttles read ----------------------------------------------


def post(path, body: bytes, charset: str, client=None):
    client = client or APIClient()
    return client.post(path, data=body, content_type=f"application/json; charset={charset}")


@pytest.mark.parametrize("charset", ["undefined", "punycode", "latin-1", "utf-16"])
@pytest.mark.parametrize("path", [LOGIN, RESET])
def test_a_foreign_charset_on_login_and_reset_is_a_415_not_a_throttle_outage(path, charset):
    response = post(path, b'{"email": "a@example.com", "password": "x"}', charset)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", [LOGIN, RESET])
def test_a_body_the_throttle_cannot_parse_is_a_400(path):
    response = APIClient().post(path, data=b'{"email": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
