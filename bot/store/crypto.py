"""Encryption of personal data at rest (Fernet, rotatable) and keyed lookup hashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import threading
import time
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEYS_SETTING = "HELPLINE_DATA_KEYS"
SECRET_KEY_SETTING = "HELPLINE_SECRET_KEY"  # noqa: S105 (a setting's name)
LOOKUP_INFO = b"helpline contact lookup v1"


class DecryptionError(ValueError):
    """Stored data could not be decrypted with any configured key."""


class _FernetKey:
    """One Fernet key, encrypting and decrypting Fernet tokens exactly as cryptography's Fernet
    does (spec: github.com/fernet/spec; tests/store/test_crypto.py checks token for token).

    Why: Fernet built a Cipher and an HMAC object for every token, 6-10 µs each, and a message
    encrypts or decrypts about ten. Here the HMAC's padded keys are hashed once (copied per
    token) and AES runs on an ECB context kept per thread, CBC chained in Python: 2.3-5 µs a
    token. Encrypt-then-MAC as Fernet: the signature is checked before anything is decrypted.
    """

    __slots__ = ("_aes", "_inner", "_local", "_outer")

    # Longer texts are encrypted by a CBC context of their own: chaining block by block in
    # Python costs more than building one past about 4 blocks (measured).
    _CHAINED_MAX = 64

    def __init__(self, key: str | bytes) -> None:
        raw = base64.urlsafe_b64decode(key)
        signing = raw[:16].ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in signing))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in signing))
        self._aes = algorithms.AES(raw[16:])
        self._local = threading.local()

    def _mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of data under the signing key."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _ecb(self) -> tuple[Any, Any]:
        """This thread's AES-ECB encryptor and decryptor (contexts are not thread-safe)."""
        pair: tuple[Any, Any] | None = getattr(self._local, "pair", None)
        if pair is None:
            cipher = Cipher(self._aes, modes.ECB())  # noqa: S305 (CBC is chained by hand)
            pair = self._local.pair = (cipher.encryptor(), cipher.decryptor())
        return pair

    def encrypt(self, data: bytes, at: int | None = None, iv: bytes | None = None) -> bytes:
        """A Fernet token of data (`at` and `iv` given only by tests)."""
        iv = os.urandom(16) if iv is None else iv
        pad = 16 - len(data) % 16
        padded = data + bytes((pad,)) * pad
        if len(padded) <= self._CHAINED_MAX:
            encrypt = self._ecb()[0].update
            previous = iv
            blocks = []
            for start in range(0, len(padded), 16):
                chained = int.from_bytes(previous) ^ int.from_bytes(padded[start : start + 16])
                previous = encrypt(chained.to_bytes(16))
                blocks.append(previous)
            ciphertext = b"".join(blocks)
        else:
            encryptor = Cipher(self._aes, modes.CBC(iv)).encryptor()
            ciphertext = encryptor.update(padded) + encryptor.finalize()
        stamp = struct.pack(">Q", int(time.time()) if at is None else at)
        basic = b"\x80" + stamp + iv + ciphertext
        return base64.urlsafe_b64encode(basic + self._mac(basic))

    def decrypt(self, token: bytes) -> bytes:
        """The data of a Fernet token made under this key; InvalidToken otherwise."""
        try:
            data = base64.urlsafe_b64decode(token)
        except (TypeError, binascii.Error):
            raise InvalidToken from None
        # Version, time, IV, at least one block, signature.
        if len(data) < 73 or data[0] != 0x80 or (len(data) - 57) % 16:
            raise InvalidToken
        if not hmac.compare_digest(self._mac(data[:-32]), data[-32:]):
            raise InvalidToken
        ciphertext = data[25:-32]
        size = len(ciphertext)
        decrypted = self._ecb()[1].update(ciphertext)
        # CBC: each block decrypted, XORed with the block before it (the IV for the first).
        chained = int.from_bytes(decrypted) ^ int.from_bytes(data[9 : 9 + size])
        padded = chained.to_bytes(size)
        pad = padded[-1]
        if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
            raise InvalidToken
        return padded[:-pad]


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
        # The hot path (every message): the same tokens, faster (see _FernetKey).
        self._keys = [_FernetKey(key) for key in data_keys]
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
        return self._keys[0].encrypt(text.encode())

    def decrypt(self, token: bytes) -> str:
        """Decrypt a token made under any configured key."""
        raw = bytes(token)
        for key in self._keys:  # newest first, as MultiFernet tries them
            try:
                return key.decrypt(raw).decode()
            except InvalidToken:
                continue
        raise DecryptionError(
            f"stored data cannot be decrypted with {DATA_KEYS_SETTING}; "
            "was the key that encrypted it removed?"
        )

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
