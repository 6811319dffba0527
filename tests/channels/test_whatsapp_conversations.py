"""WhatsApp over fake Twilio, the real twilio library and the real pipeline: whole screenings,
check-ins outside her 24 hours as templates, 63016, coordinators paged on WhatsApp, FSHI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.channels.twilio_sms import STATUS_PATH
from bot.followups.scheduler import Scheduler
from bot.referral import cases as case_ops
from bot.referral import context
from bot.store.db import Database
from tests.auxil import twilio_payloads as tp
from tests.auxil.channels_app import PUBLIC, TEMPLATE_SIDS, ChannelsApp, channels_app, fakes
from tests.auxil.fake_twilio import FakeTwilio
from tests.flows.test_dialogues import SQ_HIGH_RISK, expect
from tests.followups.harness import COORDINATOR_PHONE, FollowupDesk
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

PERSON = "+355691110088"
HER = "whatsapp:" + PERSON
COORDINATOR = "+355692220088"
REGISTER = ["tung", "1", "20.11.2026", "nuk e di", "po", "3", "jo"]  # her order, evenings, no words
HOUR = timedelta(hours=1)
# Most run on SQLite only (the test-time budget); the screening and the check-in on both.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
REF = re.compile(r"R-[0-9A-Z]{4,}")


class Line:
    """The helpline on the shipped flows behind fake Twilio, SMS and WhatsApp on one webhook."""

    def __init__(self, desk: FollowupDesk, app: ChannelsApp, twilio: FakeTwilio) -> None:
        self.desk, self.app, self.twilio = desk, app, twilio
        self._seen = 0

    async def delivered(self) -> dict[str, list[str]]:
        """What reached each address since the last look (refused messages left out)."""
        await self.app.deliver()
        await self.twilio.settled()  # the callbacks the fake posts itself (63016)
        await self.app.deliver()
        out: dict[str, list[str]] = {}
        for message in self.twilio.log[self._seen :]:
            if not message.get("_outside_window"):
                out.setdefault(str(message["to"]), []).append(str(message["body"]))
        self._seen = len(self.twilio.log)
        return out

    async def she_writes(self, body: str, button: str | None = None) -> dict[str, list[str]]:
        await self.app.whatsapp(PERSON, body, button=button)
        return await self.delivered()

    async def by_sms(self, from_: str, body: str) -> dict[str, list[str]]:
        await self.app.sms(from_, body)
        return await self.delivered()

    async def coordinator_on_whatsapp(self, body: str) -> dict[str, list[str]]:
        await self.app.whatsapp(COORDINATOR, body)
        return await self.delivered()

    async def next_checkin(self) -> dict[str, list[str]]:
        """Move the clock to the next due check-in and run the follow-ups' sweep."""
        due = min(r.due_at for r in await self.desk.checkins() if r.status == "pending")
        self.desk.clock.now = max(self.desk.clock(), due)
        await Scheduler(self.desk.pipeline).sweep()
        return await self.delivered()

    async def outbox(self) -> list[tuple[str, str, str | None]]:
        """(kind, status, last_error) of every outbox row, oldest first."""
        async with self.desk.db.uow() as uow:
            rows = await uow.conn.execute(
                sa.text("SELECT kind, status, last_error FROM outbox ORDER BY id")
            )
            return [tuple(r) for r in rows]


@pytest.fixture
async def line(db: Database, tmp_path: Path) -> AsyncIterator[Line]:
    desk = await FollowupDesk(db).start()
    async with (
        fakes() as (twilio, _),
        channels_app(db, desk.pipeline, desk.clock, tmp_path, twilio=twilio, whatsapp=True) as app,
    ):
        yield Line(desk, app, twilio)


async def registered(line: Line) -> str:
    """She registers her order by WhatsApp (check-ins in the evening); Drita takes the case."""
    line.desk.pipeline.trigger_flow = "order_register"
    for text in REGISTER:
        await line.she_writes(text)
    line.desk.pipeline.trigger_flow = "first_contact"
    async with line.desk.db.uow() as uow:
        ref = (
            await uow.conn.execute(sa.text("SELECT reference FROM cases ORDER BY id DESC"))
        ).scalar_one()
        case = await uow.cases.get_by_reference(ref)
        assert line.desk.coordinator is not None
        await case_ops.accept(uow, case, line.desk.coordinator.id, line.desk.clock())
        await uow.commit()
    return str(ref)


async def test_a_whole_screening_over_whatsapp(line: Line, db: Database) -> None:
    """SQ_HIGH_RISK typed on WhatsApp: every reply by WhatsApp from our sender, the page to the
    duty coordinator by SMS, never an SMS to her; delivery and read statuses are recorded."""
    pages: list[str] = []
    for says, expected in SQ_HIGH_RISK:
        sent = await line.she_writes(says)
        [reply] = sent.pop(HER)
        expect(reply, expected)
        assert PERSON not in sent  # never an SMS to her number
        pages += sent.pop(COORDINATOR_PHONE, [])
        assert not sent
    assert pages and all(PERSON not in p for p in pages)  # Drita is paged by SMS
    created = [r for r in line.twilio.created() if r.form["To"] == HER]
    assert len(created) == len(SQ_HIGH_RISK)
    assert {r.form["From"] for r in created} == {tp.HELPLINE_WHATSAPP}
    assert {r.form["StatusCallback"] for r in created} == {PUBLIC + STATUS_PATH}
    assert all("ContentSid" not in r.form for r in created)  # inside her 24 hours: free-form
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(HER)
        assert contact is not None and contact.channel == "whatsapp"
        assert await uow.contacts.find_by_urn(f"tel:{PERSON}") is None
        case = await uow.cases.open_for_contact(contact.id)
    assert case is not None and (case.risk_level, case.municipality) == ("high", "tirane")

    # Delivery and read receipts come to the same status webhook and land on her messages.
    [last] = [m for m in line.twilio.log if m["to"] == HER][-1:]
    assert await line.twilio.deliver(str(last["sid"]), "delivered") == 200
    assert await line.twilio.deliver(str(last["sid"]), "read") == 200
    async with db.uow() as uow:
        status = (
            await uow.conn.execute(
                sa.text("SELECT status FROM messages WHERE external_id = :s"), {"s": last["sid"]}
            )
        ).scalar_one()
    assert status == "read"


@SQLITE
async def test_a_picture_and_a_quick_reply(line: Line) -> None:
    """A photo is answered as on SMS; a pressed quick reply reads as the option it carries."""
    await line.she_writes("pershendetje")
    await line.app.whatsapp(PERSON, "", num_media=1)
    [media] = (await line.delivered())[HER]
    assert line.desk.catalogs.text("sq", "sys.media").split("{")[0][:20] in media
    # fc.safe_now is asked again after the photo; "Yes" pressed, its id "yes".
    [reply] = (await line.she_writes("Po", button="yes"))[HER]
    expect(reply, [("sq", "fc.danger_now")])


async def test_a_checkin_outside_her_24_hours_goes_as_its_template(line: Line) -> None:
    """Days after she last wrote, the check-in goes as the approved template (ContentSid, no
    Body); her quick reply opens the window and the rest is free-form."""
    await registered(line)
    sent = await line.next_checkin()
    [hello] = sent[HER]
    assert hello.startswith("Përshëndetje, jemi ne përsëri.")  # neutral: a locked screen
    [request] = [r for r in line.twilio.created() if r.form["To"] == HER][-1:]
    assert request.form["ContentSid"] == TEMPLATE_SIDS[("checkin", "sq")]
    assert "Body" not in request.form
    [question] = (await line.she_writes("Po", button="yes"))[HER]
    assert question.startswith(line.desk.catalogs.text("sq", "fu.order.ask"))
    assert "ContentSid" not in line.twilio.created()[-1].form


@SQLITE
async def test_free_form_refused_with_63016_waits_for_her_and_is_not_retried(line: Line) -> None:
    """A relay we thought inside her 24 hours is refused by Twilio (63016, in the status
    callback): kept until she writes, never tried again before; outside the window a neutral
    template says a message waits, once."""
    ref = await registered(line)
    line.desk.clock.advance(timedelta(hours=23, minutes=50))  # inside our 24 hours...
    line.twilio.heard.clear()  # ...but Twilio counts otherwise
    sent = await line.by_sms(COORDINATOR_PHONE, f"{ref} Si jeni?")
    assert HER not in sent  # refused: nothing reached her
    refused = [m for m in line.twilio.log if m.get("_outside_window")]
    assert len(refused) == 1 and refused[0]["error_code"] == 63016
    assert ("reply", "pending", "63016") in await line.outbox()
    for _ in range(3):  # days pass: neither the relay nor anything else is sent again
        line.desk.clock.advance(timedelta(days=1))
        await line.desk.pipeline.sweep_fires()
        assert HER not in await line.delivered()
    assert len([r for r in line.twilio.created() if r.form["To"] == HER]) == len(REGISTER) + 1

    # A second relay, now days after her last message: a neutral template, the relay waits.
    sent = await line.by_sms(COORDINATOR_PHONE, f"{ref} A jeni mirë?")
    [nudge] = sent[HER]
    assert nudge == line.desk.catalogs.text("sq", "wa.tpl.waiting")
    request = [r for r in line.twilio.created() if r.form["To"] == HER][-1]
    assert request.form["ContentSid"] == TEMPLATE_SIDS[("message_waiting", "sq")]
    # She writes: both wait no more, and go free-form before the answer to her message.
    sent = await line.she_writes("ok")
    relays = [t for t in sent[HER] if "Si jeni?" in t or "A jeni mirë?" in t]
    assert len(relays) == 2
    assert all(o[1] == "sent" for o in await line.outbox() if o[0] == "reply")


@SQLITE
async def test_a_coordinator_paged_on_whatsapp_takes_the_case_there(line: Line) -> None:
    """Beni takes alerts on WhatsApp: not heard from there for 24 hours, the page goes as the
    alert template with the reference; OK from WhatsApp accepts; replies follow there."""
    desk = line.desk
    await desk.add_coordinator("Beni", "durres", phone=COORDINATOR, lang="sq", whatsapp=True)
    for text in ("pershendetje", "po", "jo", "per veten", "durres"):
        await line.by_sms("+355691110099", text)
    sent = await line.by_sms("+355691110099", "jam ne rrezik")
    [page] = sent["whatsapp:" + COORDINATOR]
    ref = REF.search(page)
    assert ref is not None
    assert page == f"Përshëndetje. Kërkesa urgjente {ref.group(0)} ju pret.\n" + (
        f"Për ta marrë, përgjigjuni: OK {ref.group(0)}"
    )
    request = [r for r in line.twilio.created() if r.form["To"] == "whatsapp:" + COORDINATOR][-1]
    assert request.form["ContentSid"] == TEMPLATE_SIDS[("coordinator_alert", "sq")]
    assert COORDINATOR not in sent  # not by SMS as well
    sent = await line.coordinator_on_whatsapp(f"OK {ref.group(0)}")
    [taken] = sent["whatsapp:" + COORDINATOR]
    assert taken.startswith(f"{ref.group(0)} është i yti.")
    request = [r for r in line.twilio.created() if r.form["To"] == "whatsapp:" + COORDINATOR][-1]
    assert "ContentSid" not in request.form  # Beni wrote: inside his 24 hours now
    # A message without a template of its own (a relay, a notice) goes there while his 24
    # hours last, and by SMS after them rather than to a WhatsApp that would refuse it.
    for days, channel in ((0, "whatsapp"), (2, "sms")):
        desk.clock.advance(timedelta(days=days))
        async with desk.db.uow() as uow:
            beni = await uow.coordinators.find_by_urn("whatsapp:" + COORDINATOR)
            assert beni is not None
            sent_by = await context.send(uow, beni, "R-… shkruan: «…»", desk.clock())
        assert sent_by is not None and sent_by.channel == channel


@SQLITE
async def test_a_page_that_fails_on_whatsapp_goes_by_sms(line: Line) -> None:
    """The alert template refused for good (63003: not on WhatsApp): the sweep sends the
    whole page by SMS to the same coordinator, and WhatsApp is avoided for them after."""
    desk = line.desk
    await desk.add_coordinator("Beni", "durres", phone=COORDINATOR, lang="sq", whatsapp=True)
    for text in ("pershendetje", "po", "jo", "per veten", "durres"):
        await line.by_sms("+355691110099", text)
    line.twilio.fail_to("whatsapp:" + COORDINATOR, 63003)
    sent = await line.by_sms("+355691110099", "jam ne rrezik")
    assert "whatsapp:" + COORDINATOR not in sent and COORDINATOR not in sent
    await desk.pipeline.sweep_referrals()
    sent = await line.delivered()
    [page] = sent[COORDINATOR]
    assert page.startswith("URGJENT R-") and "OK R-" in page
    async with desk.db.uow() as uow:
        beni = await uow.coordinators.find_by_urn(f"tel:{COORDINATOR}")
    assert beni is not None and beni.failing_channel == "whatsapp"


@SQLITE
async def test_fshi_on_whatsapp_deletes_at_twilio_and_says_what_stays(
    line: Line, db: Database
) -> None:
    """FSHI: Twilio's copies deleted (hers and ours); she is told the chat stays on her phone."""
    clock = line.desk.clock
    await line.she_writes("pershendetje")
    await line.she_writes("FSHI")
    [done] = (await line.she_writes("po"))[HER]
    catalogs = line.desk.catalogs
    assert done == catalogs.text("sq", "erase.done") + "\n" + catalogs.text("sq", "erase.whatsapp")
    assert done.split("\n")[0] == "U fshi."  # the first line stays neutral
    kept = {str(m["sid"]) for m in line.twilio.log} | set(line.twilio.inbound)
    clock.advance(timedelta(minutes=3))
    await line.delivered()
    assert set(line.twilio.deleted) == kept and len(kept) == 6  # 3 hers, 3 ours
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(HER) is None


@SQLITE
async def test_fshi_deletes_the_nudge_at_twilio_too(line: Line, db: Database) -> None:
    """A relay outside her 24 hours went as "a message waits" (a template of its own SID):
    FSHI deletes that copy at Twilio as well as the relay and everything else."""
    ref = await registered(line)
    line.desk.clock.advance(timedelta(days=2))
    [nudge] = (await line.by_sms(COORDINATOR_PHONE, f"{ref} A jeni mirë?"))[HER]
    assert nudge == line.desk.catalogs.text("sq", "wa.tpl.waiting")
    await line.she_writes("FSHI")  # the relay goes now, then the question
    await line.she_writes("po")
    ours = {str(m["sid"]) for m in line.twilio.log if m["to"] == HER}
    line.desk.clock.advance(timedelta(minutes=3))
    await line.delivered()
    assert ours and ours <= set(line.twilio.deleted)  # the nudge's copy among them


@SQLITE
async def test_a_page_refused_with_63016_goes_by_sms(line: Line) -> None:
    """Beni wrote on WhatsApp today, so his page goes free-form; Twilio refuses it for the
    window after all (63016 in the status callback): the sweep sends it by SMS."""
    desk = line.desk
    await desk.add_coordinator("Beni", "durres", phone=COORDINATOR, lang="sq", whatsapp=True)
    await line.coordinator_on_whatsapp("RASTET")
    line.twilio.heard.clear()
    for text in ("pershendetje", "po", "jo", "per veten", "durres", "jam ne rrezik"):
        sent = await line.by_sms("+355691110099", text)
    assert "whatsapp:" + COORDINATOR not in sent and COORDINATOR not in sent
    [refused] = [m for m in line.twilio.log if m.get("_outside_window")]
    assert refused["to"] == "whatsapp:" + COORDINATOR and refused["error_code"] == 63016
    await desk.pipeline.sweep_referrals()
    [page] = (await line.delivered())[COORDINATOR]
    assert page.startswith("URGJENT R-")


@SQLITE
async def test_a_checkin_without_its_template_is_not_kept_for_later(line: Line) -> None:
    """No approved check-in template: outside her 24 hours the check-in is not sent and not
    kept (it would arrive after her next message and take it for its answer): unanswered."""
    await registered(line)
    whatsapp = line.app.sender.channels["whatsapp"]
    whatsapp.settings = whatsapp.settings.with_(whatsapp_templates=())
    assert HER not in await line.next_checkin()
    assert ("followup", "failed", "outside_24h") in await line.outbox()
    [hello] = (await line.she_writes("pershendetje"))[HER]  # nothing old comes first
    assert not hello.startswith("Përshëndetje, jemi ne përsëri.")
