"""Babel extractor for flow files: every message id a flow names, with its line, flow and node."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import yaml

# keywords.yaml holds words people type, not message ids.
KEYWORDS_FILE = "keywords.yaml"

Found = tuple[int, str, str]  # (line, message id, comment)


class FlowSyntaxError(ValueError):
    """A flow file is not YAML; the message names the file and line."""


def _text(node: yaml.Node | None) -> str | None:
    """A non-empty scalar's text; an empty id would collide with the catalog header."""
    if isinstance(node, yaml.ScalarNode) and str(node.value).strip():
        return str(node.value).strip()
    return None


def _items(node: yaml.Node | None) -> list[tuple[str, yaml.Node]]:
    """A mapping node's (key, value) pairs; nothing for any other node."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(str(k.value), v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _list(node: yaml.Node | None) -> list[yaml.Node]:
    """A sequence node's items; nothing for any other node."""
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _found(node: yaml.Node, where: str, kind: str) -> Iterator[Found]:
    """One message id with its line (YAML marks count from 0)."""
    if (msgid := _text(node)) is not None:
        yield node.start_mark.line + 1, msgid, f"{where}: {kind}"


def _actions(node: yaml.Node | None, where: str) -> Iterator[Found]:
    """Ids of `say` actions in a `do:` list."""
    for action in _list(node):
        for key, value in _items(action):
            if key == "say":
                yield from _found(value, where, "message")


def _route(node: yaml.Node | None, where: str) -> Iterator[Found]:
    """Ids in a route's `do:` (a route may also be just a node id)."""
    for key, value in _items(node):
        if key == "do":
            yield from _actions(value, where)


def _node(node: yaml.Node, where: str) -> Iterator[Found]:
    """Ids one node uses, in file order."""
    for key, value in _items(node):
        if key == "ask":
            yield from _found(value, where, "question")
        elif key == "do":
            yield from _actions(value, where)
        elif key == "options":
            for option in _list(value):
                for field, label in _items(option):
                    if field == "label":
                        yield from _found(label, where, "option label")
        elif key in ("routes", "cases"):
            for _, route in _items(value):
                yield from _route(route, where)
        elif key == "default":
            yield from _route(value, where)


def message_ids(source: str | IO[bytes], default_flow: str = "?") -> Iterator[Found]:
    """(line, message id, comment) for every message id in a flow file, in file order."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        name = mark.name if mark else "flow"
        raise FlowSyntaxError(f"{name}{line}: not valid YAML: {exc.problem}") from None
    top = dict(_items(root))
    flow = _text(top.get("flow")) or default_flow
    for node_id, node in _items(top.get("nodes")):
        yield from _node(node, f"{flow}/{node_id}")


def extract_flows(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method: (lineno, funcname, message, comments) per message id."""
    path = Path(str(getattr(fileobj, "name", "")))
    if path.name == KEYWORDS_FILE:
        return
    for line, msgid, comment in message_ids(fileobj, default_flow=path.stem or "?"):
        yield line, "", msgid, [comment]
