from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _forget_user(sender, instance, **kwargs):
    from accounts.authentication import forget_user

    forget_user(instance.pk)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        # The API's authentication caches each user (accounts.authentication):
        # any save or delete, from a service, the admin or a command, drops it.
        user_model = self.get_model("User")
        post_save.connect(_forget_user, sender=user_model, dispatch_uid="accounts-forget-user-saved")
        post_delete.connect(_forget_user, sender=user_model, dispatch_uid="accounts-forget-user-deleted")
