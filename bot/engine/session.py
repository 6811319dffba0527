"""The state of one conversation, as plain data the store can keep."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


# Not slotted: a copy or a load fills the instance's __dict__ in one C call (see _frame).
@dataclass
class Frame:
    """Where a (sub-)flow stands: the flow at its pinned version and the current node.

    For a parent frame, `node` is the node that entered the sub-flow (mode "enter") or the wait
    interrupted by a keyword (mode "reask", or "route" with `route` the category to follow).
    """

    flow: str
    version: str
    node: str
    mode: str = "wait"  # wait | enter | reask | route
    route: str | None = None


# Not slotted: a copy or a load fills the instance's __dict__ in one C call (see copy).
@dataclass
class Session:
    """One conversation of one contact."""

    frames: list[Frame] = field(default_factory=list)
    language: str | None = None
    status: str = "active"  # active | waiting | ended
    ended_reason: str | None = None
    results: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)  # the contact's fields, as last seen
    pins: dict[str, str] = field(default_factory=dict)  # flow name -> version for this session
    scores: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    risk: dict[str, Any] | None = None
    urgent: bool = False
    case_open: bool = False
    case_info: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    misses: int = 0
    wait_seq: int = 0
    started_at: str = ""
    updated_at: str = ""
    expires_at: str = ""
    timeout_at: str | None = None

    @property
    def waiting(self) -> bool:
        """True when the session waits for the person's answer."""
        return self.status == "waiting"

    def expired(self, now: datetime) -> bool:
        """True when the session has been idle past its expiry."""
        return bool(self.expires_at) and now >= datetime.fromisoformat(self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, as dataclasses.asdict gives it (written on every message)."""
        # One display, in C: the template puts the keys in the fields' order (asdict's, the
        # stored text's) whatever the order of __dict__, which gives the values; then each
        # container is replaced by a copy, so the data shares nothing with the session.
        return {
            **_SESSION_KEYS,
            **self.__dict__,
            "frames": [{**_FRAME_KEYS, **f.__dict__} for f in self.frames],
            "results": _copied(self.results),
            "fields": _copied(self.fields),
            # Atoms only, by their types: a copy of the container is a deep one.
            "pins": self.pins.copy(),
            "scores": self.scores.copy(),
            "flags": self.flags.copy(),
            "risk": None if self.risk is None else _copied(self.risk),
            "case_info": _copied(self.case_info),
            "consent": self.consent.copy(),
        }

    def copy(self) -> Session:
        """A deep copy (the engine runs on one, never on its caller's session)."""
        twin = _new(Session)
        # No __init__: the atoms as they are and the containers copied as in to_dict, in one
        # new dict (see _SESSION_KEYS for why a new one).
        twin.__dict__ = {
            **self.__dict__,
            "frames": [_frame(f.__dict__) for f in self.frames],
            "results": _copied(self.results),
            "fields": _copied(self.fields),
            "pins": self.pins.copy(),
            "scores": self.scores.copy(),
            "flags": self.flags.copy(),
            "risk": None if self.risk is None else _copied(self.risk),
            "case_info": _copied(self.case_info),
            "consent": self.consent.copy(),
        }
        return twin

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild from `to_dict` output; unknown keys from newer versions are ignored."""
        if data.keys() == _SESSION_KEYS.keys():
            # What to_dict wrote (nearly every load): its values as they are (as cls(**data)
            # would take them), no __init__.
            session = _new(cls)
            session.__dict__ = {
                **_SESSION_KEYS,
                **data,
                "frames": [_frame(f) for f in data["frames"]],
            }
            return session
        known = {k: v for k, v in data.items() if k in _SESSION_KEYS}
        frames = [_frame(f) for f in known.pop("frames", [])]
        return cls(frames=frames, **known)


# Field name -> None, in the fields' order. A dict display starting with one puts its keys in
# that order, and they are the class's own (interned) names: CPython 3.11 reads an attribute
# from an instance's __dict__ at the speed of a slot only when the dict is one of its own (not
# one shared with the class, which `__dict__.update` on a new instance fills) and its key is
# the very string the code names (json.loads's keys are equal strings, not the same): 5-8 ns
# then, 40 ns otherwise, and a message reads a session's attributes ~80 times.
_SESSION_KEYS = dict.fromkeys(f.name for f in fields(Session))
_FRAME_KEYS = dict.fromkeys(f.name for f in fields(Frame))
_ATOMS = (str, int, float, bool, type(None))
_ATOM_TYPES = frozenset(_ATOMS)
_new = object.__new__


def _frame(data: dict[str, Any]) -> Frame:
    """A frame from its fields (to_dict's output, or another frame's __dict__), copied."""
    if data.keys() == _FRAME_KEYS.keys():
        frame = _new(Frame)
        frame.__dict__ = {**_FRAME_KEYS, **data}  # strings or None: nothing under to copy
        return frame
    return Frame(**data)  # an older frame (mode and route missing): the defaults


def _copied(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a dict of plain values, as dataclasses.asdict makes one."""
    # Nearly always atoms only (checked in C, no loop in Python): then a C copy is deep.
    if _ATOM_TYPES.issuperset(map(type, value.values())):
        return value.copy()
    return {k: v if type(v) in _ATOMS else _plain(v) for k, v in value.items()}


def _plain(value: Any) -> Any:
    """A copy of a plain value as dataclasses.asdict copies it: containers rebuilt, the rest
    deep-copied."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return _copied(value)
    if kind is list:
        if _ATOM_TYPES.issuperset(map(type, value)):
            return value.copy()
        return [v if type(v) in _ATOMS else _plain(v) for v in value]
    return copy.deepcopy(value)  # tuples, dates...: rare in a session, copied the slow way
