"""Crypto: round trips, key rotation, wrong and bad keys, lookup hashes."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.store.crypto import LOOKUP_INFO, Crypto, DecryptionError
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

NEW, OLD = DATA_KEYS


def test_text_and_json_round_trip(crypto):
    token = crypto.encrypt("jam në rrezik")
    assert b"rrezik" not in token
    assert crypto.decrypt(token) == "jam në rrezik"
    value = {"municipality": "tirane", "children": 2, "ok": True, "name": "Ëlsa"}
    assert crypto.decrypt_json(crypto.encrypt_json(value)) == value


def test_encrypting_twice_gives_different_tokens(crypto):
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_rotation_keeps_old_data_readable_and_moves_it_to_the_newest_key():
    old_only = Crypto([OLD], SECRET_KEY)
    token = old_only.encrypt("before rotation")
    both = Crypto([NEW, OLD], SECRET_KEY)
    assert both.decrypt(token) == "before rotation"
    rotated = both.rotate(token)
    assert Crypto([NEW], SECRET_KEY).decrypt(rotated) == "before rotation"
    with pytest.raises(DecryptionError):
        Crypto([NEW], SECRET_KEY).decrypt(token)


def test_new_data_is_encrypted_with_the_first_key():
    token = Crypto([NEW, OLD], SECRET_KEY).encrypt("x")
    assert Crypto([NEW], SECRET_KEY).decrypt(token) == "x"
    with pytest.raises(DecryptionError):
        Crypto([OLD], SECRET_KEY).decrypt(token)


def test_a_wrong_key_is_a_value_error_naming_the_setting_not_the_key(crypto):
    other = Fernet.generate_key().decode()
    token = crypto.encrypt("secret text")
    with pytest.raises(ValueError, match="HELPLINE_DATA_KEYS") as raised:
        Crypto([other], SECRET_KEY).decrypt(token)
    assert other not in str(raised.value)
    assert "secret text" not in str(raised.value)


@pytest.mark.parametrize("bad", ["not-a-key", "", "A" * 44])
def test_a_malformed_key_is_refused_without_printing_it(bad):
    with pytest.raises(ValueError, match="HELPLINE_DATA_KEYS") as raised:
        Crypto([NEW, bad], SECRET_KEY)
    if bad:
        assert bad not in str(raised.value)
    assert "number 2" in str(raised.value)


def test_no_keys_and_no_secret_are_refused():
    with pytest.raises(ValueError, match="HELPLINE_DATA_KEYS"):
        Crypto([], SECRET_KEY)
    with pytest.raises(ValueError, match="HELPLINE_SECRET_KEY"):
        Crypto([NEW], "")


def test_a_comma_separated_string_of_keys_is_accepted():
    token = Crypto([OLD], SECRET_KEY).encrypt("x")
    assert Crypto(f"{NEW},{OLD}", SECRET_KEY).decrypt(token) == "x"


def test_lookup_hash_is_keyed_and_stable(crypto):
    urn = "tel:+355691234567"
    digest = crypto.lookup_hash(urn)
    assert digest == Crypto(DATA_KEYS, SECRET_KEY).lookup_hash(urn)
    assert len(digest) == 64 and "355691234567" not in digest
    assert digest != Crypto(DATA_KEYS, "another secret").lookup_hash(urn)
    assert digest != crypto.lookup_hash("tel:+355691234568")
    # The stored hashes must never change: HMAC-SHA256 under the key HKDF derives, as always.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LOOKUP_INFO).derive(
        SECRET_KEY.encode()
    )
    for value in (urn, "telegram:123", "ë", ""):
        expected = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
        assert crypto.lookup_hash(value) == expected


def test_repr_hides_keys(crypto):
    assert NEW not in repr(crypto) and SECRET_KEY not in repr(crypto)
