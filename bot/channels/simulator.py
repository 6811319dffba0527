"""The simulator channel: replies go to the web chat watching the URN, through the hub."""

from __future__ import annotations

import uuid

from bot.channels.sms_encoding import segments
from bot.hub import Hub
from bot.messages import Outbound, SendResult


class SimulatorChannel:
    """Delivers outbound messages to the simulator page watching the URN; always on."""

    name = "simulator"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def start(self) -> None:
        """Nothing to open: the hub lives in this process."""

    async def stop(self) -> None:
        """Nothing to close."""

    async def send(self, msg: Outbound) -> SendResult:
        """Publish the message; a closed page misses it, as a phone that is off would."""
        if msg.kind == "delete":
            # Deleting sent messages is a Telegram feature; the page has nothing to delete.
            return SendResult(ok=True, external_id=None, segments=0)
        self.hub.publish_message(msg.urn, msg.text, msg.buttons)
        # What the text would cost as SMS, so flow authors see it (one ë makes it UCS-2).
        return SendResult(
            ok=True, external_id=f"sim-{uuid.uuid4().hex}", segments=segments(msg.text)
        )
