from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _forget_owner(sender, instance, **kwargs):
    from accounts.authentication import forget_user

    forget_user(instance.user_id)


class ResellersConfig(AppConfig):
    name = "resellers"
    verbose_name = _("Resellers")

    def ready(self):
        # The API's authentication caches each user with their profile
        # (accounts.authentication): a change to the profile drops it too.
        reseller_model = self.get_model("Reseller")
        post_save.connect(_forget_owner, sender=reseller_model, dispatch_uid="resellers-forget-owner-saved")
        post_delete.connect(
            _forget_owner, sender=reseller_model, dispatch_uid="resellers-forget-owner-deleted"
        )
