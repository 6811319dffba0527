"""The action registry: each action parses its documented example, runs it, reports its events."""

from __future__ import annotations

import pytest

from bot.engine import ContactView, Env, StartResume, resume
from bot.engine import events as ev
from bot.engine.actions import REGISTRY, ActionKind
from bot.flows.loader import FlowError, parse_flow

from .conftest import NOW


def flow_of(items: list[str]) -> str:
    """A one-node flow whose `do:` list is these actions, written as in a file."""
    lines = ["flow: demo", "start: go", "nodes:", "  go:", "    do:"]
    for item in items:
        first, *rest = item.splitlines()
        lines += [f"      - {first}", *(f"        {line}" for line in rest)]
    return "\n".join([*lines, "    end: completed", ""])


class One:
    """A flow source holding one flow."""

    def __init__(self, flow):
        self.flow = flow

    def get(self, name, version=None):
        if name != self.flow.name or version not in (None, self.flow.version):
            raise KeyError(name)
        return self.flow


def test_every_example_parses_and_runs_reporting_its_events(monkeypatch):
    # All examples as one do: list, as docs/flows.md shows them; each run's events are its own.
    flow = parse_flow("demo.yaml", flow_of([k.example for k in REGISTRY.values()]))
    assert [a.kind for a in flow.nodes["go"].actions] == list(REGISTRY)
    reported: dict[str, list[type[ev.Event]]] = {}
    for kind in REGISTRY.values():

        def run(ctx, s, args, kind=kind, run=kind.run):
            before = len(ctx.events)
            run(ctx, s, args)
            reported[kind.name] = [type(e) for e in ctx.events[before:]]

        monkeypatch.setattr(kind, "run", run)
    env = Env(now=NOW, flows=One(flow), texts=lambda language, msgid: msgid)
    outcome = resume(None, StartResume("demo"), ContactView(), env)
    assert outcome.events[-1] == ev.SessionEnded("completed")
    for name, kind in REGISTRY.items():
        assert set(kind.emits) <= set(reported[name]), name
        if not kind.emits:
            assert reported[name] == [], name


def test_every_action_documents_its_form_meaning_and_example():
    for name, kind in REGISTRY.items():
        assert isinstance(kind, ActionKind) and kind.name == name
        assert kind.form.startswith(f"`{name}:") and kind.meaning and kind.example
        assert kind.emits or kind.note, name  # the docs say what it reports, or why nothing


# (the action's YAML, line of the problem, words the message must contain)
MISTAKES = [
    ("set_result: {name: x, value: 1}\nparams: {a: b}", 8, "params only go with say"),
    ("assess_risk: {score: risk, high: 3, medium: 5}", 7, "medium must not be above high"),
    ("assess_risk: {score: risk, high: x}", 7, "'high' threshold is a whole number"),
    ("record_consent: {service: police, given: maybe}", 7, "given is true or false"),
    ("record_followup: {outcome: fine}", 7, "outcome is one of respected"),
    ("set_case: {urgency: high}", 7, "only reporter and category"),
    ("set_language: fr", 7, "set_language: 'fr' (expected sq, en or @results.x)"),
    ("open_case: [a]", 7, "open_case: expected a mapping"),
    ("start_followup: {order: x}", 7, "start_followup: missing 'plan'"),
    ("add_flag: Strangled", 7, "add_flag 'Strangled': a flow name is lower case"),
    ("say: [d.bye]", 7, "say must be a single value"),
    ("say: d.bye\nparams:\n  a: b\n  c: '@nowhere.x'", 10, "unknown reference '@nowhere.x'"),
    ("set_field: {name: x, value: '@nowhere.x'}", 7, "unknown reference"),
]


@pytest.mark.parametrize(("item", "line", "words"), MISTAKES)
def test_each_action_names_its_problem_on_its_line(item, line, words):
    with pytest.raises(FlowError) as caught:
        parse_flow("demo.yaml", flow_of(["say: d.hello", item]))
    messages = [str(p) for p in caught.value.problems]
    assert any(words in m and m.startswith(f"demo.yaml:{line}:") for m in messages), messages
