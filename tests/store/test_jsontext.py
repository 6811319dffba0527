"""bot/store/jsontext.py writes exactly the stdlib's JSON text, and fails as it fails."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.store import crypto, jsontext

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    2**70,
    1.5,
    0.1,
    1e-300,
    -0.0,
    math.inf,
    -math.inf,
    "",
    "plain",
    'quote " backslash \\ tab \t newline \n nul \x00 del \x7f',
    "Ëndërr çka ë — 😀 \u2028",
    [],
    {},
    [1, "a", None, [2, [3, {}]], {"k": []}],
    {"text": "Mirë se erdhe", "buttons": [{"label": "Po", "value": "yes"}], "urn": "tel:+355"},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    {"nested": {"deeper": {"deepest": [True, False, None, 1.25]}}},
    (1, 2, ("tuple", "as", "list")),
    {"frames": [{"flow": "first_contact", "node": "ask", "vars": {"n": 3}}], "pins": {}},
]
OPTIONS = [
    {},
    {"ensure_ascii": False, "separators": (",", ":")},
    {"ensure_ascii": True, "separators": (",", ":")},
    {"ensure_ascii": False, "separators": (", ", ": ")},
]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_same_text_as_the_stdlib(value: Any, options: dict[str, Any]) -> None:
    assert jsontext.encoder(**options)(value) == json.JSONEncoder(**options).encode(value)


@pytest.mark.parametrize("value", [*VALUES, math.nan], ids=repr)
def test_dumps_is_json_dumps_and_the_crypto_text_as_before(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value)
    assert crypto._to_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def failure(encode: Any, value: Any) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:
        encode(value)
    return caught.type, str(caught.value)


def test_what_json_cannot_hold_fails_as_with_the_stdlib() -> None:
    circular: list[Any] = []
    circular.append(circular)
    looped: dict[str, Any] = {}
    looped["self"] = looped
    for bad in (datetime(2026, 1, 1, tzinfo=UTC), {"at": object()}, [b"bytes"], {(1, 2): 3}):
        assert failure(jsontext.dumps, bad) == failure(json.dumps, bad)
    for bad in (circular, looped):
        assert failure(jsontext.dumps, bad) == failure(json.dumps, bad)
        assert failure(jsontext.dumps, bad)[0] is ValueError
    # A failure leaves nothing behind: the next value is written as usual.
    assert jsontext.dumps({"a": [1]}) == '{"a": [1]}'


TEXTS = [
    *(json.dumps(value) for value in VALUES),
    *(json.dumps(value, ensure_ascii=False, separators=(",", ":")) for value in VALUES),
    "NaN",
    '  \n\t{"padded": [1, 2]} \r\n ',
    '{"a": 1, "a": 2}',
    '"\\ud83d\\ude00 \\u00eb"',
    "1e400",
    "-0",
]
BAD_TEXTS = ["", "   ", "{", '{"a": 1} x', "[1,]", "\ufeff[]", "nul", '"unterminated', "[1] [2]"]


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_the_same_values_as_the_stdlib(text: str) -> None:
    expected = json.loads(text)
    for got in (jsontext.loads(text), jsontext.decode(text), crypto._from_json(text)):
        assert repr(got) == repr(expected)  # repr: NaN is not equal to itself
        assert type(got) is type(expected)
    assert jsontext.loads(text.encode()) == json.loads(text.encode()) or math.isnan(expected)


@pytest.mark.parametrize("text", BAD_TEXTS, ids=repr)
def test_text_that_is_not_json_fails_as_with_the_stdlib(text: str) -> None:
    assert failure(jsontext.loads, text) == failure(json.loads, text)
    assert failure(jsontext.decode, text) == failure(json.JSONDecoder().decode, text)
    theirs, ours = raised(json.loads, text), raised(jsontext.loads, text)
    assert (ours.msg, ours.doc, ours.pos) == (theirs.msg, theirs.doc, theirs.pos)


def raised(decode: Any, text: str) -> json.JSONDecodeError:
    with pytest.raises(json.JSONDecodeError) as caught:
        decode(text)
    return caught.value
