"""Babel extractor for flow files: every message id a flow names, with its line and node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

KEYWORDS_FILE_MARKER = "keywords"  # keywords.yaml holds words, not message ids


def _scalar(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _pairs(node: yaml.Node) -> list[tuple[str, yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(str(k.value), k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _actions(node: yaml.Node, where: str) -> Iterator[tuple[int, str, str]]:
    if not isinstance(node, yaml.SequenceNode):
        return
    for item in node.value:
        for key, _, value in _pairs(item):
            if key == "say" and (msgid := _scalar(value)):
                yield value.start_mark.line + 1, msgid, f"{where}: message"


def _routes(node: yaml.Node, where: str) -> Iterator[tuple[int, str, str]]:
    for _, _, route in _pairs(node):
        for key, _, value in _pairs(route):
            if key == "do":
                yield from _actions(value, where)


def message_ids(text: str) -> Iterator[tuple[int, str, str]]:
    """(line, message id, comment) for every text a flow file uses."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return
    top = {k: v for k, _, v in _pairs(root)}
    flow = _scalar(top["flow"]) if "flow" in top else "?"
    for node_id, _, node in _pairs(top.get("nodes")) if "nodes" in top else []:
        where = f"{flow}/{node_id}"
        for key, _, value in _pairs(node):
            if key == "ask" and (msgid := _scalar(value)):
                yield value.start_mark.line + 1, msgid, f"{where}: question"
            elif key == "do":
                yield from _actions(value, where)
            elif key in ("routes", "cases"):
                yield from _routes(value, where)
            elif key == "default":
                for k, _, v in _pairs(value):
                    if k == "do":
                        yield from _actions(v, where)
            elif key == "options" and isinstance(value, yaml.SequenceNode):
                for option in value.value:
                    for k, _, v in _pairs(option):
                        if k == "label" and (msgid := _scalar(v)):
                            yield v.start_mark.line + 1, msgid, f"{where}: option label"


def extract_flows(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method: yields (lineno, funcname, message, comments)."""
    text = fileobj.read().decode("utf-8")
    name = getattr(fileobj, "name", "")
    if str(name).endswith(f"{KEYWORDS_FILE_MARKER}.yaml"):
        return
    for line, msgid, comment in message_ids(text):
        yield line, "", msgid, [comment]
