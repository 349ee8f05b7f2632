"""Pages for account holders in a browser (not the API, not the admin).

``/conta/redefinir-senha/?uid=…&token=…`` is where the password reset e-mail
leads by default (PASSWORD_RESET_URL): a form with the link's uid and token
already in it, the password rules, and a clear result. It posts to itself
and sets the password through the API's service, so the link, the rules and
the end of every session are the API's. Plain HTML: no script, nothing
loaded from anywhere.
"""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import PasswordResetPageForm
from accounts.services import (
    INVALID_RESET_LINK_MESSAGE,
    password_reset_link_valid,
    user_password_reset_confirm,
)
from accounts.throttles import TOO_MANY_ATTEMPTS_MESSAGE
from core.throttling import AnonRateThrottle

PASSWORD_RESET_PAGE_TITLE = _("Choose a new password")
PASSWORD_RESET_DONE_MESSAGE = _(
    "Your password was changed. Every session of your account has ended: sign in again with the new password."
)
TEMPLATE = "accounts/password_reset_page.html"


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def password_reset_page(request):
    context = {
        "title": PASSWORD_RESET_PAGE_TITLE,
        "rules": password_validation.password_validators_help_texts(),
    }
    if request.method != "POST":
        uid, token = request.GET.get("uid", ""), request.GET.get("token", "")
        if not password_reset_link_valid(uid=uid, token=token):
            # A dead link: say so before the user types a new password.
            return render(request, TEMPLATE, {**context, "link_error": INVALID_RESET_LINK_MESSAGE})
        form = PasswordResetPageForm(initial={"uid": uid, "token": token})
        return render(request, TEMPLATE, {**context, "form": form})

    # The API's confirmation is throttled per client address (anon): the same budget.
    if not AnonRateThrottle().allow_request(request, None):
        return render(request, TEMPLATE, {**context, "link_error": TOO_MANY_ATTEMPTS_MESSAGE}, status=429)
    form = PasswordResetPageForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            user_password_reset_confirm(
                uid=data["uid"], token=data["token"], new_password=data["new_password1"]
            )
        except ValidationError as exc:
            if "token" in exc.error_dict:
                return render(request, TEMPLATE, {**context, "link_error": INVALID_RESET_LINK_MESSAGE})
            form.add_error("new_password1", exc.error_dict["new_password"])
        else:
            return render(request, TEMPLATE, {**context, "done": PASSWORD_RESET_DONE_MESSAGE})
    elif "uid" in form.errors or "token" in form.errors:
        return render(request, TEMPLATE, {**context, "link_error": INVALID_RESET_LINK_MESSAGE})
    return render(request, TEMPLATE, {**context, "form": form})
