"""The flows the helpline serves: the current version of each, and older ones sessions still use."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine.definition import Flow, KeywordSet
from bot.flows.directory import load_dir
from bot.flows.loader import (
    KEYWORDS_FILE,
    UNDERSTANDING_FILE,
    FlowError,
    Loaded,
    Problem,
    check_senses,
    parse_flow,
    parse_keywords,
)
from bot.flows.understanding import parse_understanding

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReloadResult:
    """What a reload did: the new versions, or the problems that kept the old ones serving."""

    ok: bool
    changed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class FlowLibrary:
    """Implements the engine's FlowSource; a bad reload leaves the last good flows serving."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.current: dict[str, Flow] = {}
        self.sources: dict[str, str] = {}
        self.keywords = KeywordSet()
        self.keywords_source = ""
        self.understanding_source = ""  # what the lexicon in self.keywords was read from
        self._versions: dict[tuple[str, str], Flow] = {}

    def get(self, name: str, version: str | None = None) -> Flow:
        """The flow at `version` (a pinned session) or the current one; KeyError when unknown."""
        if version is None:
            return self.current[name]
        return self._versions[(name, version)]

    def has_version(self, name: str, version: str) -> bool:
        """True when that version is loaded."""
        return (name, version) in self._versions

    def add_version(self, name: str, source: str) -> Flow:
        """Load an older version (from the store) so sessions pinned to it keep running."""
        flow = parse_flow(f"{name}.yaml (stored)", source, expected_name=name)
        self._versions[(name, flow.version)] = flow
        return flow

    def reload(self) -> ReloadResult:
        """Load the directory again; on any error keep serving what was loaded before."""
        try:
            loaded: Loaded = load_dir(self.directory)
        except FlowError as exc:
            for problem in exc.problems:
                log.error("flow problem: %s", problem)
            return ReloadResult(ok=False, problems=exc.problems)
        if not loaded.flows:
            problem = Problem(str(self.directory), 1, "no flow files found")
            return ReloadResult(ok=False, problems=[problem])
        changed = [
            name
            for name, flow in loaded.flows.items()
            if name not in self.current or self.current[name].version != flow.version
        ]
        self.current = loaded.flows
        self.sources = loaded.sources
        self.keywords = loaded.keywords
        self.keywords_source = loaded.keywords_source
        self.understanding_source = loaded.understanding_source
        for flow in loaded.flows.values():
            self._versions[(flow.name, flow.version)] = flow
        return ReloadResult(ok=True, changed=changed, warnings=loaded.warnings)

    def check_understanding(self, source: str) -> KeywordSet:
        """The keywords read with the lexicon of `source`; FlowError names every problem."""
        lexicon = parse_understanding(UNDERSTANDING_FILE, source)
        problems = check_senses(self.current, lexicon)
        if problems:
            raise FlowError(problems)
        if not self.keywords_source:
            return KeywordSet(lexicon=lexicon)
        return parse_keywords(KEYWORDS_FILE, self.keywords_source, self.current, lexicon)

    def serve_understanding(self, source: str) -> None:
        """Read from now on with the lexicon of `source` (FlowError leaves the old one serving)."""
        keywords = self.check_understanding(source)
        # One assignment each: the pipeline reads these between awaits, never half-changed.
        self.keywords = keywords
        self.understanding_source = source
