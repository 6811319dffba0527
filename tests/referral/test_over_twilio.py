"""End to end over the fake Twilio: signed webhooks in, REST requests out, a case worked by SMS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.auxil import twilio_payloads as tp
from tests.auxil.channels_app import ChannelsApp, channels_app, fakes
from tests.auxil.fake_twilio import FakeTwilio
from tests.referral.harness import Desk

PERSON = "+355691110001"
COORDINATOR = "+355692220001"


class Phones:
    """The helpline behind Twilio: people text it by webhook and read what the fake was sent."""

    def __init__(self, desk: Desk, app: ChannelsApp, fake: FakeTwilio) -> None:
        self.desk, self.app, self.fake = desk, app, fake

    async def text(self, from_: str, body: str) -> dict[str, list[str]]:
        """A signed webhook from `from_`; then what Twilio was asked to send, by recipient."""
        before = len(self.fake.created())
        await self.app.sms(from_, body)
        await self.app.deliver()
        sent: dict[str, list[str]] = {}
        for request in self.fake.created()[before:]:
            assert request.form["From"] == tp.HELPLINE_NUMBER
            sent.setdefault(request.form["To"], []).append(request.form["Body"])
        return sent


@pytest.fixture
async def phones(db, tmp_path: Path) -> AsyncIterator[Phones]:
    desk = await Desk(db).start()
    async with (
        fakes() as (twilio, _),
        channels_app(db, desk.pipeline, desk.clock, tmp_path, twilio=twilio) as app,
    ):
        yield Phones(desk, app, twilio)


async def test_a_case_from_danger_to_closed_by_sms(phones: Phones, db):
    await phones.desk.add_coordinator("Arta", "tirane", phone=COORDINATOR)
    await phones.text(PERSON, "Përshëndetje")
    await phones.text(PERSON, "Tiranë")
    sent = await phones.text(PERSON, "jam në rrezik")
    [to_person] = sent[PERSON]
    assert to_person.startswith("t.danger")
    [alert] = sent[COORDINATOR]
    ref = re.search(r"R-[0-9A-Z]{4,}", alert).group(0)
    assert alert.startswith(f"URGJENT {ref}: Tiranë")
    assert PERSON[4:] not in alert and "rrezik" in alert  # risk words, never her words or number

    sent = await phones.text(COORDINATOR, f"OK {ref}")
    assert sent[COORDINATOR][0].startswith(f"{ref} është i yti.")
    assert sent[PERSON] == [
        "Përshëndetje.\n"
        "Një koordinator e ka marrë kërkesën tuaj dhe do t'ju shkruajë këtu së shpejti."
    ]
    sent = await phones.text(COORDINATOR, f"{ref} A mund të flasësh tani?")
    assert sent == {
        PERSON: ["Përshëndetje.\nKoordinatori: «A mund të flasësh tani?»"],
        COORDINATOR: [f"U dërgua te {ref}."],
    }
    sent = await phones.text(PERSON, "Po, jam vetëm.")
    assert sent == {COORDINATOR: [f"{ref} shkruan: «Po, jam vetëm.»"]}
    sent = await phones.text(COORDINATOR, f"MBYLL {ref} zgjidhur")
    assert sent == {COORDINATOR: [f"{ref} u mbyll: zgjidhur."]}
    async with db.uow() as uow:
        assert (await uow.cases.get_by_reference(ref)).status == "closed"
