"""What frightened people really type, through the real pipeline by SMS and by Telegram.

Each transcript of the understanding issue: a disclosure in the first message, "I'm fine" to the
danger question, a refused police, who she writes for, the language she writes in, "not now",
and municipalities as people name them.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.db import Database
from tests.auxil import telegram_payloads as tp
from tests.auxil.channels_app import channels_app, fakes
from tests.channels.test_conversations import PERSON, Line
from tests.flows.test_dialogues import SQ_HIGH_RISK
from tests.flows.test_dialogues import text as catalog_text
from tests.pipeline_harness import Harness as PipelineHarness
from tests.store.fixtures import crypto, db, sqlite_template  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: these tests are about reading words; the store runs on both elsewhere."""
    path = tmp_path / "helpline.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


class Phone:
    """One person writing to the helpline by SMS or Telegram; `says` returns the reply."""

    def __init__(self, line: Line, channel: str) -> None:
        self.line, self.channel = line, channel
        self.updates = itertools.count(1)

    @property
    def urn(self) -> str:
        return f"tel:{PERSON}" if self.channel == "sms" else f"telegram:{tp.CHAT_ID}"

    async def says(self, body: str) -> str:
        if self.channel == "sms":
            return "\n\n".join(await self.line.sms(body))
        fake, clock = self.line.telegram, self.line.convo.clock
        mid = fake.seed_message(tp.CHAT_ID, body, clock())
        update = tp.update(next(self.updates), message=tp.message(mid, date=clock(), text=body))
        return "\n\n".join(c["text"] for c in await self.line.telegram_update(update))


@pytest.fixture(params=["sms", "telegram"])
async def phone(request, db: Database, tmp_path: Path) -> AsyncIterator[Phone]:
    convo = await PipelineHarness(db).start()
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, convo.pipeline, convo.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Phone(Line(convo, app, twilio, telegram), request.param)


def has(reply: str, language: str, msgid: str) -> bool:
    return catalog_text(language, msgid).split("{")[0].strip()[:40] in reply


async def urgent(db: Database, urn: str) -> bool:
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(urn)
        assert contact is not None
        case = await uow.cases.open_for_contact(contact.id)
    return case is not None and case.urgency == "urgent"


@pytest.mark.parametrize(
    ("first", "language"),
    [
        ("me rrah burri", "sq"),
        ("më qëlloi", "sq"),
        ("më goditi", "sq"),
        ("ka një thikë", "sq"),
        ("my husband hits me", "en"),
        ("help me", "en"),
    ],
)
async def test_danger_in_a_first_message_starts_the_urgent_path(
    phone: Phone, db: Database, first: str, language: str
) -> None:
    reply = await phone.says(first)
    assert has(reply, language, "danger.call") and has(reply, language, "danger.alerted")
    assert not has(reply, "sq", "fc.language")  # no language menu: her words told us
    assert await urgent(db, phone.urn)


@pytest.mark.parametrize(
    "answer", ["jam mirë", "mirë", "në rregull", "ok", "jo jam mire", "nuk jam ne rrezik"]
)
async def test_fine_is_a_no_to_are_you_in_danger(phone: Phone, db: Database, answer: str) -> None:
    await phone.says("pershendetje")  # Albanian: answered in Albanian at once
    assert has(await phone.says("po"), "sq", "fc.danger_now")
    reply = await phone.says(answer)
    assert has(reply, "sq", "fc.role")
    assert not has(reply, "sq", "danger.call")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(phone.urn)
        assert contact is not None
        assert await uow.cases.open_for_contact(contact.id) is None  # nobody paged


@pytest.mark.parametrize("refusal", ["jo polici", "policia jo"])
async def test_a_refused_police_is_recorded_as_no(phone: Phone, db: Database, refusal: str):
    for says, _ in SQ_HIGH_RISK:
        reply = await phone.says(says)
    assert has(reply, "sq", "services.ask")
    # At the menu a refusal picks nothing; chosen, the police still asks for her yes.
    assert has(await phone.says(refusal), "sq", "sys.not_understood")
    assert has(await phone.says("polici"), "sq", "services.police_consent")
    assert has(await phone.says(refusal), "sq", "services.police_declined")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(phone.urn)
        assert contact is not None
        case = await uow.cases.open_for_contact(contact.id)
    assert case is not None and case.consent.get("police") is False


@pytest.mark.parametrize(
    ("answer", "reporter"),
    [
        ("dua të flas me dikë", "survivor"),
        ("un", "survivor"),
        ("nje", "survivor"),
        ("per motren", "witness"),
        ("per komshien", "witness"),
        ("dy", "witness"),
    ],
)
async def test_who_she_writes_about(phone: Phone, answer: str, reporter: str) -> None:
    await phone.says("pershendetje")
    await phone.says("po")
    assert has(await phone.says("jo"), "sq", "fc.role")
    assert has(await phone.says(answer), "sq", "fc.municipality")
    # The next answer leads to the path of that role: the witness path or the screening.
    reply = await phone.says("tirane")
    msgid = "witness.advice" if reporter == "witness" else "screen.weapon"
    assert has(reply, "sq", msgid)


async def test_me_in_english_is_myself(phone: Phone) -> None:
    await phone.says("hello")
    await phone.says("yes")
    assert has(await phone.says("no"), "en", "fc.role")
    assert has(await phone.says("me"), "en", "fc.municipality")


async def test_an_english_writer_is_answered_in_english(phone: Phone) -> None:
    reply = await phone.says("Hello, I need some help please")
    assert has(reply, "en", "fc.privacy") and has(reply, "en", "fc.safe_now")
    assert has(reply, "en", "fc.switch_hint")  # Albanian offered in one line
    assert not has(reply, "sq", "fc.language")


@pytest.mark.parametrize("answer", ["nuk jam e sigurt", "s'është", "më vonë"])
async def test_not_now_is_a_no_to_is_it_safe_to_text(phone: Phone, answer: str) -> None:
    await phone.says("pershendetje")
    assert has(await phone.says(answer), "sq", "fc.when_safe")


@pytest.mark.parametrize(
    ("answer", "slug"),
    [
        ("komuna e prishtinës", "prishtine"),
        ("bashkia e tiranës", "tirane"),
        ("Mitrovica veriore", "mitrovice-e-veriut"),
        ("Priština", "prishtine"),
    ],
)
async def test_municipalities_as_people_name_them(
    phone: Phone, db: Database, answer: str, slug: str
) -> None:
    await phone.says("pershendetje")
    await phone.says("po")
    await phone.says("jo")
    await phone.says("1")
    assert has(await phone.says(answer), "sq", "screen.weapon")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(phone.urn)
        assert contact is not None and contact.fields.get("municipality") == slug
