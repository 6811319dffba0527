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
from gc import get_referents
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
# - writing: NaN and the infinities (orjson writes null, json NaN/Infinity), an Enum (orjson
#   writes its value; json writes an IntEnum or a str Enum as the int or str it is, refuses the
#   rest), a UUID and an orjson.Fragment (json refuses both), subclasses of str, int, dict, list
#   (json writes what they hold, orjson may not), dataclasses and datetimes (json refuses them):
#   `_plain` lets through only the exact types below and finite floats. It walks every value:
#   orjson's OPT_PASSTHROUGH_* options would refuse subclasses, dataclasses and datetimes, but no
#   option refuses an Enum, a UUID, a Fragment or NaN. And it walks before orjson sees a value:
#   orjson 3.13 looks up an Enum's `value` and crashes the process (SIGSEGV) when that raises.
#   Then orjson raises TypeError (its JSONEncodeError) for the rest json writes otherwise:
#   non-str keys (json writes "1", "true"...), ints beyond 64 bits, lone surrogates (json's
#   str.encode raises UnicodeEncodeError), nesting beyond 254 levels.
# - reading: ints beyond 64 bits (orjson reads a float): a text with 19 digits in a row goes to
#   json; NaN, Infinity, 1e400, escaped lone surrogates, a BOM: orjson raises, json reads them.
# The text written differs only in a float's spelling (1e-07 from json, 1e-7 from orjson), which
# both read as the same float.
_SAME = frozenset({str, int, bool, type(None), dict, list, tuple})  # a tuple is a list to both
_SAME_OR_FLOAT = _SAME | {float}
# Values walked before the stdlib is left the work: a state holds ~40; a cycle (json raises
# ValueError) is walked round until then.
_MOST = 10_000
# Digits kept as "0", every other byte a space: a run of 19 digits is then found by one search
# (re's search for [0-9]{19} cost ten times as much).
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19


def _plain(obj: Any) -> bool:
    """True when `obj` holds only dicts, lists, tuples, str, int, bool, None and finite floats,
    of exactly these types (what orjson writes as json does), _MOST values at most.

    Level by level: each level's types checked in C, the next level gathered by
    gc.get_referents, as an exact dict's, list's or tuple's C traverse visits every value and
    item (a dict's keys too, unless all are exact str); str and numbers have no referents. The
    bound ends a cycle's walk. Callgrind, the state of bench/instructions.py (641 bytes): ~24,000
    instructions, where a recursive walk in Python (a call a container) cost ~38,000."""
    level = [obj]
    budget = _MOST
    while level:
        budget -= len(level)
        if budget < 0:
            return False
        if not _SAME.issuperset(map(type, level)):
            if not _SAME_OR_FLOAT.issuperset(map(type, level)):
                return False
            for value in level:
                if type(value) is float and value - value:  # NaN for NaN and the infinities
                    return False
        level = get_referents(*level)
    return True


def _referents_complete() -> bool:
    """True when gc.get_referents lists every item of an exact dict, list and tuple, atoms too
    (its documentation allows a traverse to skip what cannot be in a cycle; CPython 3.11's
    do not)."""
    atoms = ["a", 1, 2**70, 1.5, True, None]
    keyed = dict(zip("abcdef", atoms, strict=True))
    wanted = sorted(map(id, atoms))
    return all(sorted(map(id, get_referents(c))) == wanted for c in (atoms, tuple(atoms), keyed))


# Where a Python's traverse skips atoms, `_plain` could miss a NaN: the stdlib writes everything.
_REFERENTS_COMPLETE = _referents_complete()


def dump_bytes(obj: Any) -> bytes:
    """`compact(obj).encode()`: the same value in JSON (its float spelling may differ), or the
    same error (TypeError, ValueError for a circular reference, UnicodeEncodeError)."""
    if _REFERENTS_COMPLETE and _plain(obj):
        try:
            return orjson.dumps(obj)
        except TypeError:  # see above: the stdlib writes it, or raises its own error
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
