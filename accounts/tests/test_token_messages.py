"""Every 401 of token handling (the Authorization header, refresh, logout) is
``{detail, code}`` and nothing else, in Portuguese by default (English with
``Accept-Language: en``): SimpleJWT's own texts are translated by the project,
and its per-token-class ``messages`` list is not part of the answer."""

import datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.serializers import tokens_for
from conftest import EN, authenticated_client

pytestmark = pytest.mark.django_db

ME = "/api/v1/resellers/me/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
LATER = datetime.timedelta(days=30)


def bearer(token, **headers):
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


def refresh(token, **headers):
    return APIClient().post(REFRESH, {"refresh": token}, format="json", **headers)


def assert_401(response, detail, code="token_not_valid"):
    assert response.status_code == 401
    assert response.json() == {"detail": detail, "code": code}


def test_a_malformed_access_token(user):
    assert_401(bearer("abc"), "O token é inválido.")


def test_a_malformed_access_token_in_english(user):
    assert_401(bearer("abc", **EN), "Token is invalid")


def test_a_refresh_token_used_as_the_access_token(user):
    assert_401(bearer(tokens_for(user)["refresh"]), "O token não é do tipo esperado.")


def test_an_expired_access_token(user):
    access = tokens_for(user)["access"]
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + LATER):
        assert_401(bearer(access), "O token expirou.")


def test_an_authorization_header_with_three_values(user):
    response = APIClient().get(ME, HTTP_AUTHORIZATION="Bearer a b")
    assert_401(
        response,
        'O cabeçalho Authorization deve ter dois valores separados por um espaço: "Bearer <token>".',
        code="bad_authorization_header",
    )


def test_an_inactive_account(user):
    access = tokens_for(user)["access"]
    user.is_active = False
    user.save()
    assert_401(bearer(access), "Usuário inativo.", code="user_inactive")


def test_a_used_refresh_token(user):
    token = tokens_for(user)["refresh"]
    assert refresh(token).status_code == 200
    assert_401(refresh(token), "O token já foi usado ou revogado.")
    assert_401(refresh(token, **EN), "Token is blacklisted")


def test_an_expired_refresh_token(user):
    token = tokens_for(user)["refresh"]
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + LATER):
        assert_401(refresh(token), "O token expirou.")


def test_a_malformed_refresh_token_on_refresh(user):
    assert_401(refresh("abc"), "O token é inválido.")


def test_a_refresh_token_of_a_deactivated_account(user):
    token = tokens_for(user)["refresh"]
    user.is_active = False
    user.save()
    assert_401(refresh(token), "Nenhuma conta ativa encontrada para este token.", code="no_active_account")


def test_an_expired_refresh_token_on_logout_stays_401(user):
    token = tokens_for(user)["refresh"]
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + LATER):
        client = authenticated_client(user)  # an access token of that moment
        assert_401(client.post(LOGOUT, {"refresh": token}, format="json"), "O token expirou.")


# --- Logout: a malformed token is the client's mistake (400), not an ended session


@pytest.mark.parametrize("token", ["abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x", ""])
def test_a_malformed_refresh_token_on_logout_is_a_400_on_refresh(user, token):
    response = authenticated_client(user).post(LOGOUT, {"refresh": token}, format="json")
    assert response.status_code == 400
    if token:
        assert response.json() == {
            "refresh": [
                "Isto não é um token (malformado): envie o valor de `refresh` devolvido pelo login "
                "ou pela última renovação, sem alterações."
            ]
        }


def test_a_malformed_refresh_token_on_logout_in_english(user):
    response = authenticated_client(user).post(LOGOUT, {"refresh": "abc"}, format="json", **EN)
    assert response.status_code == 400
    assert response.json()["refresh"][0].startswith("This is not a token (malformed)")


def test_a_used_refresh_token_on_logout_stays_401(user):
    token = tokens_for(user)["refresh"]
    client = authenticated_client(user)
    assert client.post(LOGOUT, {"refresh": token}, format="json").status_code == 204
    assert_401(client.post(LOGOUT, {"refresh": token}, format="json"), "O token já foi usado ou revogado.")


def test_a_refresh_token_signed_with_another_key_on_logout_stays_401(user):
    # Well formed, but not ours (e.g. from before a key rotation): an ended session.
    import jwt

    token = tokens_for(user)["refresh"]
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        "another-signing-key-of-32-bytes-or-more",
        algorithm="HS256",
    )
    response = authenticated_client(user).post(LOGOUT, {"refresh": forged}, format="json")
    assert_401(response, "O token é inválido.")
