"""The event store's cipher keeps one AES-GCM key schedule, yet writes and reads exactly the bytes
of the eventsourcing library's AESCipher, so stores written before and after it read either way."""

from __future__ import annotations

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment, resolve_topic

from service.cipher import CIPHER_TOPIC, KeyedAESCipher, SecretBox, cipher_env
from service.settings import new_cipher_key
from tests.conftest import TEST_CIPHER_KEY

PLAIN = b'{"name": "Zebulon Quartzwhistle", "comments": "\xc3\xa9l\xc3\xa9gant"}'


def environment(key: str = TEST_CIPHER_KEY) -> Environment:
    return Environment(env={AESCipher.CIPHER_KEY: key})


def test_what_the_library_encrypted_decrypts_with_the_keyed_cipher() -> None:
    written = AESCipher(environment()).encrypt(PLAIN)
    assert KeyedAESCipher(environment()).decrypt(written) == PLAIN


def test_what_the_keyed_cipher_encrypted_decrypts_with_the_library() -> None:
    written = KeyedAESCipher(environment()).encrypt(PLAIN)
    assert AESCipher(environment()).decrypt(written) == PLAIN


def test_each_encryption_draws_a_fresh_nonce() -> None:
    cipher = KeyedAESCipher(environment())
    first, second = cipher.encrypt(PLAIN), cipher.encrypt(PLAIN)
    assert first[:12] != second[:12]
    assert len(first) == len(PLAIN) + 12 + 16  # nonce, tag, ciphertext: nothing else


def test_a_tampered_value_fails_to_decrypt_as_with_the_library() -> None:
    written = bytearray(KeyedAESCipher(environment()).encrypt(PLAIN))
    written[-1] ^= 1
    for cipher in (KeyedAESCipher(environment()), AESCipher(environment())):
        with pytest.raises(ValueError, match="Invalid cipher tag"):
            cipher.decrypt(bytes(written))


def test_a_value_under_another_key_fails_to_decrypt() -> None:
    written = KeyedAESCipher(environment(new_cipher_key())).encrypt(PLAIN)
    with pytest.raises(ValueError, match="Invalid cipher tag"):
        KeyedAESCipher(environment()).decrypt(written)


@pytest.mark.parametrize(
    ("damaged", "message"),
    [(b"short", "invalid nonce length"), (b"n" * 12 + b"tag", "invalid tag length")],
)
def test_a_truncated_value_is_reported_as_damaged(damaged: bytes, message: str) -> None:
    for cipher in (KeyedAESCipher(environment()), AESCipher(environment())):
        with pytest.raises(ValueError, match=message):
            cipher.decrypt(damaged)


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="Invalid key size"):
        KeyedAESCipher(environment("c2hvcnQ="))


def test_the_application_environment_names_the_keyed_cipher() -> None:
    env = cipher_env(TEST_CIPHER_KEY, "Perfledger")
    assert resolve_topic(env["CIPHER_TOPIC"]) is KeyedAESCipher
    assert resolve_topic(CIPHER_TOPIC) is KeyedAESCipher


def test_sealed_text_opens_with_the_library_cipher() -> None:
    sealed = SecretBox(TEST_CIPHER_KEY).seal("a review comment")
    assert AESCipher(environment()).decrypt(sealed) == b"a review comment"
