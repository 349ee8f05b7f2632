"""The API's JWT authentication: SimpleJWT's, reading the user together with
their reseller profile in one query (almost every reseller request needs the
profile, and a separate lazy read would cost a second query)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication

from accounts.models import User


class _UsersWithProfile:
    # What SimpleJWT's get_user uses of the user model: `objects` and
    # `DoesNotExist`. The profile is named by its relation only: accounts does
    # not import the reseller app.
    DoesNotExist = User.DoesNotExist

    @property
    def objects(self):
        return User.objects.select_related("reseller")


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithProfile()


class JWTScheme(SimpleJWTScheme):
    """Documents it in the schema as SimpleJWT's own (the same Bearer token)."""

    target_class = "accounts.authentication.JWTAuthentication"
