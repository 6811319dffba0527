"""Flow files with mistakes are refused with file, line and problem; good ones load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.flows.check import check_paths
from bot.flows.library import FlowLibrary
from bot.flows.loader import FlowError, parse_flow, parse_keywords

GOOD = """\
flow: demo
start: ask
nodes:
  ask:
    ask: d.q
    router: yes_no
    routes:
      yes: done
      no: done
  done:
    do:
      - say: d.bye
    end: completed
"""


def broken(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


# (file text, line of the problem, words the message must contain)
CASES = [
    (broken("router: yes_no", "router: maybe"), 6, "router 'maybe' is not one of"),
    (broken("      no: done\n", "      no: nowhere\n"), 4, "goes to 'nowhere', no such node"),
    (broken("      no: done\n", ""), 8, "no route for no"),
    (broken("ask: d.q", "ask: Are you safe?"), 5, "is not a message id"),
    (broken("start: ask", "start: begin"), 2, "start node 'begin' does not exist"),
    (
        broken("    end: completed", "    end: completed\n    next: ask"),
        14,
        "'next' does not go with end",
    ),
    (broken("      - say: d.bye", "      - shout: d.bye"), 12, "an action is one of"),
    (broken("      - say: d.bye", "      - add_score: {name: risk}"), 12, "missing 'points'"),
    (
        broken("      - say: d.bye", "      - record_consent: {service: spa}"),
        12,
        "service is one of",
    ),
    (
        broken("    router: yes_no\n", "    router: yes_no\n    timeout: soon\n"),
        7,
        "not an ISO-8601 duration",
    ),
    (broken("      no: done\n", "      no: done\n      timeout: done\n"), 10, "needs 'timeout"),
    (broken("      no: done\n", "      no: done\n      maybe: done\n"), 10, "not a category"),
    (broken("flow: demo", "flow: other"), 1, "file is demo.yaml"),
    (broken("  done:\n", "  ask:\n    next: done\n  done:\n"), 10, "appears twice"),
    (broken("    router: yes_no", "    router: [yes_no"), 7, "YAML syntax"),
    (
        broken("      - say: d.bye", "      - say: d.bye\n        params: {n: '@nowhere.x'}"),
        13,
        "unknown reference",
    ),
    # JSON has no NaN nor infinity: what a flow sets is kept in the conversation's state.
    (
        broken("      - say: d.bye", "      - set_result: {name: score, value: .nan}"),
        12,
        ".nan is not a finite number",
    ),
    (
        broken(
            "      - say: d.bye", "      - set_result:\n          name: x\n          value: -.Inf"
        ),
        14,
        "-.Inf is not a finite number",
    ),
    (
        broken("      - say: d.bye", "      - set_result: {name: x, value: [1.5, {a: 1.0e+400}]}"),
        12,
        "1.0e+400 is not a finite number",
    ),
    (
        broken("      - say: d.bye", "      - say: d.bye\n        params: {n: .inf}"),
        13,
        ".inf is not a finite number",
    ),
    # Nor what JSON would not give back as written: her state would fail to save, or change.
    (
        broken("      - say: d.bye", "      - set_result: {name: since, value: 2026-01-01}"),
        12,
        "2026-01-01 reads as a date: quote it to keep it as text",
    ),
    (
        broken("      - say: d.bye", "      - set_result: {name: x, value: !!binary aGk=}"),
        12,
        "aGk= reads as binary data",
    ),
    (
        broken("      - say: d.bye", "      - set_result: {name: x, value: !!set {a: null}}"),
        12,
        "a set is not kept",
    ),
    (
        broken("      - say: d.bye", "      - set_result: {name: x, value: !!omap [a: 1]}"),
        12,
        "ordered pairs are not kept",
    ),
    (
        broken("      - say: d.bye", "      - set_result: {name: x, value: {no: 1}}"),
        12,
        "key no is not text: put it in quotes",
    ),
    (
        broken(
            "      - say: d.bye", "      - set_result:\n          name: x\n          value: {1: a}"
        ),
        14,
        "key 1 is not text",
    ),
]


def test_quoted_dates_and_keys_are_kept_as_text() -> None:
    text = broken(
        "      - say: d.bye", "      - set_result: {name: x, value: {'no': '2026-01-01', k: [1]}}"
    )
    flow = parse_flow("bot/flows/demo.yaml", text)
    [action] = flow.nodes["done"].actions
    assert action.args["value"] == {"no": "2026-01-01", "k": [1]}


def test_finite_floats_and_aliases_are_kept() -> None:
    text = broken(
        "      - say: d.bye",
        "      - set_result: {name: x, value: &v [0.5, -2.0e+3, {k: 1.0e-300}]}\n"
        "      - set_result: {name: y, value: *v}",
    )
    flow = parse_flow("bot/flows/demo.yaml", text)
    actions = flow.nodes["done"].actions
    assert [a.args["value"] for a in actions] == [[0.5, -2000.0, {"k": 1e-300}]] * 2


@pytest.mark.parametrize(("text", "line", "words"), CASES)
def test_mistakes_are_named_with_file_and_line(text, line, words):
    with pytest.raises(FlowError) as caught:
        parse_flow("bot/flows/demo.yaml", text)
    messages = [str(p) for p in caught.value.problems]
    assert any(words in m and m.startswith(f"bot/flows/demo.yaml:{line}:") for m in messages), (
        messages
    )


def test_good_flow_loads_with_unquoted_yes_no():
    flow = parse_flow("demo.yaml", GOOD)
    assert set(flow.nodes["ask"].wait.routes) == {"yes", "no"}
    assert len(flow.version) == 12


def test_keywords_must_point_at_flows():
    text = "keywords:\n  - intent: exit\n    flow: nowhere\n    words: [dil]\n"
    with pytest.raises(FlowError, match=r"keywords\.yaml:2: keyword exit: no flow named 'nowhere'"):
        parse_keywords("keywords.yaml", text, ["demo"])


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "demo.yaml").write_text(GOOD)
    return directory


def test_a_broken_edit_keeps_the_last_good_version_serving(flows_dir):
    library = FlowLibrary(flows_dir)
    assert library.reload().ok
    good_version = library.get("demo").version
    (flows_dir / "demo.yaml").write_text(broken("router: yes_no", "router: maybe"))
    result = library.reload()
    assert not result.ok
    assert "demo.yaml:6" in str(result.problems[0])
    assert library.get("demo").version == good_version
    (flows_dir / "demo.yaml").write_text(GOOD.replace("d.bye", "d.goodbye"))
    result = library.reload()
    assert result.ok and result.changed == ["demo"]
    assert library.get("demo").version != good_version
    assert library.get("demo", good_version).nodes["done"].actions[0].args["text"] == "d.bye"


def test_flows_check_command(flows_dir, capsys):
    assert check_paths([flows_dir]) == 0
    assert "1 flow(s) OK" in capsys.readouterr().out
    (flows_dir / "demo.yaml").write_text(broken("router: yes_no", "router: maybe"))
    assert check_paths([flows_dir / "demo.yaml"]) == 1
    out = capsys.readouterr().out
    assert "demo.yaml:6: node ask: router 'maybe'" in out


def test_shipped_flows_pass_the_check():
    shipped = Path(__file__).resolve().parents[2] / "bot" / "flows"
    if not (shipped / "first_contact.yaml").exists():
        pytest.fail("the shipped flows are missing")
    assert check_paths([shipped]) == 0


def test_lint_warns_about_unreachable_nodes(flows_dir, capsys):
    (flows_dir / "demo.yaml").write_text(GOOD + "  orphan:\n    end: completed\n")
    assert check_paths([flows_dir]) == 0
    assert "node orphan is never reached" in capsys.readouterr().out


def test_engine_test_flows_copy_is_valid(tmp_path):
    source = Path(__file__).resolve().parents[1] / "engine" / "flows"
    shutil.copytree(source, tmp_path / "f")
    assert FlowLibrary(tmp_path / "f").reload().ok


def test_libyaml_reads_every_shipped_file_as_the_python_parser_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    from bot.flows import directory, loader

    assert loader.LOADER is yaml.CSafeLoader  # PyYAML's wheels carry libyaml
    shipped = Path(__file__).resolve().parents[2] / "bot" / "flows"
    fast = directory.load_dir(shipped)
    monkeypatch.setattr(loader, "LOADER", yaml.SafeLoader)
    slow = directory.load_dir(shipped)
    assert fast.flows == slow.flows and fast.sources == slow.sources
    assert fast.keywords == slow.keywords and fast.warnings == slow.warnings


@pytest.mark.parametrize(("text", "line", "words"), CASES)
def test_libyaml_names_the_same_line_for_every_mistake(
    monkeypatch: pytest.MonkeyPatch, text: str, line: int, words: str
) -> None:
    import yaml

    from bot.flows import loader

    def problems() -> list[tuple[int, str]]:
        with pytest.raises(FlowError) as caught:
            parse_flow("bot/flows/demo.yaml", text)
        return [(p.line, p.message.split(":")[0]) for p in caught.value.problems]

    fast = problems()
    monkeypatch.setattr(loader, "LOADER", yaml.SafeLoader)
    assert fast == problems()
