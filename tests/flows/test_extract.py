"""The Babel extractor finds every message id of a flow, on its line, with flow and node named."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract, extract_from_file

from bot.flows.extract import FlowSyntaxError, extract_flows, message_ids

FLOW = """\
flow: tiny
title: A tiny flow
start: language
nodes:
  language:
    ask: t.language
    router: options
    options:
      - value: sq
        label: t.language.sq
        words: [shqip]
      - {value: en, label: t.language.en}
    routes:
      sq: {goto: hello, do: [{set_language: sq}, {say: t.switched}]}
      en: hello
  hello:
    do:
      - say: t.hello
        params: {label: "@results.language", say: x}
      - set_result: {name: seen, value: "yes"}
    next: by_role
  by_role:
    split: "@results.role"
    cases:
      witness: {goto: bye, do: [{say: t.witness}]}
      survivor: bye
    default:
      goto: bye
      do:
        - say: t.other
  bye:
    ask: t.bye
    router: yes_no
    routes:
      "yes": done
      "no": done
  done:
    end: completed
"""

EXPECTED = [
    (6, "t.language", "tiny/language: question"),
    (10, "t.language.sq", "tiny/language: option label"),
    (12, "t.language.en", "tiny/language: option label"),
    (14, "t.switched", "tiny/language: message"),
    (18, "t.hello", "tiny/hello: message"),
    (25, "t.witness", "tiny/by_role: message"),
    (30, "t.other", "tiny/by_role: message"),
    (32, "t.bye", "tiny/bye: question"),
]


def test_every_id_with_its_line_flow_and_node():
    assert list(message_ids(FLOW)) == EXPECTED


def test_line_numbers_point_at_the_ids():
    lines = FLOW.splitlines()
    for line, msgid, _ in message_ids(FLOW):
        assert msgid in lines[line - 1]


def test_babel_calls_it_by_its_registered_name():
    found = list(extract("helpline_flows", io.BytesIO(FLOW.encode())))
    assert [(line, msgid, comments) for line, msgid, comments, _ in found] == [
        (line, msgid, [comment]) for line, msgid, comment in EXPECTED
    ]


def test_keywords_file_yields_nothing(tmp_path: Path):
    keywords = tmp_path / "keywords.yaml"
    keywords.write_text("keywords:\n  - intent: exit\n    flow: quick_exit\n    ask: not.an.id\n")
    assert list(extract_from_file(extract_flows, str(keywords))) == []


def test_file_name_stands_in_for_a_missing_flow_name(tmp_path: Path):
    path = tmp_path / "orders.yaml"
    path.write_text("nodes:\n  a:\n    ask: o.when\n")
    with path.open("rb") as fh:
        assert list(extract_flows(fh, [], [], {})) == [(3, "", "o.when", ["orders/a: question"])]


def test_empty_and_non_text_values_are_skipped():
    text = "flow: f\nnodes:\n  a:\n    ask: ''\n    do:\n      - say: [x]\n      - say: f.ok\n"
    assert [msgid for _, msgid, _ in message_ids(text)] == ["f.ok"]


def test_an_empty_file_yields_nothing():
    assert list(message_ids("")) == []


def test_broken_yaml_names_the_file_and_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("flow: broken\nnodes:\n  a:\n    ask: [unclosed\n")
    with (
        path.open("rb") as fh,
        pytest.raises(FlowSyntaxError, match=r"broken\.yaml:\d+: not valid"),
    ):
        list(extract_flows(fh, [], [], {}))
