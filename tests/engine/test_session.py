"""The session as plain data: to_dict is what dataclasses.asdict gives, copy is a deep copy.

tests/engine/session_stored.json is what the code before issue 19's C-level copies (d09ad9b)
wrote for each shape below, as the store encodes it: the stored text must not change."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.engine.session import Frame, Session

STORED = json.loads((Path(__file__).parent / "session_stored.json").read_text(encoding="utf-8"))
# The store's encoding (bot/store/crypto.py), spelled out: the engine's tests import no store.
ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def rich() -> Session:
    """A session using every kind of value a flow may leave in it."""
    return Session(
        frames=[Frame("first_contact", "3", "role"), Frame("danger", "1", "ask", "route", "yes")],
        language="sq",
        status="waiting",
        results={
            "role": "self",
            "n": 2,
            "ratio": 1.5,
            "none": None,
            "ok": True,
            "nested": [1, {"pair": (1, 2), "day": date(2026, 12, 3)}],
        },
        fields={"municipality": "tirane"},
        pins={"first_contact": "3"},
        scores={"risk": 7},
        flags=["weapon"],
        risk={"level": "high", "score": 7},
        urgent=True,
        case_open=True,
        case_info={"urgency": "high"},
        consent={"shelter": True},
        misses=1,
        wait_seq=4,
        started_at="2026-12-03T07:00:00+00:00",
        updated_at="2026-12-03T07:05:00+00:00",
        expires_at="2026-12-04T07:05:00+00:00",
        timeout_at="2026-12-03T07:15:00+00:00",
        ended_reason="not yet",
    )


def test_the_rich_session_sets_every_field():
    """So that to_dict and copy, written field by field, are checked for every field."""
    blank = Session()
    session = rich()
    assert [
        f.name for f in fields(Session) if getattr(session, f.name) == getattr(blank, f.name)
    ] == []


def test_to_dict_is_asdict_key_for_key_and_in_order():
    session = rich()
    assert session.to_dict() == asdict(session)
    assert list(session.to_dict()) == list(asdict(session))
    assert list(session.to_dict()["frames"][1]) == [f.name for f in fields(Frame)]


def test_to_dict_shares_nothing_with_the_session():
    session = rich()
    data = session.to_dict()
    data["results"]["nested"][1]["pair"] = None
    data["frames"][0]["node"] = "elsewhere"
    data["flags"].append("more")
    assert session.results["nested"][1]["pair"] == (1, 2)
    assert session.frames[0].node == "role"
    assert session.flags == ["weapon"]


def test_copy_is_equal_and_independent():
    session = rich()
    twin = session.copy()
    assert twin == session
    twin.frames[0].node = "elsewhere"
    twin.results["nested"][1]["day"] = None
    assert session.frames[0].node == "role"
    assert session.results["nested"][1]["day"] == date(2026, 12, 3)


def test_a_stored_session_round_trips_through_json():
    session = rich()
    session.results["nested"] = [1, {"pair": [1, 2]}]  # what JSON keeps of it
    assert Session.from_dict(json.loads(json.dumps(session.to_dict()))) == session


def shapes() -> dict[str, Session]:
    """Sessions of every shape the store keeps, JSON-able (a tuple or a date is not)."""
    opening = Session(
        frames=[Frame("first_contact", "3", "start", "start")],
        language="sq",
        fields={"country": "AL", "municipality": None},
        started_at="2026-12-03T07:00:00+00:00",
        updated_at="2026-12-03T07:00:00+00:00",
        expires_at="2026-12-04T07:00:00+00:00",
    )
    waiting = Session(
        frames=[Frame("first_contact", "3", "danger", "enter"), Frame("danger", "1", "ask")],
        language="sq",
        status="waiting",
        results={"role": "self", "keyword_language": "sq", "said_help": "yes", "story": "Tiranë ç"},
        fields={"country": "AL", "municipality": "tirane", "name": "Ëlla"},
        pins={"first_contact": "3", "danger": "1"},
        scores={"risk": 7, "other": 0},
        flags=["weapon", "threats"],
        risk={"level": "high", "score": 7, "flags": ["weapon", "threats"]},
        urgent=True,
        case_open=True,
        case_info={"urgency": "high", "municipality": "tirane", "flags": ["weapon"], "n": 1.5},
        consent={"shelter": True, "police": False},
        misses=2,
        wait_seq=5,
        started_at="2026-12-03T07:00:00+00:00",
        updated_at="2026-12-03T07:05:00+00:00",
        expires_at="2026-12-04T07:05:00+00:00",
        timeout_at="2026-12-03T07:15:00+00:00",
    )
    nested = Session(
        frames=[
            Frame("a", "1", "x", "route", "danger"),
            Frame("b", "2", "y", "reask"),
            Frame("c", "3", "z"),
        ],
        results={
            "list": [1, [2, {"deep": ["x", None]}]],
            "map": {"k": {"kk": [True, 2.5]}},
            "": "",
        },
        fields={"nested": {"a": [1, 2]}},
        case_info={"consent": {"shelter": True}},
        risk={"level": "low", "score": 0, "flags": []},
    )
    ended = Session(
        frames=[],
        language="en",
        status="ended",
        ended_reason="completed",
        results={"role": "other"},
        wait_seq=3,
        started_at="2026-12-03T07:00:00+00:00",
        updated_at="2026-12-03T08:00:00+00:00",
        expires_at="",
    )
    return {
        "blank": Session(),
        "opening": opening,
        "waiting": waiting,
        "nested": nested,
        "ended": ended,
    }


# Stored by older code: keys missing (a frame without mode and route), in another order, and
# keys a newer version wrote.
OLD_MINIMAL = {
    "status": "waiting",
    "language": "sq",
    "frames": [{"flow": "first_contact", "version": "3", "node": "role"}],
    "results": {"role": "self"},
}


def old_reordered() -> dict[str, Any]:
    """The waiting shape as stored, its keys reversed and one key from a newer version first."""
    stored = json.loads(STORED["waiting"])
    return {"future": {"x": [1]}, **dict(reversed(list(stored.items())))}


@pytest.mark.parametrize("name", ["blank", "opening", "waiting", "nested", "ended"])
def test_to_dict_writes_the_same_text_as_before(name: str):
    """Byte for byte what the old code stored: keys, their order and values."""
    session = shapes()[name]
    assert ENCODE(session.to_dict()) == STORED[name]
    assert ENCODE(session.copy().to_dict()) == STORED[name]


@pytest.mark.parametrize("name", ["blank", "opening", "waiting", "nested", "ended"])
def test_a_stored_shape_loads_and_is_stored_again_unchanged(name: str):
    loaded = Session.from_dict(json.loads(STORED[name]))
    assert loaded == shapes()[name]
    assert ENCODE(loaded.to_dict()) == STORED[name]
    assert ENCODE(loaded.copy().to_dict()) == STORED[name]


def test_the_rich_session_is_written_as_before_types_and_all():
    """A tuple stays a tuple and a date a date, as asdict leaves them."""
    assert repr(rich().to_dict()) == STORED["rich_repr"]
    assert repr(rich().copy().to_dict()) == STORED["rich_repr"]


def test_an_old_session_with_keys_missing_loads_with_the_defaults():
    session = Session.from_dict(json.loads(json.dumps(OLD_MINIMAL)))
    assert session == Session(
        frames=[Frame("first_contact", "3", "role", "wait", None)],
        language="sq",
        status="waiting",
        results={"role": "self"},
    )
    assert ENCODE(session.to_dict()) == STORED["old_minimal"]
    # Defaults are the session's own, not shared with another session's.
    session.flags.append("x")
    session.pins["f"] = "1"
    assert Session.from_dict(dict(OLD_MINIMAL)).flags == []
    assert Session().pins == {}


def test_keys_in_another_order_or_unknown_are_stored_in_the_fields_order():
    session = Session.from_dict(old_reordered())
    assert session == shapes()["waiting"]
    assert ENCODE(session.to_dict()) == STORED["old_reordered_with_unknown_keys"]
    assert STORED["old_reordered_with_unknown_keys"] == STORED["waiting"]
    assert ENCODE(session.copy().to_dict()) == STORED["waiting"]
    assert not hasattr(session, "future")


def test_every_field_kind_round_trips():
    """Each shape through to_dict, the store's JSON and from_dict, and through copy."""
    for name, session in shapes().items():
        again = Session.from_dict(json.loads(ENCODE(session.to_dict())))
        assert again == session, name
        assert again.copy() == session, name
        assert [type(f) for f in again.frames] == [Frame] * len(session.frames)


def mutate(session: Session) -> None:
    """Change everything a session holds, at every depth, as the engine and more."""
    session.frames[0].node = "elsewhere"
    session.frames[0].route = "moved"
    session.frames.append(Frame("z", "9", "zz"))
    session.language = "en"
    session.results["role"] = "changed"
    session.results["list"][1][1]["deep"].append("more")
    session.results["map"]["k"]["kk"][0] = False
    session.results["map"]["k"]["new"] = 1
    session.fields["nested"]["a"].append(3)
    session.fields["country"] = "XK"
    session.pins["danger"] = "2"
    session.scores["risk"] = 99
    session.flags.append("new")
    assert session.risk is not None
    session.risk["flags"].append("new")
    session.risk["score"] = 99
    session.case_info["consent"]["shelter"] = False
    session.case_info["flags"] = ["x"]
    session.consent["shelter"] = False
    session.misses += 1


def deep_shape() -> Session:
    """One session with a container at every depth a session can hold one."""
    session = shapes()["nested"]
    session.fields["country"] = "AL"
    session.pins = {"danger": "1"}
    session.scores = {"risk": 1}
    session.flags = ["weapon"]
    session.risk = {"level": "high", "score": 7, "flags": ["weapon"]}
    session.consent = {"shelter": True}
    return session


def test_a_copy_changed_at_every_depth_leaves_the_original_alone():
    session = deep_shape()
    before = ENCODE(session.to_dict())
    twin = session.copy()
    mutate(twin)
    assert ENCODE(session.to_dict()) == before
    assert session == deep_shape()
    assert twin != session


def test_the_original_changed_at_every_depth_leaves_the_copy_alone():
    session = deep_shape()
    twin = session.copy()
    mutate(session)
    assert twin == deep_shape()


def test_to_dict_changed_at_every_depth_leaves_the_session_alone():
    session = deep_shape()
    data = session.to_dict()
    data["frames"][0]["node"] = "elsewhere"
    data["results"]["list"][1][1]["deep"].append("more")
    data["results"]["map"]["k"]["kk"][0] = False
    data["fields"]["nested"]["a"].append(3)
    data["pins"]["danger"] = "2"
    data["scores"]["risk"] = 99
    data["flags"].append("new")
    data["risk"]["flags"].append("new")
    data["case_info"]["consent"]["shelter"] = False
    data["consent"]["shelter"] = False
    assert session == deep_shape()


def test_a_copy_of_a_loaded_session_leaves_what_was_loaded_alone():
    """The pipeline loads her session from the stored dict and the engine runs on a copy."""
    stored = json.loads(ENCODE(deep_shape().to_dict()))
    kept = json.loads(ENCODE(deep_shape().to_dict()))
    loaded = Session.from_dict(stored)
    mutate(loaded.copy())
    assert stored == kept
    assert loaded == deep_shape()


def test_a_copy_has_every_field_and_nothing_more():
    twin = rich().copy()
    assert [f.name for f in fields(Session)] == [f.name for f in fields(twin)]
    assert twin == rich()
    assert type(twin) is Session
    assert type(twin.frames[0]) is Frame


ALONE: dict[str, Any] = {
    "frames": [Frame("f", "1", "n", "enter", "r")],
    "language": "sq",
    "status": "waiting",
    "ended_reason": "why",
    "results": {"a": 1},
    "fields": {"b": 2},
    "pins": {"c": "3"},
    "scores": {"d": 4},
    "flags": ["e"],
    "risk": {"level": "high"},
    "urgent": True,
    "case_open": True,
    "case_info": {"f": 5},
    "consent": {"g": True},
    "misses": 6,
    "wait_seq": 7,
    "started_at": "s",
    "updated_at": "u",
    "expires_at": "x",
    "timeout_at": "t",
}


@pytest.mark.parametrize("name", [f.name for f in fields(Session)])
def test_each_field_alone_keeps_its_place(name: str):
    """copy and from_dict pass the fields by position: one set alone must stay where it is."""
    session = Session(**{name: ALONE[name]})
    assert session != Session()
    assert session.copy() == session
    data = session.to_dict()
    assert data == {**Session().to_dict(), name: asdict(session)[name]}
    assert Session.from_dict(json.loads(ENCODE(data))) == session


def test_alone_covers_every_field():
    assert list(ALONE) == [f.name for f in fields(Session)]


def test_what_is_not_json_is_still_copied_deep():
    """A tuple holding a list (not JSON, but a flow's action might leave one): its list too."""
    session = rich()
    session.results["held"] = (1, [2])
    twin = session.copy()
    twin.results["held"][1].append(3)
    data = session.to_dict()
    data["results"]["held"][1].append(4)
    assert session.results["held"] == (1, [2])
    assert twin.results["held"] == (1, [2, 3])
