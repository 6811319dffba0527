"""Send pacing: stay under each provider's rate, per channel and per chat."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

# Telegram: about 30 messages a second overall and one a second per chat
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
# Twilio queues what is over a sender's rate, but a queue that grows delays alerts: stay under a
# modest rate (https://help.twilio.com/articles/115002943027).
# WhatsApp through Twilio: Twilio queues what is over a WhatsApp sender's throughput too; the
# same modest rate as SMS.
CHANNEL_RATE: dict[str, float] = {"telegram": 30.0, "sms": 10.0, "whatsapp": 10.0}
# Seconds between one chat's messages:
CHAT_INTERVAL: dict[str, float] = {"telegram": 1.0, "sms": 1.0, "whatsapp": 1.0}


class Pacer:
    """Reserves a send slot for (channel, chat); waits when a slot is not free yet."""

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        intervals: Mapping[str, float] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rates = dict(CHANNEL_RATE if rates is None else rates)
        self.intervals = dict(CHAT_INTERVAL if intervals is None else intervals)
        self.monotonic = monotonic
        self.sleep = sleep
        self._next_channel: dict[str, float] = {}
        self._next_chat: dict[tuple[str, str], float] = {}

    @classmethod
    def off(cls) -> Pacer:
        """No pacing at all (tests and benchmarks of our own code, not of provider limits)."""
        return cls({}, {})

    @classmethod
    def configured(cls, rates: Mapping[str, float | None]) -> Pacer:
        """The default pacing with some channels' rates set; 0 turns a channel's pacing off
        (per chat too), None keeps its default."""
        channel_rates, intervals = dict(CHANNEL_RATE), dict(CHAT_INTERVAL)
        for channel, rate in rates.items():
            if rate is None:
                continue
            if rate <= 0:
                channel_rates.pop(channel, None)
                intervals.pop(channel, None)
            else:
                channel_rates[channel] = rate
        return cls(channel_rates, intervals)

    def reserve(self, channel: str, chat: str) -> float:
        """Take the next free slot; returns how many seconds until it."""
        now = self.monotonic()
        slot = max(
            now, self._next_channel.get(channel, now), self._next_chat.get((channel, chat), now)
        )
        rate = self.rates.get(channel)
        if rate:
            self._next_channel[channel] = slot + 1.0 / rate
        interval = self.intervals.get(channel)
        if interval:
            self._next_chat[(channel, chat)] = slot + interval
        if len(self._next_chat) > 10_000:  # forget chats whose slots have long passed
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        return slot - now

    async def wait(self, channel: str, chat: str) -> None:
        """Wait for this chat's next slot on this channel."""
        delay = self.reserve(channel, chat)
        if delay > 0:
            await self.sleep(delay)
