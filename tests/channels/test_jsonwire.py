"""bot/channels/jsonwire.py writes json.dumps's text and reads json.loads's values, and fails
as they fail."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels import jsonwire

VALUES: list[Any] = [
    None,
    True,
    0,
    2**70,
    -0.0,
    0.1,
    math.inf,
    math.nan,
    "plain",
    'quote " backslash \\ tab \t nul \x00 del \x7f',
    "Ëndërr çka ë — 😀 \u2028 \ud800",
    [1, "a", None, [2, [3, {}]], {"k": []}],
    (1, ("tuple", "as", "list")),
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    {
        "chat_id": 6_000_000_001,
        "text": "A jeni mirë?",
        "link_preview_options": {"is_disabled": True},
        "reply_markup": {"inline_keyboard": [[{"text": "Po", "callback_data": "yes"}]]},
    },
]


def outcome(call: Any, value: Any) -> tuple[str, Any]:
    """What a call gives: its value, or its error's type and message."""
    try:
        result = call(value)
    except Exception as exc:
        return ("error", (type(exc), str(exc)))
    return ("value", json.dumps(result) if not isinstance(result, str) else result)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_dumps_writes_json_dumps_text(value: Any) -> None:
    assert jsonwire.dumps(value) == json.dumps(value)


class Unserializable:
    """Neither json nor jsonwire writes it."""


def test_dumps_fails_as_json_dumps() -> None:
    for bad in (Unserializable(), {"a": {1, 2}}, {(1, 2): "tuple key"}):
        assert outcome(jsonwire.dumps, bad) == outcome(json.dumps, bad)
    circular: list[Any] = []
    circular.append(circular)
    assert outcome(jsonwire.dumps, circular) == outcome(json.dumps, circular)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True)
@given(JSONISH)
def test_dumps_random_values(value: Any) -> None:
    assert jsonwire.dumps(value) == json.dumps(value)


def read_before(payload: bytes) -> Any:
    """How the channels read an answer before: text with replacement, then json.loads."""
    return json.loads(payload.decode("utf-8", "replace"))


def same_reading(payload: bytes) -> None:
    """jsonwire reads `payload` as json did: equal values of equal types, or the same error."""
    kind, got = outcome(jsonwire.loads_answer, payload)
    assert (kind, got) == outcome(read_before, payload)
    if kind == "value":
        assert repr(jsonwire.loads_answer(payload)) == repr(read_before(payload))


ANSWERS = [
    b'{"sid": "SM' + b"a" * 32 + b'", "status": "queued", "price": null, "num_segments": "1"}',
    b'{"ok": true, "result": {"message_id": 7, "date": 0, "chat": {"id": 6000000001}}}',
    b'{"ok": false, "error_code": 429, "parameters": {"retry_after": 7}}',
    b'{"id": 12345678901234567890123}',  # beyond 64 bits: orjson would read a float
    b'{"id": 1234567890123456789}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400}',
    b'{"a": "\\ud800"}',  # an escaped lone surrogate
    b"\xef\xbb\xbf{}",  # a BOM
    b'{"text": "\xff\xfe not UTF-8"}',
    b'{"a": 1, "a": 2}',
    b" \t\r\n{}\n ",
    b"[]",
    b"null",
    b"",
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b'{"a": 1} trailing',
    b'{"control": "\x01"}',
    b"[" * 2000 + b"]" * 2000,
]


@pytest.mark.parametrize("payload", ANSWERS, ids=repr)
def test_loads_answer_reads_as_json_loads(payload: bytes) -> None:
    same_reading(payload)


@settings(max_examples=300, derandomize=True)
@given(JSONISH)
def test_loads_answer_random_json(value: Any) -> None:
    same_reading(json.dumps(value).encode())
    same_reading(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=40))
def test_loads_answer_random_bytes(payload: bytes) -> None:
    same_reading(payload)


def same_body_reading(payload: bytes) -> None:
    """jsonwire.loads reads a webhook body as json.loads(bytes) did, or fails as it failed."""
    kind, got = outcome(jsonwire.loads, payload)
    assert (kind, got) == outcome(json.loads, payload)
    if kind == "value":
        assert repr(jsonwire.loads(payload)) == repr(json.loads(payload))


BODIES = [
    *ANSWERS,
    '{"update_id": 1, "message": {"text": "Ëndërr 😀"}}'.encode("utf-16"),
    '{"update_id": 1}'.encode("utf-16-le"),
    '{"update_id": 1}'.encode("utf-32-be"),
    "[1]".encode("utf-16-be"),
    b'{"text": "\xed\xa0\x80"}',  # an encoded surrogate: json's surrogatepass reads it
]


@pytest.mark.parametrize("payload", BODIES, ids=repr)
def test_loads_reads_as_json_loads(payload: bytes) -> None:
    same_body_reading(payload)


@settings(max_examples=300, derandomize=True)
@given(JSONISH, st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-32-be"]))
def test_loads_random_json(value: Any, encoding: str) -> None:
    same_body_reading(json.dumps(value).encode())
    same_body_reading(json.dumps(value, ensure_ascii=False).encode(encoding, "surrogatepass"))


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=40))
def test_loads_random_bytes(payload: bytes) -> None:
    same_body_reading(payload)
