"""Code words: someone else may hold her phone. Her word says it is her; her distress word
alerts her coordinator while our reply looks as usual (SMS and Telegram, real pipeline)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.followups import codewords
from bot.followups.scheduler import Scheduler
from bot.referral import cases as case_ops
from tests.auxil.channels_app import channels_app, fakes
from tests.followups.harness import FollowupDesk
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401
from tests.test_safe_times import CHAT, COORDINATOR, PERSON, Line

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
REGISTER = ["tung", "1", "20.11.2026", "nuk e di", "po", "3"]


@pytest.fixture
async def line(db, tmp_path: Path) -> AsyncIterator[Line]:
    desk = await FollowupDesk(db, trigger_flow="order_register").start()
    await desk.add_coordinator("Arta", "national", phone=COORDINATOR, lang="en")
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, desk.pipeline, desk.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Line(desk, app, twilio, telegram)


async def register(line: Line, say) -> str:
    """She registers her order with check-ins in the evening and both words; the coordinator
    takes the case. Its reference."""
    for text in [*REGISTER, "po", "Trëndafil", "kumbulla"]:
        await say(text)
    # Nobody was paged for a registration, so OK R-… would be refused (a coordinator acts only
    # on cases she was alerted for or of her municipality): the case is given to her directly.
    async with line.desk.db.uow() as uow:
        ref = (
            await uow.conn.execute(sa.text("SELECT reference FROM cases ORDER BY id DESC"))
        ).scalar()
        case = await uow.cases.get_by_reference(ref)
        arta = await uow.coordinators.find_by_urn(f"tel:{COORDINATOR}")
        await case_ops.accept(uow, case, arta.id, line.desk.clock())
        await uow.commit()
    return ref


async def next_checkin(line: Line) -> dict[str, list[str]]:
    """Move the clock to the next due check-in and run the follow-ups' sweep."""
    due = min(r.due_at for r in await line.desk.checkins() if r.status == "pending")
    line.desk.clock.now = max(line.desk.clock(), due)
    await Scheduler(line.desk.pipeline).sweep()
    return await line.delivered()


async def test_her_distress_word_alerts_the_coordinator_and_the_reply_looks_as_usual(
    line: Line,
) -> None:
    ref = await register(line, lambda t: line.sms(PERSON, t))
    async with line.desk.db.uow() as uow:
        raw = (await uow.conn.execute(sa.text("SELECT * FROM contacts"))).all()
    assert not any(b"trendafil" in bytes(v) or b"kumbull" in bytes(v) for r in raw for v in r
                   if isinstance(v, (bytes, memoryview)))  # fmt: skip
    sent = await next_checkin(line)
    [hello] = sent[PERSON]
    assert hello.startswith("Përshëndetje, jemi ne përsëri.")
    sent = await line.sms(PERSON, "po kumbulla")
    [question] = sent[PERSON]
    assert question.startswith(line.desk.catalogs.text("sq", "fu.order.ask"))
    [alert] = sent[COORDINATOR]
    assert ref in alert and "distress word" in alert
    assert "kumbull" not in alert.lower()  # the word itself never leaves her row
    sent = await line.sms(PERSON, "1")
    assert list(sent) == [PERSON]  # no second alert, no "without the code word" notice


async def test_her_distress_word_at_any_time_pages_the_coordinator(line: Line) -> None:
    """Outside a check-in too: the word alone starts an ordinary conversation on her screen."""
    ref = await register(line, lambda t: line.sms(PERSON, t))
    line.desk.clock.advance(timedelta(days=2))  # the registration's conversation is over
    sent = await line.sms(PERSON, "Kumbulla")
    [alert] = sent[COORDINATOR]
    assert ref in alert and "distress word" in alert
    [reply] = sent[PERSON]
    assert reply.startswith("Çfarë urdhri keni?")  # what any new message gets here
    sent = await line.sms(PERSON, "mirë")  # an ordinary message: nothing to the coordinator
    assert COORDINATOR not in sent


async def test_a_checkin_answered_without_her_word_tells_the_coordinator_on_telegram(
    line: Line,
) -> None:
    me = f"telegram:{CHAT}"
    ref = await register(line, line.telegram_says)
    assert me in await next_checkin(line)
    await line.telegram_says("po")
    sent = await line.telegram_says("1")  # all is well, but without her word
    assert sent[COORDINATOR] == [
        f"{ref}: a check-in was answered without their secret word. Someone else may have "
        "their phone."
    ]
    assert me in await next_checkin(line)
    await line.telegram_says("po Trendafil")  # with her word, typed without ë
    sent = await line.telegram_says("1")
    assert COORDINATOR not in sent


async def test_fshi_keeps_what_her_safety_needs_and_says_so(line: Line) -> None:
    ref = await register(line, lambda t: line.sms(PERSON, t))
    await line.sms(COORDINATOR, f"SHENIM {ref} Lives with her sister in Durrës.")
    sent = await line.sms(PERSON, "FSHI")
    assert sent[PERSON][0].startswith("Të fshijmë gjithçka që na keni shkruar?")
    assert "rasti, shënimet e koordinatorit dhe urdhri" in sent[PERSON][0]
    sent = await line.sms(PERSON, "po")
    assert sent[PERSON][0] == ("U fshi.\nRasti, nëse ka, mbetet për sigurinë tuaj. Fshini bisedën.")
    async with line.desk.db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        notes = [e.data for e in await uow.cases.events(case.id) if e.kind == "note"]
        [plan] = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plan.order_id)
        words = (
            await uow.conn.execute(sa.text("SELECT code_word_enc, distress_word_enc FROM contacts"))
        ).all()
    assert case.contact_id is None
    assert [n["text"] for n in notes] == ["Lives with her sister in Durrës."]
    assert order.issued_on is not None and order.kind == "umm"
    assert all(w == (None, None) for w in words)  # her code words are gone


def test_reading_a_message_for_the_words() -> None:
    assert codewords.word_of("Trëndafil i kuq") == "trendafil"
    assert codewords.word_of("po") is None and codewords.word_of("123") is None
    assert codewords.word_of(None) is None
    code, distress = codewords.word_of("Trëndafil"), codewords.word_of("kumbulla")
    assert codewords.read("po trendafil", code, distress) == codewords.Reading("po", gave_code=True)
    assert codewords.read("KUMBULLA", code, distress) == codewords.Reading("1", gave_distress=True)
    assert codewords.read("mire", code, distress) == codewords.Reading("mire")
