"""The first exchanges (her first message, the first_contact questions, the screening) fit in
few SMS parts, counted as they are sent: one turn's texts joined, Albanian not folded (one ë
makes the whole SMS UCS-2: 70 characters, 67 a part when split), with Albania's numbers.

Why 3 parts (201 UCS-2 characters) for one step: the opening must carry the line that the chat
stays between us, how to delete the thread and the two commands (DIL, FSHI), and the question
whether it is safe to text now with its options. In Albanian that is about 190 characters: it
does not fit 2 parts (134) without dropping one of them. Three is also first_contact's promise
for danger ("only what matters, within three SMS parts"), and the emergency numbers must stay.

Why 4 (268) for a turn that carries two steps at once: a keyword's own answer ahead of the
whole opening ("njeri" as a first message), the screening's result ahead of the menu of the 8
services she may consent to (each a choice we must not drop), and a witness's advice ahead of
the close when a coordinator was already paged, and the opening after a first message that asked
how to get a protection order (one line that we will answer it after two safety questions), and
a witness writing again while her case is open: role and municipality are not asked again, so
the witness's advice and the close follow the safe-to-text or danger answer in the same turn.
Danger as a first message stays at 3.
"""

from __future__ import annotations

import re

import pytest

from bot.i18n_tools import ReplyRow, reply_rows

ONE_STEP = 3
TWO_STEPS = 4
TWO_STEP_ENTRIES = re.compile(
    r"^((talk_to_person|child|erase|language|safety) keyword, first message"
    r"|question, first message"
    r"|first_contact/role: witness"
    r"|first_contact/(safe_now|danger_now): yes"
    r"|first_contact/municipality: .*"
    r"|screening/abuser_suicide: .*)$"
)
FIRST_EXCHANGES = re.compile(
    r"^(first message|question, first message|\w+ keyword, first message|first_contact/"
    r"|screening/)"
)


@pytest.fixture(scope="module")
def rows() -> list[ReplyRow]:
    return [r for r in reply_rows() if FIRST_EXCHANGES.match(r.entry)]


def allowed(entry: str) -> int:
    return TWO_STEPS if TWO_STEP_ENTRIES.match(entry) else ONE_STEP


def test_every_reply_of_the_first_exchanges_fits_its_parts(rows: list[ReplyRow]) -> None:
    assert len(rows) > 40  # the walk reached the screening, not only the opening
    too_long = [
        f"{r.entry}: sq {r.sq}, en {r.en} > {allowed(r.entry)} ({' + '.join(r.messages)})"
        for r in rows
        if max(r.sq, r.en) > allowed(r.entry)
    ]
    assert too_long == []
    # Shorter, not poorer: the opening and danger keep their safety lines within three.
    by_entry = {r.entry: r for r in rows}
    for entry in ("first message", "danger keyword, first message"):
        row = by_entry[entry]
        assert row.sq <= ONE_STEP and row.en <= ONE_STEP, row
        assert "fc.privacy" in row.messages and "fc.safe_now" in row.messages
    assert "danger.call" in by_entry["danger keyword, first message"].messages


def test_the_privacy_line_says_the_same_in_both_languages() -> None:
    from bot.i18n import Catalogs

    catalogs = Catalogs()
    sq, en = catalogs.shipped("sq", "fc.privacy") or "", catalogs.shipped("en", "fc.privacy") or ""
    assert "mes nesh" in sq and "between us" in en  # the chat is confidential
    assert "Fshini mesazhet" in sq and "Delete these messages" in en
    assert "DIL" in sq and "FSHI" in sq and "EXIT" in en and "DELETE" in en


def test_a_text_without_a_country_names_both_bashki_and_komune() -> None:
    """Albania says bashki, Kosovo komunë: a text that cannot know the country says both."""
    from bot.i18n import Catalogs

    catalogs = Catalogs()
    one_sided = [
        msgid
        for msgid in catalogs.ids()
        if "bashki" in (text := (catalogs.shipped("sq", msgid) or "").lower())
        and "komun" not in text
    ]
    assert one_sided == []
