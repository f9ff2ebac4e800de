"""Encryption at rest: the event store's cipher, and the same cipher for read models' secrets.

The event store encrypts every stored event's state with AES-GCM in the eventsourcing library's
format (``CIPHER_TOPIC``/``CIPHER_KEY`` in the application's environment). Read models that keep
sensitive text (review comments, feedback bodies) seal it with a ``SecretBox`` built from the same
key and class, so one key protects a database dump, and the API opens it on the way out.
"""

from __future__ import annotations

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import ApplicationRecorder, Cipher
from eventsourcing.utils import Environment, get_topic

from service.settings import SettingsError


class KeyedAESCipher(AESCipher):
    """The library's AES-GCM cipher (the `cryptography` package's, OpenSSL), keyed once.

    ``AESCipher`` builds a new ``AESGCM`` object (a key schedule) for every event it encrypts
    or decrypts, which is about half of what decrypting a small event costs; this keeps one.
    The bytes are exactly the library's (nonce, tag, ciphertext), so a store written by either
    class reads with the other.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._aesgcm = AESGCM(self.key)

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = self._aesgcm.encrypt(nonce, plaintext, None)
        # The library puts the tag (AESGCM's last 16 bytes) in front of the ciphertext.
        return nonce + sealed[-16:] + sealed[:-16]

    def decrypt(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) < 28:
            # The library's messages: a value shorter than nonce and tag is damaged.
            if len(ciphertext) < 12:
                raise ValueError("Damaged cipher text: invalid nonce length")
            raise ValueError("Damaged cipher text: invalid tag length")
        try:
            return self._aesgcm.decrypt(ciphertext[:12], ciphertext[28:] + ciphertext[12:28], None)
        except InvalidTag as error:
            raise ValueError("Invalid cipher tag") from error


CIPHER_TOPIC = get_topic(KeyedAESCipher)


def cipher_env(cipher_key: str, application_name: str) -> dict[str, str]:
    """What an eventsourcing application's environment needs to encrypt its stored events.

    The library looks up ``<APPLICATION NAME>_CIPHER_KEY`` before ``CIPHER_KEY`` and lays the
    explicit env over ``os.environ``; naming both here means a stray variable in the shell can
    never put a different key under the application than the settings' one.
    """
    prefix = application_name.upper() + "_"
    env = {"CIPHER_TOPIC": CIPHER_TOPIC, AESCipher.CIPHER_KEY: cipher_key}
    return {**env, **{prefix + name: value for name, value in env.items()}}


class SecretBox:
    """Seals text into bytes for a read model's ``bytea`` column and opens it again.

    Each seal draws a fresh 96-bit nonce, so equal texts give different bytes (a dump does not
    show which comments are the same), and a tampered or foreign value fails to open.
    """

    def __init__(self, cipher_key: str) -> None:
        self._cipher = KeyedAESCipher(Environment(env={AESCipher.CIPHER_KEY: cipher_key}))

    def seal(self, text: str) -> bytes:
        return self._cipher.encrypt(text.encode("utf-8"))

    def open(self, data: bytes) -> str:
        """The sealed text; ``ValueError`` if ``data`` was not sealed with this key."""
        return self._cipher.decrypt(data).decode("utf-8")


class StoreKeyMismatch(SettingsError):
    """The event store holds events this key cannot decrypt; starting would serve garbage."""


def check_store_key(recorder: ApplicationRecorder, cipher: Cipher | None) -> None:
    """Fail unless the store's first and last events decrypt with ``cipher``.

    An empty store passes. Two reads at start-up are cheap, and a key the store was not written
    with is otherwise only noticed by whatever reads an event first (usually the projection
    runner, in the background), long after the service reported itself healthy.
    """
    if cipher is None:
        return
    last = recorder.max_notification_id()
    if not last:
        return
    for position in (1, last):
        for notification in recorder.select_notifications(position, 1):
            try:
                cipher.decrypt(notification.state)
            except ValueError as error:
                raise _mismatch(notification.state, notification.id, error) from None


def _mismatch(state: bytes, position: int, error: ValueError) -> StoreKeyMismatch:
    """Say why a stored event does not decrypt: stored as plain JSON, or under another key."""
    try:
        json.loads(state)
    except ValueError:
        cause = "it was encrypted with a different key"
    else:
        cause = "it was written without encryption"
    return StoreKeyMismatch(
        "the cipher key (PERFLEDGER_CIPHER_KEY; on the embedded database, the .cipher-key file "
        f"beside the data directory) cannot decrypt the event store's event at position "
        f"{position}: {cause} ({error}). Start with the key the store was written with, or on "
        "an empty store; do not write to this store with another key."
    )
