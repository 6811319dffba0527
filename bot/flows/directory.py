"""A flows directory read whole: every flow, keywords.yaml and understanding.yaml, checked together.

Above both loader.py (flows and keywords) and understanding.py (which builds on the loader's
parser), so that neither needs the other late.
"""

from __future__ import annotations

from pathlib import Path

from bot.engine.definition import Flow, KeywordSet
from bot.engine.lexicon import Lexicon
from bot.flows.loader import (
    KEYWORDS_FILE,
    UNDERSTANDING_FILE,
    FlowError,
    Loaded,
    Problem,
    check_senses,
    display_path,
    lint,
    parse_flow,
    parse_keywords,
)
from bot.flows.understanding import SHIPPED, load_understanding


def load_dir(path: Path) -> Loaded:
    """Load every flow and keywords.yaml in a directory; FlowError lists all problems."""
    loaded = Loaded()
    problems: list[Problem] = []
    for file in sorted(path.glob("*.yaml")):
        if file.name in (KEYWORDS_FILE, UNDERSTANDING_FILE):
            continue
        text = file.read_text(encoding="utf-8")
        try:
            flow = parse_flow(display_path(file), text)
        except FlowError as exc:
            problems += exc.problems
            continue
        loaded.flows[flow.name] = flow
        loaded.sources[flow.name] = text
    problems += check_references(loaded.flows)
    lexicon = Lexicon()
    understanding_file = path / UNDERSTANDING_FILE
    if not understanding_file.exists():
        understanding_file = SHIPPED
    loaded.understanding_source = understanding_file.read_text(encoding="utf-8")
    try:
        lexicon = load_understanding(path)
    except FlowError as exc:
        problems += exc.problems
    problems += check_senses(loaded.flows, lexicon)
    loaded.keywords = KeywordSet(lexicon=lexicon)
    keywords_file = path / KEYWORDS_FILE
    if keywords_file.exists():
        loaded.keywords_source = keywords_file.read_text(encoding="utf-8")
        try:
            loaded.keywords = parse_keywords(
                display_path(keywords_file),
                keywords_file.read_text(encoding="utf-8"),
                loaded.flows,
                lexicon,
            )
        except FlowError as exc:
            problems += exc.problems
    if problems:
        raise FlowError(problems)
    for flow in loaded.flows.values():
        loaded.warnings += lint(flow)
    return loaded


def check_references(flows: dict[str, Flow]) -> list[Problem]:
    """Flows entered by another flow must exist."""
    problems = []
    for flow in flows.values():
        for node in flow.nodes.values():
            if node.enter is not None and node.enter not in flows:
                problems.append(
                    Problem(
                        flow.source,
                        node.line,
                        f"node {node.id}: enters flow {node.enter!r}, which does not exist",
                    )
                )
    return problems
