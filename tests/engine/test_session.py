"""The session as plain data: to_dict is what dataclasses.asdict gives, copy is a deep copy."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import date

from bot.engine.session import Frame, Session


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
