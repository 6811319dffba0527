"""`helpline flows docs`: docs/flows.md's action reference, written from the action registry."""

from __future__ import annotations

from pathlib import Path

from bot.engine.actions import REGISTRY, ActionKind

BEGIN = "<!-- actions: written by `helpline flows docs` from bot/engine/actions.py; edit there -->"
END = "<!-- /actions -->"
DOCS = Path("docs") / "flows.md"
DOC_FIELDS = ("form", "meaning", "example")


def _documented(kind: ActionKind) -> ActionKind:
    # An action added without its docs is refused here, so it cannot reach docs/flows.md quietly.
    for attr in DOC_FIELDS:
        if not str(getattr(kind, attr, "")).strip():
            raise ValueError(f"action {kind.name!r} has no {attr} (bot/engine/actions.py)")
    return kind


def _events(kind: ActionKind) -> str:
    events = ", ".join(f"`{e.type}`" for e in kind.emits)
    return " ".join(part for part in (events, kind.note) if part)


def render() -> str:
    """The action reference: a table of every action, then each one's example."""
    kinds = [_documented(k) for k in REGISTRY.values()]
    lines = [BEGIN, "| action | meaning | event |", "|---|---|---|"]
    lines += [f"| {k.form} | {k.meaning} | {_events(k)} |" for k in kinds]
    lines += ["", "Each action as written in a `do:` list:", "", "```yaml", "do:"]
    for kind in kinds:
        first, *rest = kind.example.splitlines()
        lines += [f"  - {first}", *(f"    {line}" for line in rest)]
    lines += ["```", END]
    return "\n".join(lines)


def update(text: str) -> str:
    """`text` with its action reference (between the markers) written again."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no action reference to write: the markers {BEGIN!r} and {END!r}")
    return text[:start] + render() + text[end + len(END) :]


def write_docs(path: Path = DOCS, check: bool = False) -> int:
    """Write the reference into `path` (with `check`: only say whether it is up to date)."""
    try:
        text = path.read_text(encoding="utf-8")
        new = update(text)
    except (OSError, ValueError) as exc:
        print(f"flows docs: {path}: {exc}")
        return 1
    if new == text:
        print(f"flows docs: {path} is up to date")
        return 0
    if check:
        print(f"flows docs: {path} is out of date; run `helpline flows docs {path}`")
        return 1
    path.write_text(new, encoding="utf-8")
    print(f"flows docs: {path} written")
    return 0
