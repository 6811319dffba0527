"""A flow as typed, immutable data: nodes, waits, routes and actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.engine.lexicon import Lexicon, Pattern

ROUTERS = ("options", "yes_no", "text", "municipality", "date", "number")

# Categories each router can route on, besides "timeout" and "other".
# Any router may also route "unsure" (the person said she does not know), when the flow has
# that route; otherwise "I don't know" is answered kindly and the question asked again.
UNSURE = "unsure"
ROUTER_CATEGORIES: dict[str, tuple[str, ...]] = {
    "yes_no": ("yes", "no"),
    "text": ("any",),
    "municipality": ("found", "unknown"),
    "date": ("valid",),
    "number": ("valid",),
}

# An `end` with one of these reasons ends the whole conversation, even inside a sub-flow.
# "child": the child path (bot/flows/child.yaml) never returns to the adult questions.
FINAL_END_REASONS = frozenset({"exit", "erased", "no_answer", "child"})

# What a person may answer to a follow-up check-in (record_followup's outcome).
FOLLOWUP_OUTCOMES = (
    "respected",  # the order holds: he has not come near, contacted her or come to the house
    "breached",
    "talk",  # she wants to talk to someone
    "stop",  # no more check-ins of this plan
    "not_now",
    "done",  # an integration milestone: done, in progress, a problem
    "progress",
    "problem",
)

SERVICES = ("police", "shelter", "health", "legal", "psychosocial", "social", "economic")
LANGUAGES = ("sq", "en")


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a node does: `kind` names one of bot/engine/actions.py, `args` its arguments."""

    kind: str
    args: Mapping[str, Any]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Route:
    """Where an answer leads: optional actions, then a node (None ends the flow)."""

    goto: str | None
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class Option:
    """A numbered choice of an `options` wait."""

    value: str
    label: str  # message id
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Wait:
    """A question and how its answers are routed."""

    text: str  # message id
    router: str
    routes: Mapping[str, Route]
    params: Mapping[str, Any] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    result: str | None = None
    field: str | None = None
    min: int | None = None
    max: int | None = None
    timeout: timedelta | None = None
    sense: str | None = None  # yes_no: how the answer is read (understanding.yaml's senses)


@dataclass(frozen=True, slots=True)
class Node:
    """A step of a flow: actions, then exactly one of wait, next, enter, split or end."""

    id: str
    actions: tuple[Action, ...] = ()
    wait: Wait | None = None
    next: str | None = None
    enter: str | None = None
    split: str | None = None
    cases: Mapping[str, Route] = field(default_factory=dict)
    default: Route | None = None
    end: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Flow:
    """A whole flow at one version."""

    name: str
    version: str
    start: str
    nodes: Mapping[str, Node]
    title: str = ""
    source: str = ""  # file name, for messages

    def node(self, node_id: str) -> Node:
        """The node with this id; KeyError names flow and node."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"flow {self.name}@{self.version} has no node {node_id!r}") from None


@dataclass(frozen=True, slots=True)
class Keyword:
    """A global keyword: `whole` words or `phrase`s found inside a message, starting a flow."""

    intent: str
    flow: str
    mode: str  # "whole" | "phrase"
    phrases: Mapping[str, tuple[Pattern, ...]]  # language ("" for any) -> patterns


@dataclass(frozen=True, slots=True)
class KeywordSet:
    """All global keywords, and the lexicon every reading of a message uses."""

    keywords: tuple[Keyword, ...] = ()
    lexicon: Lexicon = field(default_factory=Lexicon)
    # The flows the keywords start, known once (the pipeline asks on every message).
    flows: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "flows", frozenset(k.flow for k in self.keywords))
