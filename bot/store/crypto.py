"""Encryption of personal data at rest (AES-256-GCM-SIV, rotatable) and keyed lookup hashes.

A token is VERSION, the key's id (4 bytes), a random nonce (12 bytes), then the ciphertext and
its tag; the version and key id are authenticated too. Each configured key (a Fernet key, as
`helpline keys generate` makes) gives its AES key and id by HKDF. Why not Fernet, which this
module used before: Fernet is AES-CBC, HMAC and base64 in Python around small C calls, ~19 µs
to encrypt or decrypt a short value here, and a message takes about eight (its text, her
reply, the conversation's state, the outbox's payload); AES-GCM-SIV is one C call, ~4 µs.
GCM-SIV rather than GCM: a repeated random nonce would reveal only that two values were
equal, not the key stream. Tokens Fernet made before are still read (they start with "g"),
and `helpline keys rotate` rewrites them in this format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.store import jsontext

DATA_KEYS_SETTING = "HELPLINE_DATA_KEYS"
SECRET_KEY_SETTING = "HELPLINE_SECRET_KEY"  # noqa: S105 (a setting's name)
LOOKUP_INFO = b"helpline contact lookup v1"
# The token format's first byte; a Fernet token's first byte is always b"g" (0x80, base64).
VERSION = b"\x02"
AEAD_INFO = b"helpline data aes-256-gcm-siv v1"
KEY_ID_INFO = b"helpline data key id v1"
_HEADER = 1 + 4
_NONCE = 12


def _derive(key: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 of a data key, for one purpose (`info`)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(key)


class DecryptionError(ValueError):
    """Stored data could not be decrypted with any configured key."""


class Crypto:
    """Encrypts with the newest data key, decrypts with any, and hashes values for lookups."""

    def __init__(self, data_keys: Sequence[str], secret_key: str) -> None:
        if isinstance(data_keys, str):
            # A bare string would be read as a sequence of one-letter keys.
            data_keys = [k.strip() for k in data_keys.split(",") if k.strip()]
        if not data_keys:
            raise ValueError(f"{DATA_KEYS_SETTING} is empty: set at least one Fernet key")
        fernets = []
        for position, key in enumerate(data_keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # Never echo the key itself: it may be a real key with a typo.
                raise ValueError(
                    f"{DATA_KEYS_SETTING}: key number {position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes); generate one with "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`"
                ) from None
        if not secret_key:
            raise ValueError(f"{SECRET_KEY_SETTING} is empty")
        # Tokens made before this format, still read (and rewritten by key rotation).
        self._fernet = MultiFernet(fernets)
        self._keys: dict[bytes, list[AESGCMSIV]] = {}
        newest: list[tuple[bytes, AESGCMSIV]] = []
        for key in data_keys:
            raw = base64.urlsafe_b64decode(key)
            try:
                aead = AESGCMSIV(_derive(raw, AEAD_INFO, 32))
            except UnsupportedAlgorithm:  # pragma: no cover - the pinned wheel's OpenSSL has it
                raise RuntimeError(
                    "this OpenSSL has no AES-GCM-SIV: install the pinned cryptography wheel"
                ) from None
            header = VERSION + _derive(raw, KEY_ID_INFO, 4)
            # Two keys with the same id (2^-32): both are tried.
            self._keys.setdefault(header, []).append(aead)
            newest.append((header, aead))
        self._header, self._aead = newest[0]
        self._lookup_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=LOOKUP_INFO
        ).derive(secret_key.encode())
        # Twice a message (her contact, a coordinator's): the HMAC's keyed state made once and
        # copied (hmac.new each time: 1.3 µs; a copy: ~0.6).
        self._lookup = hmac.new(self._lookup_key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Crypto(<keys hidden>)"

    def encrypt(self, text: str) -> bytes:
        """Encrypt a text under the newest key."""
        nonce = os.urandom(_NONCE)  # _seal's body, inlined: one call less for each text
        header = self._header
        return header + nonce + self._aead.encrypt(nonce, text.encode(), header)

    def decrypt(self, token: bytes) -> str:
        """Decrypt a token made under any configured key."""
        return self._open(token).decode()

    def _seal(self, data: bytes) -> bytes:
        """Encrypt bytes under the newest key."""
        nonce = os.urandom(_NONCE)
        header = self._header
        return header + nonce + self._aead.encrypt(nonce, data, header)

    def _open(self, token: bytes) -> bytes:
        """Decrypt a token made under any configured key, to its bytes."""
        token = bytes(token)
        if token[:1] == VERSION:
            header = token[:_HEADER]
            nonce = token[_HEADER : _HEADER + _NONCE]
            for aead in self._keys.get(header, ()):
                try:
                    return aead.decrypt(nonce, token[_HEADER + _NONCE :], header)
                except (InvalidTag, ValueError):  # ValueError: cut short, the nonce too
                    continue
        else:
            try:
                return self._fernet.decrypt(token)
            except InvalidToken:
                pass
        raise DecryptionError(
            f"stored data cannot be decrypted with {DATA_KEYS_SETTING}; "
            "was the key that encrypted it removed?"
        )

    def encrypt_json(self, obj: Any) -> bytes:
        """Encrypt a JSON-serialisable value (its compact JSON text, as json.dumps writes it)."""
        return self._seal(jsontext.dump_bytes(obj))

    def decrypt_json(self, token: bytes) -> Any:
        """Decrypt a value stored by encrypt_json."""
        return jsontext.load_bytes(self._open(token))

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token under the newest key, in this format (for key rotation)."""
        try:
            return self.encrypt(self.decrypt(token))
        except DecryptionError:
            raise DecryptionError(
                f"stored data cannot be decrypted with {DATA_KEYS_SETTING}; cannot rotate it"
            ) from None

    def is_current(self, token: bytes) -> bool:
        """True when the token is in this format and the newest key decrypts it."""
        token = bytes(token)
        if token[:_HEADER] != self._header:
            return False
        nonce = token[_HEADER : _HEADER + _NONCE]
        try:
            self._aead.decrypt(nonce, token[_HEADER + _NONCE :], self._header)
        except (InvalidTag, ValueError):
            return False
        return True

    def lookup_hash(self, value: str) -> str:
        """Keyed HMAC-SHA256 of a value, hex: rows are found by this, never by the plain value."""
        keyed = self._lookup.copy()
        keyed.update(value.encode())
        return keyed.hexdigest()
