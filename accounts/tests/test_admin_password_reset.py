"""The admin's "forgotten your password?" flow: linked from its login page,
in its look, e-mailing staff accounts only, throttled like the API's reset,
with the same one-hour, one-time links."""

import re
import time

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client, override_settings
from django.utils.http import urlsafe_base64_encode
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.forms import TOO_MANY_RESET_REQUESTS_MESSAGE
from accounts.models import User
from accounts.serializers import tokens_for
from accounts.tests.factories import PASSWORD, StaffFactory
from conftest import CACHE_DOWN, committed

FORM = "/admin/password-reset/"
NEW = "0utra-Senha-Forte-2025"

pytestmark = pytest.mark.django_db


def ask(email, client=None, **headers):
    # The message is queued, and sent once the request's work commits.
    with committed():
        return (client or Client()).post(FORM, {"email": email}, **headers)


def admin_link(message) -> str:
    """The link's path: it starts with PUBLIC_BASE_URL (the tests' default)."""
    return re.search(rf"{re.escape(settings.PUBLIC_BASE_URL)}(/\S+)", message.body).group(1)


def test_the_admin_login_page_links_to_the_reset_form():
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert f'href="{FORM}"' in response.content.decode()


def test_the_reset_form_looks_like_the_admin():
    page = Client().get(FORM).content.decode()
    assert "Cashback de revendedores — painel administrativo" in page
    assert 'name="email"' in page


def test_a_staff_member_resets_the_password_through_the_admin(staff_user):
    sessions = [tokens_for(staff_user) for _ in range(2)]
    response = ask(staff_user.email.upper())
    assert response.status_code == 302
    assert response["Location"] == "/admin/password-reset/done/"

    (message,) = mail.outbox
    assert message.to == [staff_user.email]
    # Django's message, in Portuguese by default, naming the site.
    assert message.subject == "Redefinição de senha em Cashback de revendedores"
    assert "Por favor, acesse a seguinte página e escolha uma nova senha" in message.body

    client = Client()
    link = admin_link(message)
    assert link.startswith("/admin/password-reset/")
    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert form.context["validlink"] is True
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert done.redirect_chain[-1][0] == "/admin/password-reset/complete/"
    assert 'href="/admin/login/"' in done.content.decode()

    user = User.objects.get(pk=staff_user.pk)
    assert user.check_password(NEW)
    assert Client().login(email=user.email, password=NEW)
    # The API's sessions end too.
    for session in sessions:
        refresh = APIClient().post(
            "/api/v1/auth/token/refresh/", {"refresh": session["refresh"]}, format="json"
        )
        assert refresh.status_code == 401
    # The link worked once.
    again = Client().get(link, follow=True)
    assert again.context["validlink"] is False


@override_settings(ALLOWED_HOSTS=["api.example.com"], PUBLIC_BASE_URL="https://cashback.example.com")
def test_the_admin_link_never_follows_the_host_the_request_names(staff_user):
    response = ask(staff_user.email, HTTP_HOST="api.example.com:8443")
    assert response.status_code == 302
    (message,) = mail.outbox
    url = re.search(r"https?://\S+", message.body).group()
    assert url.startswith("https://cashback.example.com/admin/password-reset/")
    assert "api.example.com" not in message.body
    assert "8443" not in message.body


def test_the_admin_form_takes_the_same_floor_for_staff_and_any_other_address(staff_user, reseller, settings):
    settings.PASSWORD_RESET_MIN_SECONDS = 0.05
    for email in (staff_user.email, reseller.user.email, "nobody@example.com"):
        started = time.perf_counter()
        assert ask(email).status_code == 302
        assert time.perf_counter() - started >= 0.05, email
    assert [message.to for message in mail.outbox] == [[staff_user.email]]


def test_a_reseller_gets_no_admin_link(reseller):
    response = ask(reseller.user.email)
    # The same answer as for staff: the form tells nothing about accounts.
    assert response.status_code == 302
    assert response["Location"] == "/admin/password-reset/done/"
    assert mail.outbox == []
    assert Client().get(response["Location"]).status_code == 200


def test_an_inactive_staff_member_gets_no_link():
    staff = StaffFactory(is_active=False)
    assert ask(staff.email).status_code == 302
    assert mail.outbox == []


def test_a_weak_password_is_refused_on_the_admin_page(staff_user):
    ask(staff_user.email)
    client = Client()
    form = client.get(admin_link(mail.outbox[0]), follow=True)
    response = client.post(form.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert User.objects.get(pk=staff_user.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    "uid",
    [
        "MQ",  # a real account, with a wrong token
        "%E2%80%8B",  # not base64
        urlsafe_base64_encode(b"1\x00"),
        urlsafe_base64_encode(b"99999999999999999999999"),  # beyond 64 bits
        urlsafe_base64_encode(b"\xff"),  # not UTF-8
    ],
)
def test_a_malformed_admin_link_is_the_invalid_link_page(staff_user, uid):
    response = Client().get(f"/admin/password-reset/{uid}/abc-123/")
    assert response.status_code == 200
    assert response.context["validlink"] is False


def test_the_admin_form_shares_the_api_reset_throttle(staff_user, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "password_reset", "2/hour")
    client = Client()
    assert [ask(staff_user.email, client).status_code for _ in range(2)] == [302, 302]
    refused = ask(staff_user.email, client)
    assert refused.status_code == 200
    assert str(TOO_MANY_RESET_REQUESTS_MESSAGE) in refused.content.decode()
    assert len(mail.outbox) == 2
    # The API's route counts against the same budget for this address.
    api = APIClient().post("/api/v1/auth/password/reset/", {"email": "x@example.com"}, format="json")
    assert api.status_code == 429


def test_the_admin_form_fails_closed_when_the_throttle_store_is_down(staff_user):
    with override_settings(CACHES=CACHE_DOWN):
        response = ask(staff_user.email)
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert mail.outbox == []
