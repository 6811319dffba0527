"""The engine imports nothing beyond the standard library (and itself)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "bot" / "engine"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_engine_imports_only_stdlib_and_itself():
    offenders = {}
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) >= 10
    for file in files:
        for module in imported_modules(file):
            top = module.split(".")[0]
            if module.startswith("bot.engine") or top in sys.stdlib_module_names:
                continue
            offenders.setdefault(file.name, []).append(module)
    assert offenders == {}


def test_the_check_itself_catches_a_third_party_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import yaml\nfrom bot.store import db\n")
    assert imported_modules(bad) == {"yaml", "bot.store"}
