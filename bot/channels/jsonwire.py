"""JSON on the providers' wire, exactly as the stdlib's `json` writes and reads it, in fewer steps.

Why: a send writes one JSON body (Telegram) and reads one JSON answer (both providers).
`json.dumps` reaches the C encoder through `JSONEncoder.encode` and `iterencode`, which build
the encoder's options in Python at every call; `json.loads` of an answer decoded to text goes
through three Python functions around the C scanner (four for bytes, as a webhook's body is).
`dumps` makes the C call `iterencode` makes, with json.dumps's own arguments (the same text,
the same errors); `loads_answer` and `loads` read bytes with orjson where orjson gives json's
value, with json otherwise.
(bot/store/jsontext.py does the same for the store; channels may not import the store.)
"""

from __future__ import annotations

import json
from json import encoder as _stdlib
from typing import Any

import orjson

_REFERENCE = json.JSONEncoder()
_MAKE = _stdlib.c_make_encoder  # type: ignore[attr-defined]
_QUOTE = _stdlib.encode_basestring_ascii
_DEFAULT = _REFERENCE.default  # TypeError: "Object of type X is not JSON serializable"


def dumps(obj: Any) -> str:
    """`json.dumps(obj)`: the same text (ASCII, ", " and ": "), or the same error."""
    if _MAKE is None:  # pragma: no cover - CPython always has the accelerator
        return _REFERENCE.encode(obj)
    if isinstance(obj, str):
        return _QUOTE(obj)
    # As iterencode(obj, _one_shot=True): a fresh markers dict (a circular reference is found
    # per call, ValueError), no indent, keys unsorted, none skipped, NaN allowed.
    return "".join(_MAKE({}, _DEFAULT, _QUOTE, None, ": ", ", ", False, False, True)(obj, 0))


# Where orjson reads a value differently from json: an int beyond 64 bits (orjson reads a
# float), found as a run of 19 digits (digits kept as "0", every other byte a space, so one
# search finds it); NaN, Infinity, 1e400, an escaped lone surrogate, invalid UTF-8 and a BOM
# make orjson raise. Either way json reads it as before.
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19


def loads_answer(payload: bytes) -> Any:
    """`json.loads(payload.decode("utf-8", "replace"))`: the same value, or the same error
    (a ValueError)."""
    if _LONG_RUN not in payload.translate(_DIGITS):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass
    return json.loads(payload.decode("utf-8", "replace"))


def loads(payload: bytes) -> Any:
    """`json.loads(payload)` (a webhook's body: UTF-8, -16 or -32 as json detects it): the same
    value, or the same error. orjson reads UTF-8 only; anything else makes it raise."""
    if _LONG_RUN not in payload.translate(_DIGITS):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass
    return json.loads(payload)
