"""JSON text exactly as the stdlib's `json` writes and reads it, its C parts called directly.

Why: `JSONEncoder.encode` reaches the C encoder (`_json.make_encoder`) through `iterencode`,
which builds the encoder's options and a float formatter in Python at every call: ~95 of the
~120 bytecodes a value cost, ~3.8 values a message (a conversation's state and an outbox
payload encrypted, the outbox row's `meta` through SQLAlchemy's JSON type), ~370 of a
message's ~18,000 (bench/bytecodes.py). `encoder()` makes the same C call `iterencode` makes
for a one-shot encoding (no indent), with the same arguments, so the text, the errors
(TypeError for what JSON cannot hold, ValueError for a circular reference, a float's repr) are
the stdlib's own; tests/store/test_jsontext.py compares them. Without the C accelerator (a
pure-Python build) it is the stdlib's `encode` itself.

Reading likewise: `decode` is `JSONDecoder().decode` and `loads` is `json.loads` for a str (a
bytes value goes to json.loads itself), each a call of the C scanner between the same
whitespace checks, with the same errors; ~65 bytecodes a value through the stdlib's three
Python functions, ~5 values a message (the stored state, payload and fields decrypted, the
outbox row's `meta`).

Encrypted values (a conversation's state, an outbox payload, her fields) are written and read
as bytes by orjson when it gives the same value as the stdlib, by the stdlib otherwise
(`dump_bytes`, `load_bytes`): see there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import decoder as _stdlib_decoder
from json import encoder as _stdlib
from typing import Any

import orjson


def encoder(
    *, ensure_ascii: bool = True, separators: tuple[str, str] = (", ", ": ")
) -> Callable[[Any], str]:
    """`JSONEncoder(ensure_ascii=..., separators=...).encode`, the same text, fewer steps.

    The defaults are json.dumps's: `encoder()(obj) == json.dumps(obj)`."""
    reference = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators)
    make = _stdlib.c_make_encoder  # type: ignore[attr-defined]
    if make is None:  # pragma: no cover - CPython always has the accelerator
        return reference.encode
    item_separator, key_separator = separators
    # The string quoting iterencode picks (the C one when available, as it does).
    quote = _stdlib.encode_basestring_ascii if ensure_ascii else _stdlib.encode_basestring
    default = reference.default  # TypeError: "Object of type X is not JSON serializable"
    join = "".join

    def encode(obj: Any) -> str:
        if isinstance(obj, str):
            return quote(obj)
        # As iterencode(obj, _one_shot=True): a fresh markers dict (circular references are
        # found per call), no indent, keys unsorted, no key skipped, NaN allowed.
        return join(
            make({}, default, quote, None, key_separator, item_separator, False, False, True)(
                obj, 0
            )
        )

    return encode


# json.dumps(obj) with no options: SQLAlchemy's JSON type's serializer (db.create_engine).
dumps = encoder()
# The text of encrypted values: json.dumps(obj, ensure_ascii=False, separators=(",", ":")).
compact = encoder(ensure_ascii=False, separators=(",", ":"))


# The C scanner (its memo is cleared after each call) and the whitespace decode() skips.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_space = _stdlib_decoder.WHITESPACE.match  # type: ignore[attr-defined]
_DecodeError = json.JSONDecodeError


def decode(s: str) -> Any:
    """`json.JSONDecoder().decode(s)`: its decode and raw_decode, in one function."""
    try:
        obj, end = _scan(s, _space(s, 0).end())
    except StopIteration as err:
        raise _DecodeError("Expecting value", s, err.value) from None
    end = _space(s, end).end()
    if end != len(s):
        raise _DecodeError("Extra data", s, end)
    return obj


def loads(s: str | bytes | bytearray) -> Any:
    """`json.loads(s)`: SQLAlchemy's JSON type's deserializer (db.create_engine)."""
    if not isinstance(s, str):
        return json.loads(s)
    if s.startswith("\ufeff"):
        raise _DecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
    return decode(s)


# Why orjson for encrypted values: a conversation's state (~830 characters, both ways every
# message) cost ~122,000 instructions to write by the C encoder above and its str.encode, ~96,000
# to read by bytes.decode and the C scanner; orjson writes it in ~14,000 and reads it in ~39,000,
# from and to the bytes AES-GCM-SIV takes and gives. Where orjson differs from json, the stdlib
# does the work, so values and errors stay json's (tests/store/test_jsontext.py):
# - writing: NaN and infinities (orjson writes null), an Enum or a UUID (orjson writes its value
#   where json raises TypeError), subclasses of str, int, dict, list (json writes what they hold,
#   orjson refuses them or writes an Enum's value): `_plain` lets through only the exact types
#   below; non-str keys, ints beyond 64 bits, lone surrogates, nesting too deep: orjson raises
#   TypeError (and json writes the text, or raises what it raised before).
# - reading: ints beyond 64 bits (orjson reads a float): a text with 19 digits in a row goes to
#   json; NaN, Infinity, 1e400, escaped lone surrogates, a BOM: orjson raises, json reads them.
# The text written differs only in a float's spelling (1e-07 from json, 1e-7 from orjson), which
# both read as the same float.
_ATOMS = frozenset({str, int, bool, type(None)})
# Digits kept as "0", every other byte a space: a run of 19 digits is then found by one search
# (re's search for [0-9]{19} cost ten times as much).
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19


def _plain(values: Any) -> bool:
    """True when the values hold only dicts, lists, tuples, str, int, bool, None and finite
    floats, of exactly these types (what orjson writes as json does)."""
    if _ATOMS.issuperset(map(type, values)):  # the common case, checked in C
        return True
    for value in values:
        kind = type(value)
        if kind in _ATOMS:
            continue
        if kind is float:
            if value - value:  # NaN for NaN and the infinities, 0.0 for a finite float
                return False
        elif kind is dict:
            if not _plain(value.values()):
                return False
        elif kind is list or kind is tuple:
            if not _plain(value):
                return False
        else:
            return False
    return True


def dump_bytes(obj: Any) -> bytes:
    """`compact(obj).encode()`: the same value in JSON (its float spelling may differ), or the
    same error (TypeError, ValueError for a circular reference, UnicodeEncodeError)."""
    try:
        if _plain((obj,)):
            return orjson.dumps(obj)
    except (TypeError, RecursionError):  # see above; RecursionError: a circular reference
        pass
    return compact(obj).encode()


def load_bytes(data: bytes) -> Any:
    """`decode(data.decode())`: the same value, or the same error."""
    if _LONG_RUN not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return decode(data.decode())
