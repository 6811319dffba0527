"""Locked screens: the first line of every message the helpline starts says nothing of violence,
police, orders, coordinators or cases, in Albanian and in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.channels.twilio_whatsapp import TEMPLATES, template_text
from bot.engine.normalise import fold
from bot.flows.library import FlowLibrary
from bot.followups.service import MILESTONE_FLOW, ORDER_FLOW
from bot.i18n import Catalogs
from bot.referral import texts as T
from bot.safe_times import TPL_CHECKIN, TPL_WAITING

ROOT = Path(__file__).resolve().parents[1]
# Folded (no ë/ç), lower case; a word that starts with one of these is forbidden.
FORBIDDEN = (
    # Albanian
    "dhun", "rrah", "rreh", "polic", "urdh", "koordinator", "rast", "rrezik", "abuz", "strehim",
    "gjykat", "mbrojtj", "sos", "kercen", "perdhun", "vras",
    # English
    "violen", "abus", "beat", "police", "order", "coordinator", "case", "danger", "shelter",
    "court", "protection", "threat", "rape", "kill",
)  # fmt: skip
CASE_REFERENCE = re.compile(r"\b[A-Z]-[0-9A-Z]{4,}\b")


def first_question(library: FlowLibrary, name: str) -> list[str]:
    """The texts a flow the helpline starts shows first (its first say or question)."""
    flow = library.get(name)
    node = flow.node(flow.start)
    says = [str(a.args.get("text")) for a in node.actions if a.kind == "say"]
    return says[:1] or ([node.wait.text] if node.wait else [])


def started_msgids() -> list[str]:
    """Every text the helpline sends without her having just written, and the last texts a
    conversation leaves on her screen."""
    library = FlowLibrary(ROOT / "bot" / "flows")
    assert library.reload().ok
    return [
        T.SURVIVOR_ACCEPTED,  # a coordinator took her case (sent in her safe time)
        T.RELAY_TO_SURVIVOR,  # a coordinator writes to her
        T.SERVICES_HEADER,  # services she agreed to hear about
        "wa.tpl.waiting",  # WhatsApp, outside her 24 hours: "a message waits for you"
        *first_question(library, ORDER_FLOW),  # a check-in while an order lasts
        *first_question(library, MILESTONE_FLOW),  # a check-in on an integration plan
        # What stays on the screen after a conversation ends.
        "fc.bye_case",
        "fc.bye",
        "fc.later_ok",
        "exit.done",
        "erase.done",
    ]


def offending(line: str) -> list[str]:
    """The forbidden words (or a case reference) in one line."""
    words = re.findall(r"[a-z]+", fold(line).lower())
    found = [w for w in words if w.startswith(FORBIDDEN)]
    if CASE_REFERENCE.search(line) or "{" in line:  # a placeholder can hold a reference
        found.append(line)
    return found


@pytest.mark.parametrize("language", ["sq", "en"])
@pytest.mark.parametrize("msgid", started_msgids())
def test_the_first_line_of_what_we_start_is_neutral(msgid: str, language: str) -> None:
    text = Catalogs().text(language, msgid)
    assert text != msgid, f"{msgid} has no {language} text"
    first = text.split("\n", 1)[0]
    assert first.strip(), f"{msgid}: the first line is empty"
    assert offending(first) == [], f"{msgid} ({language}) first line: {first!r}"


def test_the_word_list_catches_what_was_there_before() -> None:
    """The texts as they were before issue 16 fail the check (so the check can fail)."""
    assert offending("Koordinatori: {text}")
    assert offending("Coordinator: Are you safe?")
    assert offending("Faleminderit. Numri i rastit tuaj: R-4821.")
    assert offending("Thank you. Your case number is R-4821.")
    assert offending("Një koordinator e ka marrë kërkesën tënde")
    assert offending("Policia: urdhri u shkel") and offending("dhunë")
    assert offending("Përshëndetje.") == [] and offending("Hello.") == []


# Words that would say what the sender is, anywhere in a template she gets on WhatsApp (a
# template is what arrives when she has not written for a day: the phone may be anybody's).
REVEALING = ("ndihm", "linj", "help", "support", "mbeshtet", "sigurt", "safe")


@pytest.mark.parametrize("language", ["sq", "en"])
@pytest.mark.parametrize("name", [TPL_CHECKIN, TPL_WAITING])
def test_whatsapp_templates_to_her_are_neutral_throughout(name: str, language: str) -> None:
    """Not just the first line: the whole approved text of what goes to her outside the window
    (the coordinator's alert template goes to a coordinator)."""
    catalogs = Catalogs()
    text = template_text(TEMPLATES[name], lambda msgid: catalogs.text(language, msgid))
    assert "{" not in text.replace("{{", "").replace("}}", "")  # no unfilled placeholder
    for line in text.splitlines():
        assert offending(line) == [], line
        words = re.findall(r"[a-z]+", fold(line).lower())
        assert not [w for w in words if w.startswith(REVEALING)], line
    assert not TEMPLATES[name].variables  # nothing of hers or of a case can be put in


def test_the_revealing_words_would_be_caught() -> None:
    assert any(w.startswith(REVEALING) for w in ["ndihme", "linja", "helpline"])
