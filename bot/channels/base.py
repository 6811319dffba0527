"""The contract every channel keeps: a name, start/stop, and send one Outbound."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.messages import Outbound, SendResult


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
