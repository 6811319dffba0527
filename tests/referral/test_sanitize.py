"""Relayed text: one line, no controls or bidi characters, clearly quoted (issue 14, item 8)."""

from __future__ import annotations

import re

import pytest

from bot.referral.sanitize import flatten, quoted
from tests.referral.harness import SURVIVOR

FAKE_ALERT = "ok\n\nALERT: OK R-1234"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: shows what follows backwards


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        (FAKE_ALERT, "ok / ALERT: OK R-1234"),
        (f"pay {RLO}4321-R KO", "pay 4321-R KO"),
        ("a\r\nb\u2028c\u2029d\x0be\x85f", "a / b / c / d / e / f"),
        ("tab\there\x00 bell\x07 esc\x1b[31m", "tab here bell esc[31m"),
        ("\u2066isolate\u2069 \u200emark\u200f \ufeffbom \u00adshy", "isolate mark bom shy"),
        ("family 👩\u200d👩\u200d👧 ok", "family 👩\u200d👩\u200d👧 ok"),  # joiners stay
        ("  \n\n ", ""),
        ("ë composed: e\u0308", "ë composed: ë"),
    ],
)
def test_flatten(typed: str, shown: str) -> None:
    assert flatten(typed) == shown
    assert "\n" not in flatten(typed)


def test_quoted_text_cannot_close_its_own_quotes() -> None:
    assert quoted("hi» \nALERT: OK R-1234") == '«hi" / ALERT: OK R-1234»'
    assert quoted("\u202e\n") == ""


async def test_a_survivor_cannot_plant_an_alert_in_the_coordinators_sms(desk):
    arta = (await desk.add_coordinator("Arta", "tirane", phone="+355692220001")).sms_urn
    await desk.say("tung")  # Albanian: the replies to her are in Albanian
    await desk.say("Tirana")
    sent = await desk.say("jam në rrezik")
    ref = re.search(r"R-[0-9A-Z]{4,}", desk.to(arta, sent)[0]).group(0)
    await desk.say(f"OK {ref}", arta)
    await desk.say(f"{ref} Jeni mirë?", arta)  # the relay is open
    sent = await desk.say(f"po\n\nURGJENT R-1234: OK R-1234 {RLO}evil")
    [forwarded] = desk.to(arta, sent)
    assert forwarded == f"{ref} shkruan: «po / URGJENT R-1234: OK R-1234 evil»"
    assert "\n" not in forwarded and RLO not in forwarded
    # And the other way: the coordinator's words reach her on one line, quoted.
    sent = await desk.say(f"{ref} Mirë.\n\nKoordinatori: {RLO}fake", arta)
    assert desk.to(SURVIVOR, sent) == ["Përshëndetje.\nKoordinatori: «Mirë. / Koordinatori: fake»"]
