"""The state of one conversation, as plain data the store can keep."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass(slots=True)
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


@dataclass(slots=True)
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
        """Plain JSON-able data (what dataclasses.asdict gives, at a fraction of its cost:
        it is written on every message); keys in the fields' order, as asdict's."""
        frames = [
            {"flow": f.flow, "version": f.version, "node": f.node, "mode": f.mode, "route": f.route}
            for f in self.frames
        ]
        # Spelled out field by field (a loop over the fields cost 7.6 µs, this 5.9);
        # tests/engine/test_session.py checks it against asdict for every field.
        return {
            "frames": frames,
            "language": self.language,
            "status": self.status,
            "ended_reason": self.ended_reason,
            "results": _plain(self.results),
            "fields": _plain(self.fields),
            "pins": _plain(self.pins),
            "scores": _plain(self.scores),
            "flags": _plain(self.flags),
            "risk": _plain(self.risk),
            "urgent": self.urgent,
            "case_open": self.case_open,
            "case_info": _plain(self.case_info),
            "consent": _plain(self.consent),
            "misses": self.misses,
            "wait_seq": self.wait_seq,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
            "timeout_at": self.timeout_at,
        }

    def copy(self) -> Session:
        """A deep copy (the engine runs on one, never on its caller's session)."""
        return Session(
            frames=[Frame(f.flow, f.version, f.node, f.mode, f.route) for f in self.frames],
            language=_plain(self.language),
            status=_plain(self.status),
            ended_reason=_plain(self.ended_reason),
            results=_plain(self.results),
            fields=_plain(self.fields),
            pins=_plain(self.pins),
            scores=_plain(self.scores),
            flags=_plain(self.flags),
            risk=_plain(self.risk),
            urgent=_plain(self.urgent),
            case_open=_plain(self.case_open),
            case_info=_plain(self.case_info),
            consent=_plain(self.consent),
            misses=_plain(self.misses),
            wait_seq=_plain(self.wait_seq),
            started_at=_plain(self.started_at),
            updated_at=_plain(self.updated_at),
            expires_at=_plain(self.expires_at),
            timeout_at=_plain(self.timeout_at),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild from `to_dict` output; unknown keys from newer versions are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        frames = [Frame(**f) for f in known.pop("frames", [])]
        return cls(frames=frames, **known)


_FIELDS = tuple(f.name for f in fields(Session))  # "frames" first, as to_dict writes it
_ATOMS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """A copy of a plain value as dataclasses.asdict copies it: containers rebuilt, the rest
    deep-copied."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        # Atoms inline (no call for each): most keys and values of a session are.
        return {
            (k if type(k) in _ATOMS else _plain(k)): (v if type(v) in _ATOMS else _plain(v))
            for k, v in value.items()
        }
    if kind is list:
        return [v if type(v) in _ATOMS else _plain(v) for v in value]
    return copy.deepcopy(value)  # tuples, dates...: rare in a session, copied the slow way
