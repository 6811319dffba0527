"""`helpline flows check`: validate flow files and print file:line: problem for each mistake."""

from __future__ import annotations

from pathlib import Path

from bot.flows.directory import load_dir
from bot.flows.loader import (
    KEYWORDS_FILE,
    UNDERSTANDING_FILE,
    FlowError,
    Problem,
    display_path,
    lint,
    parse_flow,
    parse_keywords,
)
from bot.flows.understanding import load_understanding, parse_understanding


def _check_file(file: Path) -> tuple[list[Problem], list[Problem], int]:
    data_files = (KEYWORDS_FILE, UNDERSTANDING_FILE)
    siblings = {p.stem for p in file.parent.glob("*.yaml") if p.name not in data_files}
    text = file.read_text(encoding="utf-8")
    try:
        if file.name == UNDERSTANDING_FILE:
            parse_understanding(display_path(file), text)
            return [], [], 0
        if file.name == KEYWORDS_FILE:
            parse_keywords(display_path(file), text, siblings, load_understanding(file.parent))
            return [], [], 0
        flow = parse_flow(display_path(file), text)
    except FlowError as exc:
        return exc.problems, [], 0
    problems = [
        Problem(
            flow.source,
            node.line,
            f"node {node.id}: enters flow {node.enter!r}, which does not exist",
        )
        for node in flow.nodes.values()
        if node.enter is not None and node.enter not in siblings
    ]
    return problems, lint(flow), 1


def check_paths(paths: list[Path]) -> int:
    """Validate files and directories; 0 when all are good, 1 otherwise."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    count = 0
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), 0, "no such file or directory"))
        elif path.is_dir():
            try:
                loaded = load_dir(path)
            except FlowError as exc:
                problems += exc.problems
            else:
                count += len(loaded.flows)
                warnings += loaded.warnings
        else:
            found, linted, n = _check_file(path)
            problems += found
            warnings += linted
            count += n
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(f"error: {problem}")
    if problems:
        print(f"flows check: {len(problems)} error(s); fix them — the last good flows keep serving")
        return 1
    print(f"flows check: {count} flow(s) OK, {len(warnings)} warning(s)")
    return 0
