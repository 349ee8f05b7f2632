import factory

from accounts.tests.factories import UserFactory
from resellers import cpf as cpf_codec
from resellers.models import Reseller


def make_cpf(n: int) -> str:
    """A valid CPF (11 digits); distinct n (below 22,222,222) give distinct CPFs."""
    return cpf_codec.with_check_digits(f"{200_000_000 + n:09d}")


class ResellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reseller

    user = factory.SubFactory(UserFactory)
    cpf = factory.Sequence(lambda n: make_cpf(n))
