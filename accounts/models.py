from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def normalize_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively, so they are stored
    lower-cased (and trimmed) once, here."""
    return (email or "").strip().lower()


class UserQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """``QuerySet.update()``, then, once the transaction commits, the
        authentication's cache of every user it changed is dropped: an update
        sends no signal, and a deactivation or demotion (an admin bulk action,
        ``bulk_update()``) must not wait for the cache to expire."""
        from accounts.authentication import forget_users  # it imports this module

        with transaction.atomic(using=self.db, savepoint=False):
            user_ids = list(self.values_list("pk", flat=True))
            changed = super().update(**kwargs)
            forget_users(user_ids)
        return changed

    update.alters_data = True


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("The e-mail address is required.")
        user = self.model(email=normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))


class User(AbstractBaseUser, PermissionsMixin):
    """A login. Resellers have a ``reseller`` profile; back-office staff have
    ``is_staff``."""

    email = models.EmailField(_("e-mail"), max_length=254, unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Back-office access: the admin and the staff API."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # E-mails are stored lower-cased (unique=True above is what Django's
            # auth checks require); this is the guard for writes that skip
            # normalisation.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        indexes = [
            # The staff by name (the purchases' reviewer filter lists them on
            # every purchase list): a few index entries, not a scan of every
            # reseller's login.
            models.Index(
                fields=["full_name", "id"], condition=models.Q(is_staff=True), name="accounts_user_staff_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email
