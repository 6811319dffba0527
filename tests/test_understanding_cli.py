"""`helpline understand`: one message read, and a corpus measured through the engine itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from bot.understanding_cli import Reader, evaluate, load_cases, run

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "understanding" / "dev.jsonl"  # shared/ lies beside the repo
OWN = ROOT / "tests" / "understanding" / "corpus.jsonl"  # misreadings found, kept as cases
# Four probes written apart from the layer, each first measured on the code before it (README).
PROBES = sorted((ROOT / "tests" / "understanding" / "probes").glob("*.jsonl"))


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.shipped()


@pytest.mark.parametrize(
    "corpus", [DEV, OWN, *PROBES], ids=["dev", "own", *(p.stem for p in PROBES)]
)
def test_targets_hold_on_the_corpora(corpus: Path, reader: Reader) -> None:
    """The issue's targets, measured by the same code the flows use."""
    if not corpus.exists():
        if os.environ.get("CI") == "true":  # CI lays shared/ beside the clone: never skip there
            pytest.fail(f"{corpus} is missing (shared/ should lie beside the repository)")
        pytest.skip(f"{corpus} is not beside this checkout")
    misses: list[dict] = []
    tally = evaluate(
        load_cases(corpus), reader, lambda r: misses.append(r) if not r["ok"] else None
    )
    summary = tally.summary()
    assert summary["missed_first_danger"] == 0, misses
    assert summary["danger_recall"] >= 0.99, misses
    assert summary["false_alarm_rate"] <= 0.02, misses
    assert summary["negated_consent_read_as_no"] == 1.0, misses
    assert summary["first_language_accuracy"] >= 0.97, misses
    for kind, figures in summary["per_kind"].items():
        assert figures["accuracy"] >= 0.95, (kind, misses)


def test_eval_json_prints_a_line_per_case_then_the_summary(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.jsonl"
    cases = [
        {"id": "a", "ask": "first", "text": "burri po me rreh",
         "expect": {"danger": True, "lang": "sq"}},
        {"id": "b", "ask": "consent", "text": "policia jo", "expect": "no"},
        {"id": "c", "ask": "menu", "text": "e dyta", "expect": 2,
         "options": {"en": ["Police", "Shelter", "Health", "Legal aid"]}},
        {"id": "d", "ask": "anywhere", "text": "dil tani", "expect": "exit"},
    ]  # fmt: skip
    corpus.write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    assert run(Namespace(words=["eval", str(corpus)], ask=None, json=True)) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [list(line) for line in lines[:-1]] == [["id", "ask", "expect", "got", "ok"]] * 4
    assert all(line["ok"] for line in lines[:-1])
    assert lines[1]["got"] == "no" and lines[2]["got"] == 2
    summary = lines[-1]["summary"]
    assert summary["cases"] == 4 and summary["accuracy"] == 1.0


def test_a_missed_first_danger_exits_1_and_is_listed(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.jsonl"
    case = {"id": "x", "ask": "first", "text": "the weather is nice",
            "expect": {"danger": True, "lang": "en"}}  # fmt: skip
    corpus.write_text(json.dumps(case) + "\n")
    assert run(Namespace(words=["eval", str(corpus)], ask=None, json=False)) == 1
    out = capsys.readouterr().out
    assert "x [first] 'the weather is nice'" in out and "missed: 1" in out


def test_a_bad_corpus_line_names_file_and_line(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "ask": "first", "text": "hi", "expect": {}}\n{oops\n')
    with pytest.raises(SystemExit, match=r"c\.jsonl:2: not JSON"):
        load_cases(corpus)


def test_one_message_from_the_command_line() -> None:
    helpline = Path(sys.executable).with_name("helpline")
    out = subprocess.run(
        [str(helpline), "understand", "jo polici", "--ask", "consent"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert json.loads(out) == "no"
    out = subprocess.run(
        [str(helpline), "understand", "me rrah burri"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert json.loads(out) == {"danger": True, "lang": "sq"}


SERVICES = {
    "en": ["Police", "Shelter", "Counselling", "Legal aid"],
    "sq": ["Policia", "Strehim", "Këshillim psikologjik", "Ndihmë juridike"],
}
WHEN = {
    "en": ["Morning", "Afternoon", "Evening", "I'll write myself"],
    "sq": ["Në mëngjes", "Pasdite", "Në mbrëmje", "Do të shkruaj vetë"],
}


@pytest.mark.parametrize(
    ("text", "options", "expect"),
    [
        ("në orën 4", SERVICES, 0),  # a time, not the fourth option (values were "1".."4")
        ("pas ores 2", SERVICES, 0),
        ("4", SERVICES, 4),  # the number alone still picks
        ("numri 3", SERVICES, 3),
        ("ndihme juridike", SERVICES, 4),
        ("ne oren 4", WHEN, 2),  # the shipped question "When is it safe?": 16:00 is afternoon
        ("pas ores 2", WHEN, 2),
    ],
)
def test_a_digit_inside_an_answer_picks_no_option(
    reader: Reader, text: str, options: dict[str, list[str]], expect: int
) -> None:
    assert reader.read("menu", text, options) == expect
