"""The admin site as a whole: its titles and sections in Portuguese by
default, the header's links, the icon, and what it leaves out."""

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from conftest import EN

pytestmark = pytest.mark.django_db

PORTUGUESE_SECTIONS = [
    "Relatórios",
    "Autenticação e Autorização",
    "Compras",
    "Contas",
    "Produtos",
    "Revendedores",
    "Segundo plano",
]


def sections(html: str) -> list[str]:
    """The section captions of the index (the sidebar repeats them)."""
    main = html.split('id="content-main"', 1)[1]
    return re.findall(r'<a href="[^"]*" class="section"[^>]*>([^<]+)</a>', main)


def test_the_index_is_in_portuguese_by_default(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "<title>Painel administrativo | Cashback de revendedores</title>" in html
    assert "Cashback de revendedores — painel administrativo" in html
    assert sections(html) == PORTUGUESE_SECTIONS
    for english in ["Back office", "back office", "Token Blacklist", "Reports", "Accounts", "Purchases"]:
        assert english not in html


def test_the_index_follows_an_english_browser(admin_client):
    html = admin_client.get("/admin/", **EN).content.decode()
    assert "Reseller cashback — back office" in html
    assert sections(html)[0] == "Reports"


def test_the_token_blacklist_is_not_in_the_admin(admin_client):
    # Written by logout, token rotation and password changes; never by hand.
    assert not admin.site.is_registered(OutstandingToken)
    assert not admin.site.is_registered(BlacklistedToken)
    assert admin_client.get("/admin/token_blacklist/outstandingtoken/").status_code == 404
    assert "token_blacklist" not in admin_client.get("/admin/").content.decode()


def test_the_headers_view_site_opens_the_root_page(admin_client, client):
    html = admin_client.get("/admin/").content.decode()
    assert '<a href="/">Ver o site</a>' in html
    root = client.get("/", HTTP_ACCEPT="text/html").content.decode()
    assert 'href="/api/v1/docs/"' in root


def test_favicon_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert "max-age" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body == Path(finders.find("favicon.ico")).read_bytes()
    assert body[:4] == b"\x00\x00\x01\x00"  # an icon file
    assert client.head("/favicon.ico").status_code == 200
    assert client.post("/favicon.ico").status_code == 405


def test_admin_pages_link_their_icon(admin_client, client):
    for html in [admin_client.get("/admin/").content.decode(), client.get("/admin/login/").content.decode()]:
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
        assert 'href="/static/favicon.ico"' in html
    assert finders.find("favicon.svg")


def test_the_reports_section_is_for_staff_only(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/login/")
    request.user = AnonymousUser()
    assert admin.site.get_app_list(request) == []
    assert "Relatórios" not in client.get("/admin/login/").content.decode()


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_changelists_checkbox_is_the_one_django_writes(language):
    from datetime import date

    from django.utils import translation

    from accounts.models import User
    from core.admin import ActionCheckboxMixin
    from purchases.models import Purchase

    # A name that needs escaping in the attribute.
    objects = {
        Purchase: Purchase(pk=42, code="NF-<1>&\"x'", date=date(2026, 3, 1)),
        User: User(pk=7, email="a&b@example.com", full_name='Ana "<b>"'),
    }
    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, ActionCheckboxMixin), type(model_admin)
    with translation.override(language):
        for model, obj in objects.items():
            model_admin = admin.site._registry[model]
            written = model_admin.action_checkbox(obj)
            assert written == admin.ModelAdmin.action_checkbox(model_admin, obj)
            assert f'value="{obj.pk}"' in written
