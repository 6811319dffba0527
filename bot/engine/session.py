"""The state of one conversation, as plain data the store can keep."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
        """Plain JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild from `to_dict` output; unknown keys from newer versions are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        frames = [Frame(**f) for f in known.pop("frames", [])]
        return cls(frames=frames, **known)
