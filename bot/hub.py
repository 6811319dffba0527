"""In-process publish/subscribe keyed by URN: what the simulator (and later the admin UI) watch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from prometheus_client import Counter

from bot.messages import Button

DROPPED = Counter(
    "helpline_hub_dropped_total", "Hub items dropped because a subscriber fell behind"
)

DEFAULT_QUEUE_SIZE = 100  # a chat's worth of frames; a browser further behind than this is stuck

Frame = dict[str, Any]


def _button_dict(button: Button | Mapping[str, Any]) -> dict[str, str]:
    """A button as the JSON the page reads, whether given as a Button or a mapping."""
    if isinstance(button, Button):
        return {"label": button.label, "value": button.value}
    return {"label": str(button["label"]), "value": str(button["value"])}


class Subscription:
    """One watcher of one URN: an async iterator of frames; closing it stops the iteration."""

    def __init__(self, hub: Hub, urn: str, maxsize: int) -> None:
        self.hub = hub
        self.urn = urn
        self.dropped = 0
        self.closed = False
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize)

    def offer(self, frame: Frame) -> None:
        """Queue a frame without ever waiting: when full, the oldest frame goes."""
        if self.closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            self.hub.dropped += 1
            DROPPED.inc()
        self._queue.put_nowait(frame)

    async def get(self) -> Frame | None:
        """The next frame, or None once the subscription is closed and drained."""
        if self.closed and self._queue.empty():
            return None
        return await self._queue.get()

    def pending(self) -> int:
        """How many frames wait to be read."""
        return self._queue.qsize()

    def close(self) -> None:
        """Stop receiving; a reader waiting in `get` wakes up with None."""
        if self.closed:
            return
        self.closed = True
        self.hub._remove(self)
        if self._queue.full():
            self._queue.get_nowait()  # room for the wake-up sentinel; the reader is leaving anyway
        self._queue.put_nowait(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Frame:
        frame = await self.get()
        if frame is None:
            raise StopAsyncIteration
        return frame

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Hub:
    """Frames published for a URN go to its current subscribers; with none, nothing is kept."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self.dropped = 0
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, urn: str) -> Subscription:
        """Start watching `urn` at once (frames published from now on are kept for it)."""
        sub = Subscription(self, urn, self.queue_size)
        self._subs.setdefault(urn, set()).add(sub)
        return sub

    def subscribers(self, urn: str) -> int:
        """How many subscriptions watch `urn`."""
        return len(self._subs.get(urn, ()))

    def publish(self, urn: str, frame: Frame) -> int:
        """Hand a frame to every subscriber of `urn`; returns how many got it. Never blocks."""
        subs = self._subs.get(urn)
        if not subs:
            return 0
        for sub in list(subs):
            sub.offer(frame)
        return len(subs)

    def publish_message(
        self, urn: str, text: str, buttons: Iterable[Button | Mapping[str, Any]] = ()
    ) -> int:
        """A message the helpline sent to `urn`."""
        frame = {"type": "message", "text": text, "buttons": [_button_dict(b) for b in buttons]}
        return self.publish(urn, frame)

    def publish_event(self, urn: str, event: Mapping[str, Any]) -> int:
        """Something the engine did in `urn`'s conversation (case opened, risk assessed, ...).

        The frame is flat: the engine's `type` becomes `event`, the other keys stay as they are.
        """
        details = {k: v for k, v in event.items() if k not in ("type", "event")}
        return self.publish(urn, {"type": "event", "event": str(event.get("type", "")), **details})

    def _remove(self, sub: Subscription) -> None:
        """Forget a closed subscription; a URN nobody watches keeps no entry."""
        subs = self._subs.get(sub.urn)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.urn]
