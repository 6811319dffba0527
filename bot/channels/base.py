"""The contract every channel keeps: a name, start/stop, and send one Outbound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol, runtime_checkable

from aiohttp import web

from bot.messages import Outbound, SendResult


class Throttled(Exception):
    """Too many messages from one sender: the channel answers 429 and stores nothing."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.0f} s")
        self.retry_after = retry_after


def too_many_response(retry_after: float) -> web.Response:
    """429 with Retry-After in whole seconds (at least 1)."""
    return web.Response(
        status=429,
        text="too many requests",
        headers={"Retry-After": str(max(1, int(retry_after + 0.999)))},
    )


@dataclass(frozen=True, slots=True)
class Recall:
    """What a provider lets the helpline take back of a conversation when the person erases it."""

    # Which ids its delete call takes: the chat's own message ids (what her phone shows) or
    # the provider's message ids (what its logs keep).
    ids: Literal["chat", "provider"]
    meta_key: str  # where the delete request (an Outbound of kind "delete") carries them
    window: timedelta | None = None  # only messages this recent can be deleted
    delay: timedelta = timedelta(0)  # how long after the request the provider can do it
    # What stays on her phone all the same, said under "Deleted." (a message id), if anything.
    note: str | None = None


@runtime_checkable
class Channel(Protocol):
    """A way to reach people: SMS, Telegram, the simulator."""

    name: str

    async def start(self) -> None:
        """Open connections or start polling (inside the running event loop)."""
        ...

    async def stop(self) -> None:
        """Close connections; called once on shutdown."""
        ...

    async def send(self, msg: Outbound) -> SendResult:
        """Send one message; report provider errors in the result instead of raising."""
        ...
