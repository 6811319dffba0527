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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import decoder as _stdlib_decoder
from json import encoder as _stdlib
from typing import Any


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
