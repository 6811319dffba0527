"""Encryption of personal data at rest (Fernet, rotatable) and keyed lookup hashes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEYS_SETTING = "HELPLINE_DATA_KEYS"
SECRET_KEY_SETTING = "HELPLINE_SECRET_KEY"  # noqa: S105 (a setting's name)
LOOKUP_INFO = b"helpline contact lookup v1"


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
        self._fernet = MultiFernet(fernets)
        self._newest = fernets[0]
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
        return self._fernet.encrypt(text.encode())

    def decrypt(self, token: bytes) -> str:
        """Decrypt a token made under any configured key."""
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise DecryptionError(
                f"stored data cannot be decrypted with {DATA_KEYS_SETTING}; "
                "was the key that encrypted it removed?"
            ) from None

    def encrypt_json(self, obj: Any) -> bytes:
        """Encrypt a JSON-serialisable value."""
        return self.encrypt(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def decrypt_json(self, token: bytes) -> Any:
        """Decrypt a value stored by encrypt_json."""
        return json.loads(self.decrypt(token))

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token under the newest key (for key rotation)."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise DecryptionError(
                f"stored data cannot be decrypted with {DATA_KEYS_SETTING}; cannot rotate it"
            ) from None

    def is_current(self, token: bytes) -> bool:
        """True when the newest key decrypts the token (key rotation can skip it)."""
        try:
            self._newest.decrypt(bytes(token))
        except InvalidToken:
            return False
        return True

    def lookup_hash(self, value: str) -> str:
        """Keyed HMAC-SHA256 of a value, hex: rows are found by this, never by the plain value."""
        keyed = self._lookup.copy()
        keyed.update(value.encode())
        return keyed.hexdigest()
