from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from resellers import cpf as cpf_codec


class Reseller(models.Model):
    """A reseller's profile. Name and e-mail live on the user (the login);
    the CPF is kept only encrypted, with a keyed hash for lookups."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reseller",
        verbose_name=_("user"),
    )
    cpf_encrypted = models.TextField(_("CPF (encrypted)"), editable=False)
    cpf_index = models.CharField(_("CPF blind index"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reseller")
        verbose_name_plural = _("resellers")
        ordering = ["-created_at", "-id"]
        # The list's order (admin and API), read backwards: a page is an
        # index range, not a sort of every reseller joined to their month.
        indexes = [models.Index(fields=["created_at", "id"], name="resellers_created_id_idx")]
        # Staff without it see resellers but not their CPFs (API and admin).
        permissions = [("view_reseller_cpf", gettext_noop("Can view reseller CPF"))]

    def __str__(self) -> str:
        return self.user.full_name if self.user_id else f"Reseller #{self.pk}"

    @property
    def cpf(self) -> str:
        """The 11 digits, decrypted on access."""
        return cpf_codec.decrypt(self.cpf_encrypted)

    @cpf.setter
    def cpf(self, value: str) -> None:
        digits = cpf_codec.normalize(value)
        self.cpf_encrypted = cpf_codec.encrypt(digits)
        self.cpf_index = cpf_codec.blind_index(digits)

    @property
    def cpf_formatted(self) -> str:
        return cpf_codec.format_cpf(self.cpf)


class CashbackCredit(models.Model):
    """The brand's accumulated cashback for a reseller, as its API last gave
    it: written by the refresh task (``resellers.tasks``), read by the
    cashback routes, which never call the API themselves. Kept in the
    database rather than the cache: the api and the workers share it in
    every setup (the local-memory cache is each process's own), and it
    survives a cache flush."""

    reseller = models.OneToOneField(
        Reseller,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="cashback_credit",
        verbose_name=_("reseller"),
    )
    # Null until the API has answered once.
    credit = models.DecimalField(_("credit"), max_digits=14, decimal_places=2, null=True)
    fetched_at = models.DateTimeField(
        _("fetched at"), null=True, help_text=_("When the API gave the credit.")
    )
    checked_at = models.DateTimeField(_("checked at"), help_text=_("The last refresh, successful or not."))
    # The reason of the last failure ("HTTP 503", "timeout"): never the CPF.
    error = models.CharField(_("last error"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("cashback credit")
        verbose_name_plural = _("cashback credits")

    def __str__(self) -> str:
        return f"{self.credit} ({self.fetched_at})"
