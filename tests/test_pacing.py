"""Send pacing per channel and per chat, on a hand-moved clock."""

from __future__ import annotations

import pytest

from bot.pacing import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def pacer(clock: FakeTime) -> Pacer:
    return Pacer({"telegram": 2.0}, {"telegram": 1.0}, monotonic=clock.monotonic, sleep=clock.sleep)


async def test_one_chat_gets_one_message_a_second(clock):
    p = pacer(clock)
    for _ in range(3):
        await p.wait("telegram", "telegram:1")
    assert clock.slept == [1.0, 1.0]


async def test_the_channel_rate_spreads_different_chats(clock):
    p = pacer(clock)
    for chat in ("a", "b", "c", "d"):
        await p.wait("telegram", chat)
    assert clock.slept == [0.5, 0.5, 0.5]  # 2 a second over the channel


async def test_unlimited_channels_never_wait(clock):
    p = pacer(clock)
    for _ in range(50):
        await p.wait("simulator", "sim:x")
    assert clock.slept == []


async def test_a_quiet_chat_is_not_held_back(clock):
    p = pacer(clock)
    await p.wait("telegram", "a")
    clock.now += 5
    await p.wait("telegram", "a")
    assert clock.slept == []
