"""Retention (HELPLINE_RETENTION_DAYS) and erasure (FSHI): personal data goes, figures stay."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.retention import run_retention, schedule_retention
from tests.referral.harness import SURVIVOR, Desk
from tests.security.leaks import decrypted_text, found, phone_forms
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

ARTA = "tel:+355692220001"
OLD = "tel:+355691110071"  # wrote long ago; her case was closed long ago
WAITING = "tel:+355691110072"  # wrote long ago; her case is still open
RECENT = "tel:+355691110073"  # writes today
OLD_STORY = "ai më mbyll në shtëpi çdo të shtunë"
WAITING_STORY = "nuk kam ku të shkoj me fëmijët"
RECENT_STORY = "sot erdhi te puna ime"


async def _case(desk: Desk, urn: str, story: str) -> str:
    """hi → Tirana → yes to shelter (a case) → danger (Arta paged) → a free-text story."""
    await desk.say("hi", urn)
    await desk.say("Tirana", urn)
    await desk.say("po", urn)
    sent = await desk.say("më rreh", urn)
    ref = re.search(r"R-[0-9A-Z]{4,}", " ".join(m.text for m in sent if m.urn == ARTA)).group(0)
    await desk.say(story, urn)
    return ref


@pytest.fixture
async def desk(db):
    desk = await Desk(db).start()
    await desk.add_coordinator("Arta Leka", "tirane", phone=ARTA[4:])
    return desk


async def test_retention_purges_old_words_forgets_people_and_keeps_figures(desk, db) -> None:
    old_ref = await _case(desk, OLD, OLD_STORY)
    await desk.say(f"OK {old_ref}", ARTA)
    await desk.say(f"SHENIM {old_ref} burri quhet Dritan, punon në Durrës", ARTA)
    await desk.say(f"MBYLL {old_ref} zgjidhur", ARTA)
    waiting_ref = await _case(desk, WAITING, WAITING_STORY)
    desk.clock.advance(timedelta(days=200))
    recent_ref = await _case(desk, RECENT, RECENT_STORY)

    report = await run_retention(db, 180, desk.clock())

    # Forgotten: her, and Arta's contact row (coordinators stay in their own table).
    assert report.cases_anonymised == 1 and report.contacts_forgotten == 2
    assert report.messages_purged > 0 and report.sessions_deleted >= 2
    readable = await decrypted_text(db)
    # Old words are gone, wherever they were (messages, sessions, notes, outbox); today's stay.
    assert found(readable, [OLD_STORY, WAITING_STORY, "Dritan"]) == []
    assert found(readable, [RECENT_STORY]) == [RECENT_STORY]
    assert found(readable, phone_forms(OLD[4:])) == []
    async with db.uow() as uow:
        old = await uow.cases.get_by_reference(old_ref)
        waiting = await uow.cases.get_by_reference(waiting_ref)
        recent = await uow.cases.get_by_reference(recent_ref)
        assert await uow.contacts.find_by_urn(OLD) is None  # forgotten: a stranger if she writes
        kept = await uow.contacts.find_by_urn(WAITING)  # an open case: still reachable
        audit = await uow.audit.list_all()
        purged = (
            await uow.conn.execute(sa.text("SELECT count(*) FROM messages WHERE purged_at IS NULL"))
        ).scalar_one()
    # The closed case keeps its figures, not the person; the open one keeps both.
    assert (old.contact_id, old.municipality, old.status) == (None, "tirane", "closed")
    assert old.consent == {"shelter": True}
    assert waiting.contact_id == kept.id and recent.contact_id is not None
    assert purged > 0  # today's messages are untouched
    [entry] = [e for e in audit if e.action == "retention_applied"]
    assert entry.data["days"] == 180 and entry.data["contacts_forgotten"] == 2

    # A second run the same day finds nothing left to do.
    again = await run_retention(db, 180, desk.clock())
    assert again.total == 0


async def test_retention_zero_keeps_everything(desk, db) -> None:
    await _case(desk, OLD, OLD_STORY)
    desk.clock.advance(timedelta(days=4000))
    assert (await run_retention(db, 0, desk.clock())).total == 0
    assert found(await decrypted_text(db), [OLD_STORY]) == [OLD_STORY]


def test_the_retention_job_is_registered_daily() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.daily: list[tuple[str, str]] = []

        def add_daily(self, func, *, at: str, id: str) -> None:
            self.daily.append((at, id))

    scheduler = Recorder()
    schedule_retention(scheduler, db=None, days=30, clock=lambda: None)
    assert scheduler.daily == [("03:30", "retention")]
    off = Recorder()
    schedule_retention(off, db=None, days=0, clock=lambda: None)
    assert off.daily == []


async def test_fshi_erases_her_everywhere_keeps_the_figures_and_is_audited(desk, db) -> None:
    ref = await _case(desk, SURVIVOR, OLD_STORY)
    await desk.say(f"OK {ref}", ARTA)
    await desk.say(f"{ref} A je e sigurt tani?", ARTA)  # relayed to her
    await desk.say("po, jam te motra ime Elona")  # relayed to Arta
    await desk.say(f"SHENIM {ref} motra Elona e strehon", ARTA)
    await desk.say(f"NUMRI {ref}", ARTA)  # her number revealed, audited
    await desk.say("FSHI")
    await desk.say("po")

    readable = await decrypted_text(db)
    # Her number, her words and the words about her are gone; what is left to send (the
    # goodbye, the deletion at Twilio) is all that still names her address.
    assert found(readable, [OLD_STORY, "jam te motra", "A je e sigurt"]) == []
    # The coordinator's note stays with the case: her safety needs it (issue 16).
    assert found(readable, ["motra Elona e strehon"]) == ["motra Elona e strehon"]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        events = [e.kind for e in await uow.cases.events(case.id)]
        audit = await uow.audit.list_all()
        pending = (
            await uow.conn.execute(
                sa.text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'leased')")
            )
        ).scalar_one()
    assert case.contact_id is None and case.municipality == "tirane"
    assert {"opened", "accepted", "note", "number_revealed"} <= set(events)
    assert [e.action for e in audit] == ["number_revealed", "contact_erased"]
    assert audit[-1].case_id == case.id and audit[-1].data == {"by": "person", "channel": "sms"}
    assert pending >= 1
    desk.clock.advance(timedelta(minutes=3))  # the deletion at Twilio waits two minutes
    await desk.drain()  # the goodbye and the deletion go; then nothing at all of hers is left
    assert found(await decrypted_text(db), phone_forms(SURVIVOR[4:])) == []


async def test_the_running_helpline_schedules_retention_daily(
    sqlite_template, tmp_path, monkeypatch
) -> None:
    """The real app, started: its scheduler holds the daily retention job."""
    import shutil

    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import build_app
    from bot.config import load_settings
    from bot.web.keys import SCHEDULER
    from tests.store.fixtures import DATA_KEYS, SECRET_KEY

    path = tmp_path / "helpline.db"
    shutil.copyfile(sqlite_template, path)
    settings = load_settings(
        env={
            "HELPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "HELPLINE_RETENTION_DAYS": "90",
        }
    )
    app = build_app(settings)
    async with TestClient(TestServer(app)) as client:
        job = app[SCHEDULER].aps.get_job("retention")
        assert job is not None and "hour='3', minute='30'" in str(job.trigger)
        async with client.get("/simulator") as page:  # and its pages keep their own CSP
            assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Content-Type-Options"] == "nosniff"
