import pytest

from resellers import cpf as cpf_codec


@pytest.mark.parametrize("value", ["153.509.460-56", "15350946056", " 15350946056 "])
def test_normalize_accepts_both_formats(value):
    assert cpf_codec.normalize(value) == "15350946056"


@pytest.mark.parametrize(
    "value",
    [
        "15350946057",  # second check digit wrong
        "15350946066",  # first check digit wrong
        "11111111111",  # all the same digit (passes the arithmetic)
        "00000000000",
        "1535094605",  # too short
        "153509460560",  # too long
        "153.509.46056",  # half formatted
        "153-509-460.56",
        "1535094605a",
        "",
        None,
        15350946056,
    ],
)
def test_normalize_rejects_invalid(value):
    with pytest.raises(cpf_codec.InvalidCPF) as excinfo:
        cpf_codec.normalize(value)
    assert "15350946" not in str(excinfo.value)


def test_with_check_digits_builds_valid_cpfs():
    assert cpf_codec.with_check_digits("153509460") == "15350946056"
    assert cpf_codec.is_valid_digits(cpf_codec.with_check_digits("987654321"))


def test_format():
    assert cpf_codec.format_cpf("15350946056") == "153.509.460-56"


def test_encryption_round_trip_is_not_deterministic():
    first, second = cpf_codec.encrypt("15350946056"), cpf_codec.encrypt("15350946056")
    assert first != second
    assert "15350946056" not in first
    assert cpf_codec.decrypt(first) == cpf_codec.decrypt(second) == "15350946056"


def test_blind_index_is_keyed(settings):
    index = cpf_codec.blind_index("15350946056")
    assert len(index) == 64
    assert "15350946056" not in index
    settings.CPF_BLIND_INDEX_KEY = "another-key"
    assert cpf_codec.blind_index("15350946056") != index


def test_rotation_keeps_old_ciphertexts_readable(settings):
    from cryptography.fernet import Fernet

    old_token = cpf_codec.encrypt("15350946056")
    settings.CPF_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.CPF_ENCRYPTION_KEYS]
    assert cpf_codec.decrypt(old_token) == "15350946056"
    rotated = cpf_codec.rotate(old_token)
    settings.CPF_ENCRYPTION_KEYS = settings.CPF_ENCRYPTION_KEYS[:1]
    assert cpf_codec.decrypt(rotated) == "15350946056"
