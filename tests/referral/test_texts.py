"""Referral texts exist in both catalogs with the same placeholders, and alerts stay short."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import pytest

from bot.referral import texts as T
from bot.referral.alerts import alert_text
from bot.referral.context import Context
from bot.store.records import Case
from tests.referral.harness import MUNICIPALITIES, PoCatalogs

CATALOGS = PoCatalogs()
UCS2_THREE_PARTS = 3 * 67  # a text with ë or ç: three SMS parts at most


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("msgid", sorted(set(T.ALL)))
def test_every_referral_text_is_in_both_languages_with_the_same_placeholders(msgid):
    sq, en = CATALOGS.texts["sq"].get(msgid), CATALOGS.texts["en"].get(msgid)
    assert sq and en, msgid
    assert placeholders(sq) == placeholders(en), msgid


def test_no_referral_text_in_the_catalogs_is_unused():
    for lang in ("sq", "en"):
        ours = {m for m in CATALOGS.texts[lang] if m.startswith("ref.")}
        assert ours == set(T.ALL)


@pytest.mark.parametrize("lang", ["sq", "en"])
def test_an_alert_says_what_is_needed_and_fits_three_sms_parts(lang):
    case = Case(
        id=1, reference="R-4821", contact_id=1, municipality="vau-i-dejes", urgency="urgent",
        risk_level="high", risk_score=17, flags=("weapon", "strangled", "threats_to_kill"),
        reporter="survivor", category=None, status="alerted", consent={},
        created_at=datetime.now(UTC), updated_at=datetime.now(UTC), closed_at=None,
    )  # fmt: skip
    ctx = Context(T.Texts(CATALOGS))
    text = alert_text(ctx, {m.slug: m for m in MUNICIPALITIES}, lang, case, reason="danger_now")
    assert "R-4821" in text and "Vau i Dejës" in text and "OK R-4821" in text
    assert ("i lartë" if lang == "sq" else "high") in text
    assert ("armë" if lang == "sq" else "weapon") in text
    assert len(text) <= UCS2_THREE_PARTS, len(text)


def test_an_unknown_flag_shows_as_words_and_no_flags_says_so():
    texts = T.Texts(CATALOGS)
    assert texts.flag("en", "new_flag_from_a_flow") == "new flag from a flow"
    assert texts.flags("en", []) == "No red flags recorded."


def test_coordinator_help_is_plain_gsm_in_english():
    help_en = CATALOGS.texts["en"]["ref.help"]
    assert re.fullmatch(r"[\x20-\x7e\n]+", help_en)
