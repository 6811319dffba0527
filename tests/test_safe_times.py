"""Safe times: what the helpline starts waits for her window, or for her to write again."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import safe_times
from tests.auxil import telegram_payloads as tgp
from tests.auxil.channels_app import ChannelsApp, channels_app, fakes
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.followups.harness import FollowupDesk
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

PERSON = "+355691110077"
CHAT = 7770001
COORDINATOR = "+355692220077"

# PTB 22 warns inside RetryAfter's own constructor; the channel reads both value types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


class Line:
    """The helpline on the shipped flows behind fake Twilio and fake Telegram."""

    def __init__(
        self, desk: FollowupDesk, app: ChannelsApp, twilio: FakeTwilio, telegram: FakeTelegram
    ) -> None:
        self.desk, self.app, self.twilio, self.telegram = desk, app, twilio, telegram
        self._updates = itertools.count(1)
        self._messages = itertools.count(500)
        self._seen = (0, 0)

    async def delivered(self) -> dict[str, list[str]]:
        """Everything sent since the last look, by recipient (tel number or telegram chat)."""
        await self.app.deliver()
        sms, tg = self.twilio.created(), self.telegram.calls_to("sendMessage")
        out: dict[str, list[str]] = {}
        for r in sms[self._seen[0] :]:
            out.setdefault(r.form["To"], []).append(r.form["Body"])
        for c in tg[self._seen[1] :]:
            out.setdefault(f"telegram:{c['chat_id']}", []).append(c["text"])
        self._seen = (len(sms), len(tg))
        return out

    async def sms(self, from_: str, body: str) -> dict[str, list[str]]:
        await self.app.sms(from_, body)
        return await self.delivered()

    async def telegram_says(self, body: str, chat: int = CHAT) -> dict[str, list[str]]:
        update = tgp.update(
            next(self._updates), message=tgp.message(next(self._messages), chat, text=body)
        )
        await self.app.update(update)
        return await self.delivered()

    async def at(self, when: datetime) -> dict[str, list[str]]:
        """Move the clock to `when`, run the sweeps, deliver."""
        self.desk.clock.now = when
        await self.desk.pipeline.sweep_fires()
        return await self.delivered()


@pytest.fixture
async def line(db, tmp_path: Path) -> AsyncIterator[Line]:
    desk = await FollowupDesk(db).start()
    await desk.add_coordinator("Arta", "national", phone=COORDINATOR, lang="en")
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, desk.pipeline, desk.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Line(desk, app, twilio, telegram)


TIRANE_17 = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 17:00 in Tirana (CET)


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


async def danger_after_choosing(line: Line, answers: list[str], say: Any) -> str:
    """She chooses when texting is safe, then writes a danger phrase; the case reference."""
    for text in ["Përshëndetje", "shqip", "jo", *answers]:
        await say(text)
    sent = await say("jam në rrezik")
    [alert] = sent[COORDINATOR]
    return re.search(r"R-[0-9A-Z]{4,}", alert).group(0), alert


async def test_not_safe_evening_by_sms_waits_for_her_window(line: Line) -> None:
    """She picks the evening; a coordinator accepts and writes at 10:00: nothing reaches her
    phone until 17:00 in Tirana, then both, each opening with a neutral line."""
    ref, alert = await danger_after_choosing(line, ["mbrëmje"], lambda t: line.sms(PERSON, t))
    # The page says texting is not safe and when she can be reached.
    assert "Texting this person is not safe now. Safe time: evening, 17:00-21:00" in alert
    assert line.desk.clock().astimezone(safe_times.zone("Europe/Tirane")).hour == 10

    sent = await line.sms(COORDINATOR, f"OK {ref}")
    assert PERSON not in sent
    assert any("Safe time: evening" in t for t in sent[COORDINATOR])
    sent = await line.sms(COORDINATOR, f"{ref} Can we talk tonight?")
    assert sent == {
        COORDINATOR: [
            f"Kept for {ref}, not sent yet.\nTexting this person is not safe now. "
            "Safe time: evening, 17:00-21:00; we hold messages until then."
        ]
    }
    assert await line.at(TIRANE_17 - timedelta(minutes=1)) == {}
    sent = await line.at(TIRANE_17)
    assert sent == {
        PERSON: [
            "Përshëndetje.\nNjë koordinator e ka marrë kërkesën tuaj dhe do t'ju shkruajë "
            "këtu së shpejti.",
            "Përshëndetje.\nKoordinatori: «Can we talk tonight?»",
        ]
    }


async def test_i_will_write_on_telegram_holds_until_she_writes(line: Line) -> None:
    """She says she will write herself: the acceptance waits through the next day and through
    a quick exit; when she writes again it goes, before the answer to what she wrote."""
    me = f"telegram:{CHAT}"
    ref, alert = await danger_after_choosing(line, ["4"], line.telegram_says)
    assert "Texting this person is not safe: we send nothing until they write to us again" in alert
    sent = await line.sms(COORDINATOR, f"OK {ref}")
    assert me not in sent
    assert await line.at(line.desk.clock() + timedelta(days=1, hours=8)) == {}
    sent = await line.telegram_says("DIL")
    assert sent[me] == ["OK."]  # the quick exit's answer only: nothing held goes with it
    assert await line.at(line.desk.clock() + timedelta(hours=2)) == {}
    sent = await line.telegram_says("Përshëndetje")
    [accepted, answer] = sent[me]
    assert accepted.startswith("Përshëndetje.\nNjë koordinator e ka marrë kërkesën")
    assert answer  # the answer to what she wrote, after what waited for her


async def test_a_direct_answer_goes_at_once_and_yes_lifts_the_window(line: Line) -> None:
    """Answers to what she writes are never held; saying it is safe now lifts the window."""
    for text in ["Përshëndetje", "shqip", "jo"]:
        await line.sms(PERSON, text)
    assert PERSON in await line.sms(PERSON, "mbrëmje")  # at 10:00, outside her window
    await line.at(line.desk.clock() + timedelta(days=1))  # the conversation is over
    for text in ["Përshëndetje", "po"]:
        await line.sms(PERSON, text)
    sent = await line.sms(PERSON, "jam në rrezik")
    [alert] = sent[COORDINATOR]
    ref = re.search(r"R-[0-9A-Z]{4,}", alert).group(0)
    assert "not safe" not in alert
    sent = await line.sms(COORDINATOR, f"OK {ref}")
    assert first_line(sent[PERSON][0]) == "Përshëndetje."


def test_send_at_snaps_to_her_window_or_holds() -> None:
    ten = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Tirana and Prishtina
    evening = {"safe_window": "evening"}
    assert safe_times.send_at(evening, "Europe/Tirane", ten) == TIRANE_17
    assert safe_times.send_at(evening, "Europe/Belgrade", ten) == TIRANE_17
    late = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 22:00: tomorrow's evening
    assert safe_times.send_at(evening, "Europe/Tirane", late) == TIRANE_17 + timedelta(days=1)
    # Summer time: 17:00 in Prishtina is 15:00 UTC.
    june = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert safe_times.send_at(evening, "Europe/Belgrade", june) == datetime(
        2026, 6, 1, 15, 0, tzinfo=UTC
    )
    assert safe_times.send_at({"safe_window": "any"}, "Europe/Tirane", ten) == safe_times.HELD
    assert safe_times.is_held(safe_times.HELD)
    for fields in ({}, {"safe_window": "now"}):
        assert safe_times.send_at(fields, "Europe/Tirane", ten) == ten


def test_her_time_zone_is_her_municipality_then_her_country() -> None:
    class Place:
        tz = "Europe/Belgrade"

    assert safe_times.zone_of("prishtine", {"prishtine": Place()}) == "Europe/Belgrade"
    assert safe_times.zone_of(None, {}, "tel:+38344123456") == "Europe/Belgrade"
    assert safe_times.zone_of(None, {}, "tel:+355691234567") == "Europe/Tirane"


async def test_check_ins_wait_while_she_asked_us_to_wait_for_her(line: Line) -> None:
    """ "I'll write myself": an order's check-ins are not sent; each is put off a day."""
    from bot.followups.scheduler import Scheduler

    ref, _ = await danger_after_choosing(line, ["4"], lambda t: line.sms(PERSON, t))
    await line.sms(COORDINATOR, f"OK {ref}")
    await line.sms(COORDINATOR, f"ORDER {ref} UM 23.11.2026")
    for _ in range(4):
        due = min(r.due_at for r in await line.desk.checkins() if r.status == "pending")
        line.desk.clock.now = due
        await Scheduler(line.desk.pipeline).sweep()
        assert PERSON not in await line.delivered()
    [row] = [r for r in await line.desk.checkins() if r.status == "pending"]
    assert row.tries == 0 and row.deferrals >= 3


TIMER_FLOW = """
flow: first_contact
start: when
nodes:
  when:
    ask: t.when
    router: options
    options:
      - {value: evening, label: t.evening, words: [evening]}
    field: safe_window
    routes:
      evening: story
  story:
    ask: t.story
    router: text
    timeout: PT1H
    routes:
      any: {goto: null}
      timeout: nudge
  nudge:
    do:
      - say: t.nudge
    end: completed
"""


async def test_what_a_timer_says_waits_for_her_window_too(db, tmp_path: Path) -> None:
    """A flow that speaks when a question times out starts a message: it waits for her window."""
    import shutil

    from tests.pipeline_harness import Harness

    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).parent / "referral" / "flows", flows)
    (flows / "first_contact.yaml").write_text(TIMER_FLOW, encoding="utf-8")
    talk = await Harness(db, flows_dir=flows).start()
    assert await talk.say("hello", urn="tel:+355691110078", channel="sms")
    await talk.say("evening", urn="tel:+355691110078", channel="sms")  # 10:00 in Tirana
    talk.clock.advance(timedelta(hours=1))
    await talk.pipeline.sweep_fires()
    while await talk.sender.drain_once():
        pass
    assert not [m for m in talk.channel.sent if m.text == "t.nudge"]
    talk.clock.now = TIRANE_17
    while await talk.sender.drain_once():
        pass
    assert [m.text for m in talk.channel.sent][-1] == "t.nudge"


async def test_her_answer_to_a_relay_kept_for_her_window_reaches_the_coordinator(
    line: Line,
) -> None:
    """The relay stays open from when it reaches her: her answer a day later still goes to
    the coordinator (24 hours from the coordinator's message, it would not)."""
    ref, _ = await danger_after_choosing(line, ["mbrëmje"], lambda t: line.sms(PERSON, t))
    await line.sms(COORDINATOR, f"OK {ref}")
    line.desk.clock.now = TIRANE_17 - timedelta(hours=1)
    await line.sms(COORDINATOR, f"{ref} Can we talk tonight?")
    assert PERSON in await line.at(TIRANE_17 + timedelta(hours=23, minutes=30))  # read late
    sent = await line.sms(PERSON, "Po, pas orës 8.")
    assert sent[COORDINATOR] == [f"{ref} writes: «Po, pas orës 8.»"]


async def test_her_first_words_after_a_relay_held_until_she_writes_reach_the_coordinator(
    line: Line,
) -> None:
    """Walkthrough: she said she would write herself; the coordinator's question waited for
    her. When she wrote again more than a day later, the question reached her but her words
    went to the bot (which asked "is it safe to text?" over the coordinator), not to them."""
    ref, _ = await danger_after_choosing(line, ["4"], lambda t: line.sms(PERSON, t))
    await line.sms(COORDINATOR, f"OK {ref}")
    await line.sms(COORDINATOR, f"{ref} Are you safe?")
    assert await line.at(line.desk.clock() + timedelta(hours=30)) == {}
    sent = await line.sms(PERSON, "tani mundem")
    assert sent[COORDINATOR] == [f"{ref} writes: «tani mundem»"]
    assert [first_line(t) for t in sent[PERSON]] == ["Përshëndetje.", "Përshëndetje."]
    assert sent[PERSON][1].endswith("Koordinatori: «Are you safe?»")
    # The relay then stays open a whole window from when it reached her.
    sent = await line.sms(PERSON, "po, jam vetem")
    assert sent == {COORDINATOR: [f"{ref} writes: «po, jam vetem»"]}
