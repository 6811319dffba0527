"""Each provider channel states what it can take back at FSHI; the pipeline reads it by name."""

from __future__ import annotations

from datetime import timedelta

from bot.channels.recalls import RECALLS
from bot.channels.telegram import TelegramChannel
from bot.channels.twilio_sms import TwilioSmsChannel


def test_each_provider_channel_carries_its_recall() -> None:
    assert TelegramChannel.recall is RECALLS["telegram"]
    assert TwilioSmsChannel.recall is RECALLS["sms"]
    # Telegram: chat ids, from her phone, for 48 hours; Twilio: its own SIDs, after a while.
    assert (RECALLS["telegram"].ids, RECALLS["telegram"].window) == ("chat", timedelta(hours=48))
    assert (RECALLS["sms"].ids, RECALLS["sms"].delay) == ("provider", timedelta(minutes=2))
    assert "simulator" not in RECALLS
