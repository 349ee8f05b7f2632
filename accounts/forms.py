"""The admin's password reset forms: Django's, for staff accounts, under the
API's throttles and with the API's way of ending sessions and sending mail."""

from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.core.mail import EmailMultiAlternatives
from django.template import loader
from django.utils.translation import gettext_lazy as _

from accounts import emails
from accounts.services import password_reset_floor, user_password_set
from accounts.throttles import THROTTLE_UNAVAILABLE_MESSAGE, ThrottleUnavailable, password_reset_allowed

TOO_MANY_RESET_REQUESTS_MESSAGE = _("Too many password reset requests. Try again later.")


class AdminPasswordResetForm(PasswordResetForm):
    """Only staff accounts get a link: it leads to the admin, where no other
    account can sign in. Counted by the API's reset throttles (per address and
    per e-mail, failing closed)."""

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        cleaned_data = super().clean()
        if self.request is not None:
            try:
                allowed = password_reset_allowed(self.request)
            except ThrottleUnavailable:
                allowed = None
            # The admin's template shows the e-mail field's errors only.
            if allowed is None:
                self.add_error(
                    "email", forms.ValidationError(THROTTLE_UNAVAILABLE_MESSAGE, code="unavailable")
                )
            elif not allowed:
                self.add_error(
                    "email", forms.ValidationError(TOO_MANY_RESET_REQUESTS_MESSAGE, code="throttled")
                )
        return cleaned_data

    def get_users(self, email):
        return (user for user in super().get_users(email) if user.is_staff)

    def save(self, *args, **kwargs):
        # As long for a staff account as for any other address (the API's floor).
        with password_reset_floor():
            super().save(*args, **kwargs)

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        # As Django's, but sent like every other message (accounts.emails):
        # through the outbox by a worker, failures logged with the account's id.
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines()).strip()
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(
                loader.render_to_string(html_email_template_name, context), "text/html"
            )
        emails.password_reset_queue(message, user=context["user"])


class AdminSetPasswordForm(SetPasswordForm):
    """Setting the password ends every API session too, as the API's reset does."""

    def save(self, commit=True):
        user_password_set(user=self.user, new_password=self.cleaned_data["new_password1"])
        return self.user


PASSWORD_MISMATCH_MESSAGE = SetPasswordForm.error_messages["password_mismatch"]


class PasswordResetPageForm(forms.Form):
    """The reset page's form: the link's uid and token (hidden, from its query
    string) and the new password twice. The password rules and the link are
    checked by the service (``user_password_reset_confirm``), as for the API."""

    uid = forms.CharField(widget=forms.HiddenInput, max_length=64)
    token = forms.CharField(widget=forms.HiddenInput, max_length=128)
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    new_password2 = forms.CharField(
        label=_("New password confirmation"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned_data = super().clean()
        first, second = cleaned_data.get("new_password1"), cleaned_data.get("new_password2")
        if first and second and first != second:
            self.add_error(
                "new_password2", forms.ValidationError(PASSWORD_MISMATCH_MESSAGE, code="password_mismatch")
            )
        return cleaned_data
