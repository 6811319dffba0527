"""End to end over both fakes: a survivor by SMS, her coordinator on Telegram with buttons."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.auxil import telegram_payloads as tgp
from tests.auxil.channels_app import ChannelsApp, channels_app, fakes
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.referral.harness import Desk

PERSON = "+355691110003"
COORDINATOR_CHAT = 5550007771

# PTB 22 warns inside RetryAfter's own constructor; the channel reads both value types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


class Phones:
    """The survivor's phone (SMS through fake Twilio) and the coordinator's (fake Telegram)."""

    def __init__(
        self, desk: Desk, app: ChannelsApp, twilio: FakeTwilio, telegram: FakeTelegram
    ) -> None:
        self.desk, self.app, self.twilio, self.telegram = desk, app, twilio, telegram
        self._updates = itertools.count(1)
        self._messages = itertools.count(900)

    async def _delivered(self, before: tuple[int, int]) -> tuple[list[str], list[dict[str, Any]]]:
        await self.app.deliver()
        sms = [r.form["Body"] for r in self.twilio.created()[before[0] :]]
        assert all(r.form["To"] == PERSON for r in self.twilio.created()[before[0] :])
        tg = self.telegram.calls_to("sendMessage")[before[1] :]
        assert all(c["chat_id"] == COORDINATOR_CHAT for c in tg)
        return sms, tg

    def _before(self) -> tuple[int, int]:
        return len(self.twilio.created()), len(self.telegram.calls_to("sendMessage"))

    async def survivor(self, body: str) -> tuple[list[str], list[dict[str, Any]]]:
        """She texts the helpline; (SMS to her, Telegram messages to the coordinator)."""
        before = self._before()
        await self.app.sms(PERSON, body)
        return await self._delivered(before)

    async def coordinator(
        self, body: str = "", *, press: tuple[str, int] | None = None, reply_to: int | None = None
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The coordinator types, replies to one of our messages, or presses a button."""
        before = self._before()
        n = next(self._updates)
        if press is not None:
            data, message_id = press
            update = tgp.callback(
                n, data, query_id=f"q{n}", message_id=message_id, chat_id=COORDINATOR_CHAT
            )
        else:
            message = tgp.message(next(self._messages), COORDINATOR_CHAT, text=body)
            if reply_to is not None:
                message["reply_to_message"] = tgp.message(
                    reply_to, COORDINATOR_CHAT, text="(our message)"
                )
            update = tgp.update(n, message=message)
        await self.app.update(update)
        return await self._delivered(before)


@pytest.fixture
async def phones(db, tmp_path: Path) -> AsyncIterator[Phones]:
    desk = await Desk(db).start()
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, desk.pipeline, desk.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Phones(desk, app, twilio, telegram)


async def test_danger_by_sms_accepted_and_worked_from_telegram(phones: Phones, db) -> None:
    await phones.desk.add_coordinator("Arta", "tirane", chat=str(COORDINATOR_CHAT), lang="sq")
    await phones.survivor("Përshëndetje")
    await phones.survivor("Tiranë")
    to_her, to_coordinator = await phones.survivor("jam në rrezik")
    [danger] = to_her
    assert danger.startswith("t.danger")

    # The alert reaches her coordinator's Telegram, with a button to accept; nothing of the
    # survivor's words or number in it.
    [alert] = to_coordinator
    ref = re.search(r"R-[0-9A-Z]{4,}", alert["text"]).group(0)
    assert alert["text"].startswith(f"URGJENT {ref}: Tiranë")
    assert PERSON[1:] not in alert["text"] and PERSON[4:] not in alert["text"]
    buttons = alert["reply_markup"]["inline_keyboard"]
    assert buttons == [[{"text": f"OK {ref}", "callback_data": f"OK {ref}"}]]
    alert_id = max(phones.telegram.message_ids(COORDINATOR_CHAT))

    # She presses it: the press is answered, she is told the case is hers, the survivor too.
    to_her, to_coordinator = await phones.coordinator(press=(f"OK {ref}", alert_id))
    assert phones.telegram.answered[-1] == "q1"
    [taken] = to_coordinator
    assert taken["text"].startswith(f"{ref} është i yti.")
    assert to_her == [
        "Përshëndetje.\n"
        "Një koordinator e ka marrë kërkesën tuaj dhe do t'ju shkruajë këtu së shpejti."
    ]

    # She answers the alert with Telegram's reply: it goes to the survivor, unsigned.
    to_her, to_coordinator = await phones.coordinator("A mund të flasësh tani?", reply_to=alert_id)
    assert to_her == ["Përshëndetje.\nKoordinatori: «A mund të flasësh tani?»"]
    assert [c["text"] for c in to_coordinator] == [f"U dërgua te {ref}."]

    # The survivor's answer reaches the coordinator, not the bot.
    to_her, to_coordinator = await phones.survivor("Po, jam vetëm.")
    assert to_her == [] and [c["text"] for c in to_coordinator] == [
        f"{ref} shkruan: «Po, jam vetëm.»"
    ]

    # And by the command typed out.
    to_her, _ = await phones.coordinator(f"{ref} Do të të telefonojmë nesër në 10.")
    assert to_her == ["Përshëndetje.\nKoordinatori: «Do të të telefonojmë nesër në 10.»"]

    to_her, to_coordinator = await phones.coordinator(f"MBYLL {ref} zgjidhur")
    assert to_her == [] and [c["text"] for c in to_coordinator] == [f"{ref} u mbyll: zgjidhur."]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        kinds = [e.kind for e in await uow.cases.events(case.id)]
    assert case.status == "closed"
    assert kinds.index("alerted") < kinds.index("accepted") < kinds.index("closed")
    assert kinds.count("relayed") >= 2
