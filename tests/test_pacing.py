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


def test_configured_rates_replace_the_defaults_and_zero_turns_pacing_off(tmp_path) -> None:
    """HELPLINE_SMS_RATE / HELPLINE_TELEGRAM_RATE: a rate, 0 (no pacing at all), or unset."""
    from bot.config import load_settings

    var = {"HELPLINE_VAR_DIR": str(tmp_path)}
    settings = load_settings(env={**var, "HELPLINE_SMS_RATE": "0", "HELPLINE_TELEGRAM_RATE": "5"})
    assert (settings.sms_rate, settings.telegram_rate) == (0.0, 5.0)
    p = Pacer.configured({"sms": settings.sms_rate, "telegram": settings.telegram_rate})
    assert "sms" not in p.rates and "sms" not in p.intervals  # per chat too
    assert p.rates["telegram"] == 5.0 and p.intervals["telegram"] == 1.0
    assert Pacer.configured({"sms": None}).rates == Pacer().rates  # unset: the default
    for bad in ("-1", "fast", "nan"):
        with pytest.raises(ValueError, match="HELPLINE_SMS_RATE"):
            load_settings(env={**var, "HELPLINE_SMS_RATE": bad})
