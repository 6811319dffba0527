"""understanding.yaml -> the engine's Lexicon, with errors that name file, line and problem."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.engine.lexicon import Lexicon, build_lexicon
from bot.flows.loader import UNDERSTANDING_FILE, FlowError, Problem, _Parser, display_path

SHIPPED = Path(__file__).parent / UNDERSTANDING_FILE


def _node_at(root: yaml.Node, path: tuple[str, ...]) -> yaml.Node:
    """The deepest node along `path` (mapping keys and list indexes), for its line."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == part:
                    node = value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            return node
    return node


def parse_understanding(file: str, text: str) -> Lexicon:
    """Parse understanding.yaml's text; FlowError lists every problem with its line."""
    parser = _Parser(file, text)
    root = parser.root()
    if root is None:
        raise FlowError(parser.problems or [Problem(file, 1, "could not be read")])
    data = parser.value(root)
    if not isinstance(data, dict):
        raise FlowError([Problem(file, 1, "understanding.yaml is a mapping of sections")])

    def report(path: tuple[str, ...], message: str) -> None:
        where = ".".join(path)
        parser.fail(_node_at(root, path), f"{where}: {message}")

    lexicon = build_lexicon(data, report=report)
    if parser.problems:
        raise FlowError(parser.problems)
    return lexicon


def load_understanding(directory: Path) -> Lexicon:
    """The lexicon of a flow directory, or the shipped one when the directory has none."""
    file = directory / UNDERSTANDING_FILE
    if not file.exists():
        return shipped_lexicon()
    return parse_understanding(display_path(file), file.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def shipped_lexicon() -> Lexicon:
    """The lexicon shipped with the helpline (bot/flows/understanding.yaml)."""
    return parse_understanding(display_path(SHIPPED), SHIPPED.read_text(encoding="utf-8"))
