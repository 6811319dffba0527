"""docs/flows.md's action reference is written from the action registry and kept up to date."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.engine import events as ev
from bot.engine.actions import REGISTRY, MappingAction
from bot.flows.docs import BEGIN, END, render, update, write_docs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "flows.md"


class Documented(MappingAction):
    """An action someone adds, with its docs."""

    name = "send_flowers"
    form = "`send_flowers: {}`"
    meaning = "a new action"
    emits = (ev.ErasureRequested,)
    example = "send_flowers: {}"


class Undocumented(MappingAction):
    """An action someone adds, without its docs."""

    name = "send_flowers"


def test_docs_flows_md_is_written_from_the_registry():
    text = DOCS.read_text(encoding="utf-8")
    assert update(text) == text, "docs/flows.md is out of date: run `helpline flows docs`"
    for name, kind in REGISTRY.items():
        assert f"| {kind.form} |" in text and f"  - {kind.example.splitlines()[0]}\n" in text, name


def test_an_action_added_without_its_docs_is_refused(monkeypatch):
    monkeypatch.setitem(REGISTRY, "send_flowers", Undocumented())
    with pytest.raises(ValueError, match="action 'send_flowers' has no form"):
        render()


def test_an_action_added_with_its_docs_makes_the_file_out_of_date(monkeypatch, tmp_path, capsys):
    copy = tmp_path / "flows.md"
    shutil.copy(DOCS, copy)
    assert write_docs(copy, check=True) == 0
    monkeypatch.setitem(REGISTRY, "send_flowers", Documented())
    assert write_docs(copy, check=True) == 1
    assert "flows.md is out of date" in capsys.readouterr().out
    assert write_docs(copy) == 0
    written = copy.read_text(encoding="utf-8")
    assert "| `send_flowers: {}` | a new action | `erasure_requested` |" in written
    assert "  - send_flowers: {}\n```" in written
    assert write_docs(copy, check=True) == 0
    # Only the reference between the markers is written; the rest of the file stays as it was.
    before, after = DOCS.read_text(encoding="utf-8"), written
    assert before.split(BEGIN)[0] == after.split(BEGIN)[0]
    assert before.split(END)[1] == after.split(END)[1]


def test_a_file_without_the_markers_is_refused(tmp_path, capsys):
    other = tmp_path / "other.md"
    other.write_text("# Flows\n")
    assert write_docs(other) == 1
    assert "no action reference to write" in capsys.readouterr().out
    assert other.read_text() == "# Flows\n"


def test_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HELPLINE_VAR_DIR", str(tmp_path))
    copy = tmp_path / "flows.md"
    copy.write_text(DOCS.read_text(encoding="utf-8").replace("| `say: ", "| `shout: "))
    assert main(["flows", "docs", "--check", str(copy)]) == 1
    assert main(["flows", "docs", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == DOCS.read_text(encoding="utf-8")
    assert "written" in capsys.readouterr().out
