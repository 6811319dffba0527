"""The understanding layer on what the new-user walkthrough of session 11 found misread."""

from __future__ import annotations

import pytest

from bot.engine import understand as u
from bot.flows.understanding import shipped_lexicon

LEX = shipped_lexicon()


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("djali im me rreh, jam plake", "survivor"),  # the son is who hurts her
        ("vajza ime po me kercenon", "survivor"),
        ("my son hits me", "survivor"),
        ("djali im me ka rrahur", "survivor"),
        ("motra ime, burri e rreh", "witness"),  # the sister is the one hurt
        ("per djalin tim", "witness"),
        ("djali im eshte i rrezikuar", "witness"),
    ],
)
def test_a_relative_who_hurts_her_makes_her_the_one_writing_for_herself(text, role):
    assert u.read_first(text, LEX).role == role


@pytest.mark.parametrize(
    "text", ["hi, I need help", "I need help", "pershendetje, kam nevoje per ndihme"]
)
def test_a_plea_for_help_is_no_answer_to_is_it_safe_to_text(text):
    # Decided: "I need help" says nothing of whether she can text safely now; read as a yes it
    # would be a guess (and a wrong yes sends the next questions to a phone he may read). It is
    # asked again.
    assert u.read_yes_no(text, LEX, "safe_to_text") is None


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("pas ores 5", "evening"),
        ("mbas ores 17", "evening"),
        ("after 6pm", "evening"),
        ("pas ores 2", "afternoon"),
        ("ne oren 4", "afternoon"),
        ("pas ores 9", "morning"),
    ],
)
def test_a_time_of_day_is_the_window_it_falls_in(text, concept):
    t = u.analyse(text, LEX)
    found = {c for c in ("morning", "afternoon", "evening") if u.find(t, c, LEX)}
    assert found == {concept}


@pytest.mark.parametrize("text", ["pas 5 minutash", "pas 2 oresh", "5", "jam 5 vjec"])
def test_a_while_or_a_bare_number_is_no_time_of_day(text):
    t = u.analyse(text, LEX)
    assert not any(u.find(t, c, LEX) for c in ("morning", "afternoon", "evening"))
