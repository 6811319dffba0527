"""Event.to_dict gives what dataclasses.asdict gave, for every event, without sharing."""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.engine import events as ev

Pair = namedtuple("Pair", "left right")
WHEN = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def _kinds(base: type[ev.Event]) -> list[type[ev.Event]]:
    """Every event class, however deep."""
    found: list[type[ev.Event]] = []
    for sub in base.__subclasses__():
        found += [sub, *_kinds(sub)]
    return found


EVENTS = sorted(set(_kinds(ev.Event)), key=lambda kind: kind.__name__)


def _nested() -> dict[str, Any]:
    """A value of every shape an event's free-form field may hold."""
    return {
        "text": "ç ë",
        "n": 3,
        "x": 1.5,
        "none": None,
        "yes": True,
        "when": WHEN,
        "list": [1, {"inner": ["a", ("b", 2)]}],
        "tuple": (ev.OptionOut(1, "l", "v"), Pair([1], {"k": "v"})),
        "set": {"a", "b"},
    }


SAMPLES: dict[str, Any] = {
    "str": "fjalë",
    "str | None": None,
    "int": 7,
    "bool": True,
    "Any": _nested,
    "dict[str, Any]": _nested,
    "tuple[str, ...]": ("a", "b"),
    "tuple[OptionOut, ...]": (ev.OptionOut(1, "msg.yes", "yes"), ev.OptionOut(2, "msg.no", "no")),
}


def _event(kind: type[ev.Event]) -> ev.Event:
    """An instance of `kind` with a sample for each of its fields."""
    values = {}
    for f in dataclasses.fields(kind):
        sample = SAMPLES[str(f.type)]
        values[f.name] = sample() if callable(sample) else sample
    return kind(**values)


def test_every_kind_of_field_has_a_sample() -> None:
    """A new field type must get a sample here, or the comparison below would not cover it."""
    assert len(EVENTS) >= 30
    for kind in EVENTS:
        _event(kind)


@pytest.mark.parametrize("kind", EVENTS, ids=lambda kind: kind.__name__)
def test_to_dict_is_asdict_with_the_type(kind: type[ev.Event]) -> None:
    """The same keys in the same order, equal values of the same types, at every depth."""
    event = _event(kind)
    got = event.to_dict()
    want = {"type": kind.type, **dataclasses.asdict(event)}
    assert got == want
    assert list(got) == list(want)
    assert repr(got) == repr(want)  # types too: tuples stay tuples, named tuples named


@pytest.mark.parametrize("kind", [ev.CaseUpdated, ev.MsgCreated], ids=lambda k: k.__name__)
def test_to_dict_shares_no_container_with_the_event(kind: type[ev.Event]) -> None:
    """Changing the plain data at any depth leaves the event as it was."""
    event = _event(kind)
    before = repr(event)
    data = event.to_dict()
    for value in data.values():
        if isinstance(value, dict):
            value["list"][1]["inner"].append("changed")
            value["list"].append("changed")
            value["tuple"][1].left.append("changed")
            value["tuple"][1].right["k"] = "changed"
            value["set"].add("changed")
            value["new"] = 1
        if isinstance(value, tuple) and value and isinstance(value[0], dict):
            value[0]["label"] = "changed"
    assert repr(event) == before
