"""bot/store/jsontext.py writes exactly the stdlib's JSON text, and fails as it fails."""

from __future__ import annotations

import enum
import json
import math
import struct
import subprocess
import sys
import uuid
from collections import namedtuple
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.store import jsontext

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
    assert jsontext.compact(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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
    for got in (jsontext.loads(text), jsontext.decode(text)):
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


# ---- dump_bytes and load_bytes: orjson where it gives json's values, the stdlib elsewhere ----

COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
EXACT = settings(max_examples=400, deadline=None, derandomize=True)


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Kind(str, enum.Enum):  # noqa: UP042 - the mixin json and orjson both write as a str
    SELF = "self"


class Text(str):
    pass


class Number(int):
    pass


class Mapping(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


class Ratio(float):
    pass


class Half(float, enum.Enum):
    ONE = 0.5


Pair = namedtuple("Pair", "a b")  # json writes it as a list, orjson refuses it


@dataclass
class Point:
    x: float


class Bag:
    """Its instances' __dict__ is a split-table dict (values apart from the shared keys)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def general_keys(**values: Any) -> dict[str, Any]:
    """A dict with only str keys, in the general (not all-str) key table a non-str key left."""
    made: dict[Any, Any] = {0: None}
    made.update(values)
    del made[0]
    return made


def nested(depth: int, inner: Any) -> Any:
    """`inner` in `depth` lists and dicts, alternately."""
    for level in range(depth):
        inner = [inner] if level % 2 else {"k": inner}
    return inner


def outcome(make: Any, value: Any) -> tuple[str, Any]:
    """What a call gives: ("value", what it returned) or ("error", its type and message)."""
    try:
        return "value", make(value)
    except Exception as exc:  # the error is the outcome compared
        return "error", (type(exc), str(exc))


def old_dump(value: Any) -> bytes:
    """What encrypt_json encrypted before orjson."""
    return COMPACT(value).encode()


def old_load(data: bytes) -> Any:
    """What decrypt_json read before orjson."""
    return jsontext.decode(data.decode())


def same_data(a: Any, b: Any) -> bool:
    """Equal with types and order alike, NaN equal to NaN (repr tells all of that for data)."""
    return repr(a) == repr(b) and type(a) is type(b)


def assert_dumps_as_before(value: Any) -> None:
    kind, old = outcome(old_dump, value)
    new_kind, new = outcome(jsontext.dump_bytes, value)
    assert new_kind == kind, (value, old, new)
    if kind == "error":
        assert new[0] is old[0]
        return
    assert same_data(old_load(new), old_load(old))  # the same value whoever reads it
    assert same_data(jsontext.load_bytes(new), old_load(old))
    if b"e-" not in old and b"e+" not in old:  # a float's exponent is spelled 1e-7, not 1e-07
        assert new == old


def assert_loads_as_before(data: bytes) -> None:
    kind, old = outcome(old_load, data)
    new_kind, new = outcome(jsontext.load_bytes, data)
    assert new_kind == kind, (data, old, new)
    if kind == "error":
        assert new[0] is old[0]
    else:
        assert same_data(new, old), (data, old, new)


circular: list[Any] = []
circular.append(circular)
looped: dict[str, Any] = {}
looped["self"] = looped
deep: list[Any] = []
for _ in range(3000):
    deep = [deep]
wide_cycle: list[Any] = []
wide_cycle.extend([wide_cycle, wide_cycle])

ODD_VALUES: list[Any] = [
    *VALUES,
    math.nan,
    {"score": math.nan},
    [1.0, [math.inf]],
    {"x": (-math.inf,)},
    2**64,
    2**64 - 1,
    -(2**63),
    -(2**63) - 1,
    {"big": [10**30]},
    Colour.RED,
    {"c": Colour.RED},
    Level.HIGH,
    {"l": [Level.HIGH]},
    Kind.SELF,
    {Kind.SELF: Kind.SELF},
    Text("sub"),
    {Text("k"): Text("v")},
    Number(5),
    Mapping(a=1),
    [Items([1])],
    Ratio(1.5),
    uuid.UUID(int=7),
    {"id": uuid.UUID(int=7)},
    date(2026, 12, 4),
    {"at": datetime(2026, 1, 1, tzinfo=UTC)},
    {1, 2},
    b"bytes",
    {"story": "a\ud800 b"},
    "\udfff",
    ["\ud83d\ude00"],
    circular,
    looped,
    deep,
    {"": {"": [None, "", 0, False]}},
    # What the level-by-level walk (gc.get_referents) and orjson must agree on.
    wide_cycle,
    [True, 1, False, 0, 1.0, {"t": True, "one": 1}],
    {Level.HIGH: 1},
    {Kind.SELF: "k"},
    {Number(2): "n"},
    {"t": Level.HIGH, "s": Kind.SELF, "f": Half.ONE},
    Ratio(math.nan),
    [Ratio(2.0)],
    orjson.Fragment(b"[1]"),
    {"raw": orjson.Fragment(b'{"a":1}')},
    Pair(1, "x"),
    {"p": Pair(math.nan, 2)},
    Point(1.5),
    [time(9, 30)],
    general_keys(a=1, b="x"),
    general_keys(a=math.nan),
    general_keys(a=Colour.RED),
    Bag(1).__dict__,
    Bag(math.inf).__dict__,
    Bag(Colour.RED).__dict__,
    nested(200, math.nan),
    nested(200, -math.inf),
    nested(200, 1.5),
    nested(254, "deep"),
    nested(300, "deeper"),
    nested(300, math.nan),
    list(range(20_000)),
    [*range(20_000), math.nan],
    {"big": [2**64]},
]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_dump_bytes_gives_the_old_value_or_the_old_error(value: Any) -> None:
    assert_dumps_as_before(value)


def test_a_lone_surrogate_fails_as_before_with_unicode_encode_error() -> None:
    """A survivor's text with a lone surrogate (a Telegram update can carry "\\ud800"): the
    old path raised UnicodeEncodeError from str.encode, and so does the new one."""
    with pytest.raises(UnicodeEncodeError):
        jsontext.dump_bytes({"results": {"story": "help \ud800"}})


def old_plain(values: Any, *, keys: bool = True) -> bool:
    """The recursive walk dump_bytes used before (a call a container), checking dict keys as
    well with `keys` (the walk now does where a key is not an exact str; orjson refuses such a
    key, so the stdlib wrote that value before too)."""
    for value in values:
        kind = type(value)
        if kind in (str, int, bool, type(None)):
            continue
        if kind is float:
            if value - value:
                return False
        elif kind is dict:
            if not old_plain(value.values(), keys=keys):
                return False
            if keys and not old_plain(value.keys()):
                return False
        elif kind is list or kind is tuple:
            if not old_plain(value, keys=keys):
                return False
        else:
            return False
    return True


def test_gc_get_referents_lists_every_item_on_this_python() -> None:
    """The walk's premise: false on a Python whose traverse skips atoms (then the stdlib writes
    every value, slower but the same)."""
    assert jsontext._REFERENTS_COMPLETE


@pytest.mark.parametrize(
    "value", [v for v in ODD_VALUES if v is not circular and v is not looped and v is not deep]
)
def test_the_walk_lets_through_what_the_recursive_walk_did(value: Any) -> None:
    """Not cyclic and within its bound (_MOST values): the same verdict as before."""
    if value is wide_cycle or (type(value) is list and len(value) > jsontext._MOST):
        assert not jsontext._plain(value)
    else:
        assert jsontext._plain(value) == old_plain((value,))


def test_an_enum_whose_value_raises_is_refused_before_orjson_sees_it() -> None:
    """orjson 3.13 crashes the process on it (SIGSEGV): the walk must refuse it first."""
    script = (
        "import enum\n"
        "from bot.store import jsontext\n"
        "class Broken(enum.Enum):\n"
        "    A = 1\n"
        "    @property\n"
        "    def value(self):\n"
        "        raise ValueError('no value')\n"
        "try:\n"
        "    jsontext.dump_bytes({'k': [Broken.A]})\n"
        "except TypeError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Object of type Broken is not JSON serializable"


json_atoms = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.sampled_from([Colour.RED, Level.HIGH, Kind.SELF, Text("t"), Number(1), uuid.UUID(int=1)])
    | st.sampled_from([Half.ONE, Ratio(2.5), Ratio(math.nan), orjson.Fragment(b"0"), Pair(1, 2)])
)
odd_keys = st.sampled_from([Kind.SELF, Level.HIGH, Text("k"), Number(3), 1.5, math.nan])
json_values = st.recursive(
    json_atoms,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
        | st.dictionaries(st.integers() | st.booleans() | st.none() | odd_keys, inner, max_size=2)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3).map(lambda d: general_keys(**d))
        | inner.map(lambda v: Bag(v).__dict__)
    ),
    max_leaves=30,
)


@EXACT
@given(json_values)
def test_dump_bytes_gives_the_old_value_or_the_old_error_for_generated_values(value: Any) -> None:
    assert_dumps_as_before(value)


@EXACT
@given(json_values)
def test_the_walk_gives_the_recursive_walks_verdict_for_generated_values(value: Any) -> None:
    assert jsontext._plain(value) == old_plain((value,))


@EXACT
@given(json_values)
def test_load_bytes_reads_what_the_old_code_wrote_as_the_old_code_read_it(value: Any) -> None:
    for dump in (old_dump, lambda v: json.dumps(v).encode()):
        kind, data = outcome(dump, value)
        if kind == "value":
            assert_loads_as_before(data)


numbers = st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,3})?\Z")


@EXACT
@given(st.lists(numbers, min_size=1, max_size=4))
def test_numbers_are_read_as_the_stdlib_reads_them(texts: list[str]) -> None:
    """Floats rounded alike, ints beyond 64 bits stay ints, overflow to infinity as json."""
    assert_loads_as_before(("[" + ",".join(texts) + "]").encode())
    for text in texts:
        assert_loads_as_before(text.encode())


@EXACT
@given(st.floats())
def test_every_float_is_read_back_bit_for_bit(value: float) -> None:
    data = jsontext.dump_bytes([value])
    assert struct.pack("<d", jsontext.load_bytes(data)[0]) == struct.pack("<d", value) or (
        math.isnan(value) and math.isnan(jsontext.load_bytes(data)[0])
    )


@EXACT
@given(
    st.binary(max_size=40) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_any_bytes_give_the_old_value_or_the_old_error(data: bytes) -> None:
    assert_loads_as_before(data)


@EXACT
@given(json_values, st.integers(min_value=0, max_value=200), st.binary(min_size=1, max_size=3))
def test_a_corrupted_text_gives_the_old_value_or_the_old_error(
    value: Any, at: int, junk: bytes
) -> None:
    kind, data = outcome(old_dump, value)
    if kind == "value":
        at = at % (len(data) + 1)
        assert_loads_as_before(data[:at] + junk + data[at:])
        assert_loads_as_before(data[:at] + data[at + 1 :])


@pytest.mark.parametrize(
    "text",
    [
        *TEXTS,
        *BAD_TEXTS,
        '{"a":1,"b":2,"a":3}',
        '{"k":{"x":1},"k":[2]}',
        '"\\ud800"',
        '"\\udc00\\ud800"',
        "Infinity",
        "-Infinity",
        "[NaN,1]",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1234567890123456789012345678901234567890",
        '"1234567890123456789012345"',
        "0.1234567890123456789",
        "1e-400",
        "-1e400",
        "[" * 3000 + "]" * 3000,
        '{"a" : 1 , "b":[ ]}',
        "\t\n\r [] \t\n\r",
        "[1]\x0c",
        '"\x01"',
        '"\\u0000"',
        "tru",
        "[01]",
        "1.",
        ".5",
        "+1",
    ],
    ids=repr,
)
def test_texts_are_read_as_the_stdlib_reads_them(text: str) -> None:
    assert_loads_as_before(text.encode("utf-8", "surrogatepass"))
    assert_loads_as_before(b"\xff" + text.encode())  # not UTF-8: UnicodeDecodeError as before
