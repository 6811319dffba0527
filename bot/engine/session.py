"""The state of one conversation, as plain data the store can keep."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from bot.engine.plain import copied


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
        """Plain JSON-able data, as dataclasses.asdict gives it (written on every message)."""
        frames = [
            {"flow": f.flow, "version": f.version, "node": f.node, "mode": f.mode, "route": f.route}
            for f in self.frames
        ]
        # Spelled out in the fields' order (the stored text's; tests pin it byte for byte).
        # Each container is copied in one C call: pins, scores, flags and consent hold atoms by
        # their types, the others are checked (plain.copied). Under callgrind this costs fewer
        # instructions than a display over __dict__ (a class without slots), which executes
        # fewer bytecodes but made every attribute read of a session slower.
        return {
            "frames": frames,
            "language": self.language,
            "status": self.status,
            "ended_reason": self.ended_reason,
            "results": copied(self.results),
            "fields": copied(self.fields),
            "pins": self.pins.copy(),
            "scores": self.scores.copy(),
            "flags": self.flags.copy(),
            "risk": None if self.risk is None else copied(self.risk),
            "urgent": self.urgent,
            "case_open": self.case_open,
            "case_info": copied(self.case_info),
            "consent": self.consent.copy(),
            "misses": self.misses,
            "wait_seq": self.wait_seq,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
            "timeout_at": self.timeout_at,
        }

    def copy(self) -> Session:
        """A deep copy (the engine runs on one, never on its caller's session)."""
        # By position, containers copied as in to_dict; tests check each field alone.
        return Session(
            [Frame(f.flow, f.version, f.node, f.mode, f.route) for f in self.frames],
            self.language,
            self.status,
            self.ended_reason,
            copied(self.results),
            copied(self.fields),
            self.pins.copy(),
            self.scores.copy(),
            self.flags.copy(),
            None if self.risk is None else copied(self.risk),
            self.urgent,
            self.case_open,
            copied(self.case_info),
            self.consent.copy(),
            self.misses,
            self.wait_seq,
            self.started_at,
            self.updated_at,
            self.expires_at,
            self.timeout_at,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild from `to_dict` output; unknown keys from newer versions are ignored."""
        if data.keys() == _SESSION_FIELDS:
            # What to_dict wrote (nearly every load): its values taken as they are, as before,
            # passed by position (by keyword each of JSON's keys, not the names' own strings,
            # would be compared with the parameters' names character by character).
            return cls(
                [_frame(f) for f in data["frames"]],
                data["language"],
                data["status"],
                data["ended_reason"],
                data["results"],
                data["fields"],
                data["pins"],
                data["scores"],
                data["flags"],
                data["risk"],
                data["urgent"],
                data["case_open"],
                data["case_info"],
                data["consent"],
                data["misses"],
                data["wait_seq"],
                data["started_at"],
                data["updated_at"],
                data["expires_at"],
                data["timeout_at"],
            )
        known = {k: v for k, v in data.items() if k in _SESSION_FIELDS}
        frames = [_frame(f) for f in known.pop("frames", [])]
        return cls(frames=frames, **known)


_SESSION_FIELDS = frozenset(f.name for f in fields(Session))
_FRAME_FIELDS = frozenset(f.name for f in fields(Frame))


def _frame(data: dict[str, Any]) -> Frame:
    """A frame from to_dict's output."""
    if data.keys() == _FRAME_FIELDS:
        return Frame(data["flow"], data["version"], data["node"], data["mode"], data["route"])
    return Frame(**data)  # an older frame (mode and route missing): the defaults
