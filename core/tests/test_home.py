"""``/``: the first address a newcomer opens. JSON for API clients (the
default), a small Portuguese page for browsers, both pointing at the
documentation, the schema, the admin and the liveness probe."""

import re

import pytest

from conftest import EN

pytestmark = pytest.mark.django_db

LINKS = {
    "docs": "/api/v1/docs/",
    "redoc": "/api/v1/redoc/",
    "schema": "/api/v1/schema/",
    "admin": "/admin/",
    "health": "/health/live",
}
# What Chromium sends for a page typed in the address bar.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/*", "image/png"])
def test_root_answers_json_to_api_clients(client, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = client.get("/", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "Accept" in response["Vary"]
    body = response.json()
    assert {rel: link["href"] for rel, link in body["links"].items()} == LINKS
    assert body["name"] == "Cashback de revendedores"
    assert body["links"]["docs"]["title"] == "Documentação da API (Swagger UI)"


def test_root_json_in_english_on_request(client):
    body = client.get("/", **EN).json()
    assert body["name"] == "Reseller cashback"
    assert body["links"]["schema"]["title"] == "OpenAPI 3 schema"


def test_every_link_of_the_root_answers(client):
    for href in LINKS.values():
        response = client.get(href)
        # The admin sends an anonymous visitor to its login page.
        assert response.status_code in (200, 302), href


def test_root_answers_a_portuguese_page_to_browsers(client):
    response = client.get("/", HTTP_ACCEPT=BROWSER)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in response["Vary"]
    html = response.content.decode()
    assert '<html lang="pt-br">' in html
    assert "<title>Cashback de revendedores</title>" in html
    assert "Documentação da API" in html
    assert "Área administrativa" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert set(LINKS.values()) <= set(hrefs)


def test_root_page_loads_nothing_from_anywhere(client):
    html = client.get("/", HTTP_ACCEPT=BROWSER).content.decode()
    assert "<script" not in html
    assert "<link" not in html
    assert "src=" not in html
    assert not re.search(r'(href|src)="(https?:)?//', html)


def test_root_page_in_english_on_request(client):
    html = client.get("/", HTTP_ACCEPT=BROWSER, **EN).content.decode()
    assert '<html lang="en">' in html
    assert "API documentation" in html


def test_root_answers_head(client):
    assert client.head("/").status_code == 200


def test_root_refuses_writes_with_json_405(client):
    response = client.post("/", data={})
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"
