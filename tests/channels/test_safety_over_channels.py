"""Issue 16 through the real channels and the shipped flows: a child, suicide, a Kosovo number, a
callback, each by SMS (fake Twilio) and Telegram (fake Bot API), with the coordinator's phone."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.channels.sms_encoding import segments
from bot.store.db import Database
from tests.auxil import telegram_payloads as tp
from tests.auxil.channels_app import ChannelsApp, channels_app, fakes
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.flows.test_dialogues import text
from tests.pipeline_harness import Harness as PipelineHarness
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

ALBANIAN_PHONE = "+355691110071"
KOSOVO_PHONE = "+38344110072"
COORDINATOR_CHAT = 5550009001  # the coordinator on Telegram
COORDINATOR_PHONE = "+355692220071"  # the coordinator by SMS
CHILD_FLAG = {
    "sq": "MBROJTJE FËMIJE: shkruan një fëmijë",
    "en": "CHILD PROTECTION: a child is writing",
}

# PTB 22 warns inside RetryAfter's own constructor; the channel reads both value types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@dataclass
class Line:
    """The helpline behind both fakes; each step returns what went out, by recipient."""

    convo: PipelineHarness
    app: ChannelsApp
    twilio: FakeTwilio
    telegram: FakeTelegram
    updates: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _before(self) -> tuple[int, int]:
        return len(self.twilio.created()), len(self.telegram.calls_to("sendMessage"))

    async def _sent(self, before: tuple[int, int]) -> dict[str, list[str]]:
        await self.app.deliver()
        out: dict[str, list[str]] = {}
        for r in self.twilio.created()[before[0] :]:
            out.setdefault(r.form["To"], []).append(r.form["Body"])
        for c in self.telegram.calls_to("sendMessage")[before[1] :]:
            out.setdefault(f"tg:{c['chat_id']}", []).append(c["text"])
        return out

    async def sms(self, phone: str, body: str) -> dict[str, list[str]]:
        before = self._before()
        await self.app.sms(phone, body)
        return await self._sent(before)

    async def tg(self, body: str) -> dict[str, list[str]]:
        before = self._before()
        mid = self.telegram.seed_message(tp.CHAT_ID, body, self.convo.clock())
        message = tp.message(mid, date=self.convo.clock(), text=body)
        await self.app.update(tp.update(next(self.updates), message=message))
        return await self._sent(before)

    async def sweep(self) -> dict[str, list[str]]:
        before = self._before()
        await self.convo.pipeline.sweep_referrals()
        return await self._sent(before)

    async def coordinator(self, *, phone: str | None = None, chat: int | None = None, lang: str):
        """A coordinator on national duty, always on."""
        async with self.convo.db.uow() as uow:
            c = await uow.coordinators.add(
                name="Nora", municipality="national", phone=phone,
                telegram_chat_id=str(chat) if chat else None, language=lang,
                role="coordinator", now=self.convo.clock(),
            )  # fmt: skip
            await uow.coordinators.add_shift(
                c.id, kind="always", tz="Europe/Tirane", now=self.convo.clock()
            )
            await uow.commit()


@pytest.fixture
async def line(db: Database, tmp_path: Path) -> AsyncIterator[Line]:
    convo = await PipelineHarness(db).start()
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, convo.pipeline, convo.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Line(convo, app, twilio, telegram)


COORD_TG = f"tg:{COORDINATOR_CHAT}"
PERSON_TG = f"tg:{tp.CHAT_ID}"


async def test_a_child_by_sms_gets_the_childrens_line_and_a_child_protection_page(line: Line):
    await line.coordinator(chat=COORDINATOR_CHAT, lang="en")
    sent = await line.sms(ALBANIAN_PHONE, "Përshëndetje, jam 14 vjeç, babi po e rreh mamin")
    [reply] = sent[ALBANIAN_PHONE]
    assert reply.startswith(
        text("sq", "child.help", children="116 111", police="129", emergency="112")
    )
    assert reply.endswith(text("sq", "child.where")) and segments(reply) <= 3
    assert "shtatzënë" not in reply
    [alert] = sent[COORD_TG]
    assert re.match(r"URGENT R-[0-9A-Z]{4,}: ", alert) and CHILD_FLAG["en"] in alert
    assert ALBANIAN_PHONE[4:] not in alert
    sent = await line.sms(ALBANIAN_PHONE, "Durrës")
    assert sent[ALBANIAN_PHONE] == [text("sq", "child.bye")]
    async with line.convo.db.uow() as uow:
        contact = await uow.contacts.find_by_urn(f"tel:{ALBANIAN_PHONE}")
        case = await uow.cases.open_for_contact(contact.id)
    assert case.urgency == "urgent" and case.municipality == "durres"
    assert "child_protection" in case.flags  # on the case page too, not only in the page
    # Writing again starts a new conversation: never the pregnancy question.
    for body in ["pershendetje", "po", "jo", "1", "Durrës"] + ["jo"] * 6:
        sent = await line.sms(ALBANIAN_PHONE, body)
        assert all(text("sq", "screen.pregnant") not in r for r in sent[ALBANIAN_PHONE])


async def test_a_child_on_telegram_gets_the_child_path_and_the_coordinator_is_paged_by_sms(
    line: Line,
):
    await line.coordinator(phone=COORDINATOR_PHONE, lang="sq")
    sent = await line.tg("my dad hits my mum")
    [reply] = sent[PERSON_TG]
    # Telegram gives no country: both countries' police.
    police = "129 (AL) / 192 (KS)"
    assert reply.startswith(
        text("en", "child.help", children="116 111", police=police, emergency="112")
    )
    [alert] = sent[COORDINATOR_PHONE]
    assert alert.startswith("URGJENT R-") and CHILD_FLAG["sq"] in alert
    sent = await line.tg("Prizren")
    assert sent[PERSON_TG] == [text("en", "child.bye")]


SCREENING_TO_SUICIDE = ["jo"] * 10  # weapon ... separation


async def test_suicide_by_sms_from_kosovo_answers_at_once_and_pages(line: Line):
    await line.coordinator(chat=COORDINATOR_CHAT, lang="sq")
    for body in ["Përshëndetje", "shqip", "po", "jo", "1", "Prishtinë", *SCREENING_TO_SUICIDE]:
        sent = await line.sms(KOSOVO_PHONE, body)
        assert COORD_TG not in sent, body  # nothing urgent yet
    sent = await line.sms(KOSOVO_PHONE, "po")
    [reply] = sent[KOSOVO_PHONE]
    crisis = "0800 12345 (Linja e Jetës, në mbrëmje)"
    assert reply.startswith(text("sq", "screen.suicide_help", crisis=crisis, emergency="112"))
    [alert] = sent[COORD_TG]
    assert re.match(r"URGJENT R-[0-9A-Z]{4,}: Prishtinë, ", alert)
    assert "mendime vetëvrasjeje" in alert


async def test_suicide_on_telegram_answers_at_once_and_pages_by_sms(line: Line):
    await line.coordinator(phone=COORDINATOR_PHONE, lang="en")
    steps = ["hello", "English", "yes", "no", "1", "Tirana", *(["no"] * 10)]
    for body in steps:
        sent = await line.tg(body)
        assert COORDINATOR_PHONE not in sent, body
    sent = await line.tg("yes")
    [reply] = sent[PERSON_TG]
    crisis = "116 117 (the line for women and girls, 24 hours)"
    assert reply.startswith(text("en", "screen.suicide_help", crisis=crisis, emergency="112"))
    [alert] = sent[COORDINATOR_PHONE]
    assert alert.startswith("URGENT R-") and "suicidal thoughts" in alert


@pytest.mark.parametrize(("phone", "police"), [(KOSOVO_PHONE, "192"), (ALBANIAN_PHONE, "129")])
async def test_danger_by_sms_gets_the_countrys_police_within_three_parts(
    line: Line, phone: str, police: str
):
    sent = await line.sms(phone, "jam në rrezik")
    [reply] = sent[phone]
    assert reply.startswith(f"Thirrni 112 ose {police}.")
    assert segments(reply) <= 3  # ë kept: UCS-2


async def test_a_callback_request_by_sms_reaches_the_coordinator_with_its_time(line: Line):
    await line.coordinator(chat=COORDINATOR_CHAT, lang="sq")
    await line.sms(ALBANIAN_PHONE, "siguria")
    sent = await line.sms(ALBANIAN_PHONE, "5")
    assert text("sq", "safety.call_ask") in sent[ALBANIAN_PHONE][0]
    sent = await line.sms(ALBANIAN_PHONE, "3")
    [reply] = sent[ALBANIAN_PHONE]
    assert reply.startswith(text("sq", "safety.call_ok"))
    assert text("sq", "fc.safe_now") in reply  # then the conversation begins as usual
    assert COORD_TG not in sent  # not a page
    sent = await line.sweep()  # the digest, in the coordinator's hours (always on duty)
    [digest] = sent[COORD_TG]
    ref = re.search(r"R-[0-9A-Z]{4,}", digest).group(0)
    assert "kërkon telefonatë në mbrëmje" in digest

    # Her coordinator takes the case; a later request goes straight to her as a notice.
    before = line._before()
    await line.app.update(
        tp.update(
            next(line.updates),
            message=tp.message(9001, COORDINATOR_CHAT, text=f"OK {ref}"),
        )
    )
    await line._sent(before)
    await line.sms(ALBANIAN_PHONE, "SIGURIA")
    await line.sms(ALBANIAN_PHONE, "5")
    sent = await line.sms(ALBANIAN_PHONE, "mengjes")
    [notice] = sent[COORD_TG]
    assert notice.startswith(f"{ref}: ") and "kërkon telefonatë në mëngjes" in notice
    assert "URGJENT" not in notice
