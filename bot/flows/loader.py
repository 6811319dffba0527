"""Flow YAML -> engine definitions, with errors that name file, line and problem."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.engine import keywords as kw
from bot.engine.actions import REGISTRY as ACTIONS
from bot.engine.definition import (
    ROUTER_CATEGORIES,
    ROUTERS,
    UNSURE,
    Action,
    Flow,
    KeywordSet,
    Node,
    Option,
    Route,
    Wait,
)
from bot.engine.durations import parse_duration
from bot.engine.lexicon import Lexicon, LexiconError, parse_pattern

MSGID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
REF_ROOTS = ("results", "fields", "contact", "numbers", "municipality", "risk", "case")
NODE_KEYS = {
    "do", "ask", "router", "options", "result", "field", "min", "max", "timeout", "routes",
    "params", "next", "enter", "split", "cases", "default", "end", "sense",
}  # fmt: skip
WAIT_KEYS = {
    "router", "options", "result", "field", "min", "max", "timeout", "routes", "params", "sense",
}  # fmt: skip
TOP_KEYS = {"flow", "title", "start", "nodes"}
# Keys an action may have beside its own (say's params), each allowed only with its own kinds.
EXTRA_KEYS = frozenset().union(*(a.extras for a in ACTIONS.values()))
KEYWORDS_FILE = "keywords.yaml"
UNDERSTANDING_FILE = "understanding.yaml"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a flow file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowError(Exception):
    """A flow file (or several) could not be loaded; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(slots=True)
class Loaded:
    """Flows and keywords loaded from one directory, plus lint warnings."""

    flows: dict[str, Flow] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # flow name -> YAML text
    keywords: KeywordSet = field(default_factory=KeywordSet)
    keywords_source: str = ""  # keywords.yaml's text, to read again with a new lexicon
    understanding_source: str = ""  # understanding.yaml's text (the shipped one if none)
    warnings: list[Problem] = field(default_factory=list)


def version_of(source: str) -> str:
    """A flow's version: the first 12 hex digits of the SHA-256 of its text."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


# The YAML types a conversation's state keeps as written (JSON's), and what the others read as.
FLOAT_TAG = "tag:yaml.org,2002:float"
PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
KEY_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"})  # merge: <<
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
UNKEPT = {"tag:yaml.org,2002:timestamp": "a date", "tag:yaml.org,2002:binary": "binary data"}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _key(node: yaml.Node) -> str:
    # Unquoted yes/no are booleans in YAML 1.1; as keys and values here they mean the words.
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:bool":
            return "yes" if node.value.lower() in ("yes", "true", "on", "y") else "no"
        return str(node.value)
    return ""


# libyaml's parser (in C; PyYAML's wheels carry it) where present: the same nodes, with their
# lines, for ~1/5 of the pure-Python parser's CPU. Loading the shipped directory (17 files,
# understanding.yaml the largest) spent 80 % of its ~0.27 s composing nodes in Python; every
# start-up, every admin check of a draft and every test that builds a pipeline pays it.
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Parser:
    """Walks the YAML node tree of one file and builds definitions, collecting problems."""

    def __init__(self, file: str, text: str, *, kept: bool = False) -> None:
        self.file = file
        self.text = text
        # A flow's values (set_result, set_field...) are kept in a conversation's state, as
        # JSON: only what JSON gives back as written is allowed there (_storable).
        self.kept = kept
        self.problems: list[Problem] = []
        self.loader: yaml.SafeLoader | None = None
        try:
            self.loader = LOADER(text)
        except yaml.YAMLError as exc:
            # The reader refuses control characters (a pasted \x08) before parsing starts.
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            self.problems.append(Problem(file, line, f"YAML: {exc}"))

    def fail(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(Problem(self.file, _line(node) if node is not None else 1, message))

    def root(self) -> yaml.Node | None:
        if self.loader is None:
            return None
        try:
            return self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self.problems.append(Problem(self.file, line, f"YAML syntax: {exc.problem}"))
            return None
        except yaml.YAMLError as exc:
            self.problems.append(Problem(self.file, 1, f"YAML: {exc}"))
            return None

    def value(self, node: yaml.Node) -> Any:
        assert self.loader is not None  # there is a node only when the loader read one
        self._storable(node, set())
        return self.loader.construct_object(node, deep=True)

    def _storable(self, node: yaml.Node, seen: set[int]) -> None:
        """A problem for each .nan or infinity (JSON has neither; json would write NaN, readable
        by json alone); in a flow (self.kept), for each value JSON would not give back as
        written too: a date (2026-01-01 unquoted: saving her state would fail at her next
        message), binary data, a set, ordered pairs, a key that is not text (unquoted no or 1:
        JSON would give back "false" or "1")."""
        if id(node) in seen:  # an alias of a node already looked at (or of its own parent)
            return
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == FLOAT_TAG:
                assert self.loader is not None
                if not math.isfinite(self.loader.construct_yaml_float(node)):
                    self.fail(node, f"{node.value} is not a finite number (JSON has no NaN)")
            elif node.tag not in PLAIN_TAGS and self.kept:
                kind = UNKEPT.get(node.tag, node.tag.rpartition(":")[2])
                self.fail(node, f"{node.value} reads as {kind}: quote it to keep it as text")
        elif isinstance(node, yaml.SequenceNode):
            if node.tag != SEQ_TAG and self.kept:
                self.fail(node, "ordered pairs are not kept: write a list or a mapping")
            for item in node.value:
                self._storable(item, seen)
        elif isinstance(node, yaml.MappingNode):
            if node.tag != MAP_TAG and self.kept:
                self.fail(node, "a set is not kept: write a list")
            for key, item in node.value:
                if self.kept and isinstance(key, yaml.ScalarNode) and key.tag not in KEY_TAGS:
                    self.fail(key, f"key {key.value} is not text: put it in quotes")
                else:
                    self._storable(key, seen)
                self._storable(item, seen)

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) triples; reports duplicates and non-mappings."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping (key: value lines)")
            return []
        seen: dict[str, int] = {}
        out = []
        for key_node, value_node in node.value:
            key = _key(key_node)
            if key in seen:
                self.fail(key_node, f"{what}: {key!r} appears twice (first on line {seen[key]})")
                continue
            seen[key] = _line(key_node)
            out.append((key, key_node, value_node))
        return out

    def string(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            self.fail(node, f"{what} must be a single value")
            return None
        if node.tag == "tag:yaml.org,2002:bool":
            return _key(node)
        return str(node.value)

    def msgid(self, node: yaml.Node, what: str) -> str | None:
        value = self.string(node, what)
        if value is not None and not MSGID.match(value):
            self.fail(node, f"{what} {value!r} is not a message id (like fc.safe_now)")
            return None
        return value

    def ref_ok(self, node: yaml.Node, value: Any) -> None:
        if isinstance(value, str) and value.startswith("@"):
            root = value[1:].partition(".")[0]
            if root not in REF_ROOTS or "." not in value:
                roots = ", ".join("@" + r for r in REF_ROOTS)
                self.fail(node, f"unknown reference {value!r} (use one of {roots} with .name)")

    # -- file ------------------------------------------------------------------------------------

    def flow(self, expected_name: str) -> Flow | None:
        root = self.root()
        if root is None:
            return None
        top = self.mapping(root, "the file")
        if not top:
            return None
        values = {k: v for k, _, v in top}
        for key, key_node, _ in top:
            if key not in TOP_KEYS:
                self.fail(
                    key_node, f"unknown key {key!r} (expected: {', '.join(sorted(TOP_KEYS))})"
                )
        for key in ("flow", "start", "nodes"):
            if key not in values:
                self.fail(root, f"missing {key!r}")
        if self.problems:
            return None
        name = self.string(values["flow"], "flow")
        if name is not None and name != expected_name:
            self.fail(
                values["flow"], f"flow is named {name!r} but the file is {expected_name}.yaml"
            )
        start = self.string(values["start"], "start")
        nodes: dict[str, Node] = {}
        node_lines: dict[str, yaml.Node] = {}
        for node_id, key_node, value_node in self.mapping(values["nodes"], "nodes"):
            if not NAME.match(node_id):
                self.fail(key_node, f"node id {node_id!r}: use lower case letters, digits and _")
                continue
            node_lines[node_id] = key_node
            built = self.node(node_id, value_node)
            if built is not None:
                nodes[node_id] = built
        if start is not None and start not in node_lines:
            self.fail(values["start"], f"start node {start!r} does not exist")
        self._check_targets(nodes, node_lines)
        if self.problems or name is None or start is None:
            return None
        title = values.get("title")
        return Flow(
            name=name,
            version=version_of(self.text),
            start=start,
            nodes=nodes,
            title=str(title.value) if isinstance(title, yaml.ScalarNode) else "",
            source=self.file,
        )

    def _check_targets(self, nodes: dict[str, Node], lines: dict[str, yaml.Node]) -> None:
        for node in nodes.values():
            targets: list[str | None] = [node.next]
            routes: list[Route] = []
            if node.wait is not None:
                routes += node.wait.routes.values()
            routes += node.cases.values()
            if node.default is not None:
                routes.append(node.default)
            targets += [r.goto for r in routes]
            for target in targets:
                if target is not None and target not in lines:
                    self.fail(lines[node.id], f"node {node.id}: goes to {target!r}, no such node")

    # -- nodes -----------------------------------------------------------------------------------

    def node(self, node_id: str, yaml_node: yaml.Node) -> Node | None:
        items = self.mapping(yaml_node, f"node {node_id}")
        values = {k: v for k, _, v in items}
        before = len(self.problems)
        for key, key_node, _ in items:
            if key not in NODE_KEYS:
                self.fail(key_node, f"node {node_id}: unknown key {key!r}")
        kinds: list[str] = [k for k in ("ask", "enter", "split", "end") if k in values]
        if "next" in values and not kinds:
            kinds.append("next")
        if len(kinds) != 1:
            self.fail(
                yaml_node,
                f"node {node_id}: needs exactly one of ask, next, enter, split, end"
                + (f" (has {', '.join(kinds)})" if kinds else ""),
            )
            return None
        kind = kinds[0]
        if kind != "ask":
            for key in WAIT_KEYS & values.keys():
                self.fail(values[key], f"node {node_id}: {key!r} only goes with ask")
        if kind in ("ask", "split", "end") and "next" in values:
            self.fail(values["next"], f"node {node_id}: 'next' does not go with {kind}")
        if kind == "enter" and "next" not in values:
            self.fail(values["enter"], f"node {node_id}: enter needs a 'next' node for afterwards")
        actions = self.actions(values["do"], node_id) if "do" in values else ()
        wait = self.wait(node_id, values) if kind == "ask" else None
        cases: dict[str, Route] = {}
        default = None
        split = None
        if kind == "split":
            split = self.string(values["split"], f"node {node_id}: split")
            if split is not None and not split.startswith("@"):
                self.fail(
                    values["split"], f"node {node_id}: split takes a reference like @results.x"
                )
            elif split is not None:
                self.ref_ok(values["split"], split)
            if "cases" not in values:
                self.fail(values["split"], f"node {node_id}: split needs 'cases'")
            else:
                for case, _, route_node in self.mapping(values["cases"], f"node {node_id} cases"):
                    route = self.route(route_node, node_id)
                    if route is not None:
                        cases[case] = route
            if "default" in values:
                default = self.route(values["default"], node_id)
        elif "cases" in values or "default" in values:
            self.fail(yaml_node, f"node {node_id}: cases/default only go with split")
        if len(self.problems) > before:
            return None
        return Node(
            id=node_id,
            actions=actions,
            wait=wait,
            next=self.string(values["next"], "next") if "next" in values else None,
            enter=self.name(values["enter"], "enter") if "enter" in values else None,
            split=split,
            cases=cases,
            default=default,
            end=self.string(values["end"], "end") if "end" in values else None,
            line=_line(yaml_node),
        )

    def name(self, node: yaml.Node, what: str) -> str | None:
        value = self.string(node, what)
        if value is not None and not NAME.match(value):
            self.fail(node, f"{what} {value!r}: a flow name is lower case letters, digits and _")
        return value

    def wait(self, node_id: str, values: dict[str, yaml.Node]) -> Wait | None:
        text = self.msgid(values["ask"], f"node {node_id}: ask")
        router_node = values.get("router")
        if router_node is None:
            self.fail(values["ask"], f"node {node_id}: ask needs a router ({', '.join(ROUTERS)})")
            return None
        router = self.string(router_node, "router")
        if router not in ROUTERS:
            self.fail(
                router_node, f"node {node_id}: router {router!r} is not one of {', '.join(ROUTERS)}"
            )
            return None
        options: list[Option] = []
        if router == "options":
            if "options" not in values:
                self.fail(router_node, f"node {node_id}: an options router needs 'options'")
            else:
                options = self.options(values["options"], node_id)
        elif "options" in values:
            self.fail(values["options"], f"node {node_id}: 'options' only go with router: options")
        categories = (
            tuple(o.value for o in options) if router == "options" else ROUTER_CATEGORIES[router]
        )
        timeout = None
        if "timeout" in values:
            raw = self.string(values["timeout"], "timeout")
            try:
                timeout = parse_duration(raw or "")
            except ValueError as exc:
                self.fail(values["timeout"], f"node {node_id}: {exc}")
        routes: dict[str, Route] = {}
        if "routes" not in values:
            self.fail(values["ask"], f"node {node_id}: ask needs 'routes'")
        else:
            allowed = {*categories, "other", "timeout", UNSURE}
            for category, key_node, route_node in self.mapping(values["routes"], "routes"):
                if category not in allowed:
                    self.fail(
                        key_node,
                        f"node {node_id}: route {category!r} is not a category of this "
                        f"{router} question (expected: {', '.join(sorted(allowed))})",
                    )
                    continue
                if category == "timeout" and timeout is None:
                    self.fail(key_node, f"node {node_id}: a timeout route needs 'timeout: PT…'")
                route = self.route(route_node, node_id)
                if route is not None:
                    routes[category] = route
            optional = {"unknown"} if router == "municipality" else set()
            missing = [c for c in categories if c not in routes and c not in optional]
            if missing and "routes" in values:
                self.fail(values["routes"], f"node {node_id}: no route for {', '.join(missing)}")
        bounds: dict[str, int | None] = {"min": None, "max": None}
        for bound in bounds:
            if bound in values:
                raw_value = self.value(values[bound])
                if router != "number" or not isinstance(raw_value, int):
                    self.fail(
                        values[bound], f"node {node_id}: {bound} is a whole number, for number"
                    )
                else:
                    bounds[bound] = raw_value
        params = self.params(values.get("params"), node_id)
        result = self.name(values["result"], "result") if "result" in values else None
        fld = self.name(values["field"], "field") if "field" in values else None
        sense = None
        if "sense" in values:
            sense = self.name(values["sense"], "sense")
            if router != "yes_no":
                self.fail(values["sense"], f"node {node_id}: sense goes with router: yes_no")
        if text is None:
            return None
        return Wait(
            text=text,
            router=router,
            routes=routes,
            params=params,
            options=tuple(options),
            result=result,
            field=fld,
            min=bounds["min"],
            max=bounds["max"],
            timeout=timeout,
            sense=sense,
        )

    def options(self, node: yaml.Node, node_id: str) -> list[Option]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, f"node {node_id}: options is a list of {{value, label, words}}")
            return []
        out: list[Option] = []
        seen: set[str] = set()
        for item in node.value:
            fields = {k: v for k, _, v in self.mapping(item, f"node {node_id}: option")}
            unknown = set(fields) - {"value", "label", "words"}
            if unknown:
                self.fail(item, f"node {node_id}: option has unknown key(s) {', '.join(unknown)}")
            if "value" not in fields or "label" not in fields:
                self.fail(item, f"node {node_id}: an option needs value and label")
                continue
            value = self.string(fields["value"], "option value")
            label = self.msgid(fields["label"], "option label")
            words: tuple[str, ...] = ()
            if "words" in fields:
                raw = self.value(fields["words"])
                if not isinstance(raw, list) or not all(isinstance(w, str | int) for w in raw):
                    self.fail(fields["words"], f"node {node_id}: words is a list of words")
                else:
                    # As written: YAML 1.1 would make an unquoted no, yes, on or off a boolean.
                    words = tuple(str(item.value) for item in fields["words"].value)
            if value in seen:
                self.fail(item, f"node {node_id}: option value {value!r} appears twice")
            if value is not None and label is not None:
                seen.add(value)
                out.append(Option(value, label, words))
        return out

    def params(self, node: yaml.Node | None, node_id: str) -> dict[str, Any]:
        if node is None:
            return {}
        out: dict[str, Any] = {}
        for key, _, value_node in self.mapping(node, f"node {node_id}: params"):
            value = self.value(value_node)
            self.ref_ok(value_node, value)
            out[key] = value
        return out

    def route(self, node: yaml.Node, node_id: str) -> Route | None:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:null":
                return Route(None)
            return Route(str(node.value))
        items = {k: v for k, _, v in self.mapping(node, f"node {node_id}: route")}
        unknown = set(items) - {"goto", "do"}
        if unknown:
            self.fail(node, f"node {node_id}: a route has goto and do, not {', '.join(unknown)}")
            return None
        goto = items.get("goto")
        target = None
        if goto is not None and goto.tag != "tag:yaml.org,2002:null":
            target = self.string(goto, "goto")
        actions = self.actions(items["do"], node_id) if "do" in items else ()
        return Route(target, actions)

    # -- actions ---------------------------------------------------------------------------------

    def actions(self, node: yaml.Node, node_id: str) -> tuple[Action, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"node {node_id}: 'do' is a list of actions (lines starting with -)")
            return ()
        out = []
        for item in node.value:
            action = self.action(item, node_id)
            if action is not None:
                out.append(action)
        return tuple(out)

    def action(self, node: yaml.Node, node_id: str) -> Action | None:
        items = {k: (kn, v) for k, kn, v in self.mapping(node, f"node {node_id}: action")}
        names = [k for k in items if k in ACTIONS]
        extra = [k for k in items if k not in ACTIONS and k not in EXTRA_KEYS]
        if len(names) != 1 or extra:
            self.fail(
                node,
                f"node {node_id}: an action is one of {', '.join(ACTIONS)}"
                + (f" (got {', '.join(extra or names)})" if extra or names else ""),
            )
            return None
        kind = ACTIONS[names[0]]
        for key, (key_node, _) in items.items():
            if key in EXTRA_KEYS and key not in kind.extras:
                owners = ", ".join(a.name for a in ACTIONS.values() if key in a.extras)
                self.fail(key_node, f"node {node_id}: {key} only go with {owners}")
                return None
        extras = {k: v for k, (_, v) in items.items() if k in kind.extras}
        args = kind.parse(self, items[kind.name][1], extras, node_id)
        return Action(kind.name, args, _line(node)) if args is not None else None


def parse_flow(file: str, text: str, expected_name: str | None = None) -> Flow:
    """Parse one flow file's text; FlowError lists every problem found."""
    parser = _Parser(file, text, kept=True)
    flow = parser.flow(expected_name or Path(file).stem)
    if parser.problems or flow is None:
        raise FlowError(parser.problems or [Problem(file, 1, "could not be read")])
    return flow


def parse_keywords(
    file: str, text: str, flow_names: Iterable[str], lexicon: Lexicon | None = None
) -> KeywordSet:
    """Parse keywords.yaml; every keyword's flow must exist, every @concept the lexicon's."""
    lexicon = lexicon or Lexicon()
    parser = _Parser(file, text)
    root = parser.root()
    if root is None:
        raise FlowError(parser.problems)
    top = {k: v for k, _, v in parser.mapping(root, "the file")}
    names = set(flow_names)
    raw_keywords: list[dict[str, Any]] = []
    # An older file's `negations` list is ignored: negation now lives in understanding.yaml.
    if "keywords" not in top or not isinstance(top["keywords"], yaml.SequenceNode):
        parser.fail(root, "keywords.yaml needs a 'keywords' list")
    else:
        for item in top["keywords"].value:
            entry = parser.value(item)
            if not isinstance(entry, dict) or not {"intent", "flow"} <= entry.keys():
                parser.fail(item, "a keyword needs intent and flow")
                continue
            if entry["flow"] not in names:
                parser.fail(item, f"keyword {entry['intent']}: no flow named {entry['flow']!r}")
            mode = entry.get("mode", "whole")
            if mode not in ("whole", "phrase"):
                parser.fail(item, f"keyword {entry['intent']}: mode is whole or phrase")
            words = entry.get("phrases") or entry.get("words")
            if not words:
                needed = "phrases" if mode == "phrase" else "words (or phrases by language)"
                parser.fail(item, f"keyword {entry['intent']}: needs {needed}")
                continue
            listed = words.values() if isinstance(words, dict) else [words]
            for group in listed:
                for phrase in group if isinstance(group, list) else [group]:
                    try:
                        parse_pattern(str(phrase), lexicon.concepts)
                    except LexiconError as exc:
                        parser.fail(item, f"keyword {entry['intent']}: {exc}")
            raw_keywords.append(entry)
    if parser.problems:
        raise FlowError(parser.problems)
    return kw.build(raw_keywords, lexicon)


def check_senses(flows: dict[str, Flow], lexicon: Lexicon) -> list[Problem]:
    """Every yes/no question's sense must be one of understanding.yaml's senses."""
    problems = []
    for flow in flows.values():
        for node in flow.nodes.values():
            sense = node.wait.sense if node.wait is not None else None
            if sense is not None and sense not in lexicon.senses:
                known = ", ".join(sorted(lexicon.senses))
                problems.append(
                    Problem(
                        flow.source,
                        node.line,
                        f"node {node.id}: sense {sense!r} is not in understanding.yaml ({known})",
                    )
                )
    return problems


def lint(flow: Flow, known_ids: set[str] | None = None) -> list[Problem]:
    """Warnings that do not stop a flow: unreachable nodes, dead ends, untranslated texts."""
    warnings: list[Problem] = []
    reachable: set[str] = set()
    todo = [flow.start]
    while todo:
        node_id = todo.pop()
        if node_id in reachable or node_id not in flow.nodes:
            continue
        reachable.add(node_id)
        node = flow.nodes[node_id]
        routes = list(node.wait.routes.values()) if node.wait else []
        routes += [*node.cases.values(), *([node.default] if node.default else [])]
        todo += [r.goto for r in routes if r.goto] + ([node.next] if node.next else [])
    for node in flow.nodes.values():
        if node.id not in reachable:
            warnings.append(Problem(flow.source, node.line, f"node {node.id} is never reached"))
        if node.split and node.default is None:
            warnings.append(
                Problem(
                    flow.source,
                    node.line,
                    f"node {node.id}: split without default ends the flow for other values",
                )
            )
    if known_ids is not None:
        for node in flow.nodes.values():
            for msgid in message_ids(node):
                if msgid not in known_ids:
                    warnings.append(
                        Problem(
                            flow.source, node.line, f"node {node.id}: {msgid} has no translation"
                        )
                    )
    return warnings


def message_ids(node: Node) -> list[str]:
    """Every message id a node uses."""
    ids: list[str] = []
    actions = list(node.actions)
    if node.wait is not None:
        ids.append(node.wait.text)
        ids += [o.label for o in node.wait.options]
        for route in node.wait.routes.values():
            actions += route.actions
    for route in [*node.cases.values(), *([node.default] if node.default else [])]:
        actions += route.actions
    for action in actions:
        ids += ACTIONS[action.kind].message_ids(action.args)
    return ids


def display_path(file: Path) -> str:
    """A file's path as an admin would recognise it (relative to the working directory)."""
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)
