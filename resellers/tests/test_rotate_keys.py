import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from resellers import cpf as cpf_codec
from resellers.models import Reseller
from resellers.selectors import reseller_get_by_cpf
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db


def test_rotation_re_encrypts_with_the_new_key_so_the_old_can_go(settings):
    resellers = ResellerFactory.create_batch(3)
    expected = {reseller.pk: reseller.cpf for reseller in resellers}
    new_key = Fernet.generate_key().decode()
    settings.CPF_ENCRYPTION_KEYS = [new_key, *settings.CPF_ENCRYPTION_KEYS]

    call_command("rotate_cpf_keys", batch_size=2)

    settings.CPF_ENCRYPTION_KEYS = [new_key]
    for reseller in Reseller.objects.all():
        assert reseller.cpf == expected[reseller.pk]


def test_reindex_follows_a_new_blind_index_key(settings):
    reseller = ResellerFactory()
    settings.CPF_BLIND_INDEX_KEY = "a-brand-new-index-key"
    assert reseller_get_by_cpf(cpf=reseller.cpf) is None

    call_command("rotate_cpf_keys", reindex=True)

    assert reseller_get_by_cpf(cpf=reseller.cpf) == reseller
    assert Reseller.objects.get().cpf_index == cpf_codec.blind_index(reseller.cpf)
