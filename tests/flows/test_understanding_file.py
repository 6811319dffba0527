"""understanding.yaml: loaded like a flow, every mistake named with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.flows.check import check_paths
from bot.flows.library import FlowLibrary
from bot.flows.loader import FlowError
from bot.flows.understanding import SHIPPED, parse_understanding

SHIPPED_TEXT = SHIPPED.read_text(encoding="utf-8")


def with_change(old: str, new: str) -> str:
    assert old in SHIPPED_TEXT
    return SHIPPED_TEXT.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('  danger: ["@danger_sq"', '  danger: ["@danger_xx"', "no concept named 'danger_xx'"),
        ("yes: [yes_word]", "yes: [yes_wrd]", "no concept named 'yes_wrd'"),
        ("kercen*,", "ke*,", "a stem* needs at least 3 letters"),
        ('refusal: [jo, "no",', "refusal: [jo, no,", "write yes, no, y, n, on and off in quotes"),
        ("negation_scope: 3", "negation_scope: 9", "a whole number from 1 to 6"),
        ("    subject: police", "    subject: cops", "no concept named 'cops'"),
    ],
)
def test_mistakes_name_file_line_and_problem(old, new, message):
    text = with_change(old, new)
    with pytest.raises(FlowError) as caught:
        parse_understanding("understanding.yaml", text)
    [problem] = caught.value.problems
    assert problem.file == "understanding.yaml" and message in problem.message
    assert abs(problem.line - line_of(text, new)) <= 12  # the line of the list it sits in


def test_a_broken_understanding_file_keeps_the_last_good_one_serving(tmp_path: Path):
    directory = tmp_path / "flows"
    shutil.copytree(SHIPPED.parent, directory, ignore=shutil.ignore_patterns("*.py", "__*"))
    library = FlowLibrary(directory)
    assert library.reload().ok
    good = library.keywords.lexicon
    (directory / "understanding.yaml").write_text(with_change("kercen*,", '"@nothing",'))
    result = library.reload()
    assert not result.ok
    assert "understanding.yaml" in str(result.problems[0])
    assert "no concept named 'nothing'" in str(result.problems[0])
    assert library.keywords.lexicon is good  # still reading with the last good data
    assert check_paths([directory / "understanding.yaml"]) == 1
    assert check_paths([directory]) == 1


def test_a_flow_with_an_unknown_sense_is_refused(tmp_path: Path):
    directory = tmp_path / "flows"
    shutil.copytree(SHIPPED.parent, directory, ignore=shutil.ignore_patterns("*.py", "__*"))
    first = directory / "first_contact.yaml"
    text = first.read_text().replace("sense: danger_now", "sense: danger_later")
    first.write_text(text)
    result = FlowLibrary(directory).reload()
    assert not result.ok
    [problem] = result.problems
    assert "first_contact.yaml" in problem.file and "sense 'danger_later'" in problem.message
    assert problem.line in (line_of(text, "  danger_now:\n"), line_of(text, "  danger_now:\n") + 1)


def test_the_shipped_file_passes_the_check(capsys):
    assert check_paths([SHIPPED]) == 0
