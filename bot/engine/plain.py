"""Plain copies of engine data, as dataclasses.asdict makes them, at a fraction of its cost."""

from __future__ import annotations

import copy
from dataclasses import fields, is_dataclass
from typing import Any

# Values asdict passes through copy.deepcopy, which hands them back as they are. Python 3.11's
# asdict calls deepcopy for each (3.12 skips these types); here they are taken as they are.
ATOMS = frozenset({str, int, float, bool, type(None), bytes, complex})


def copied(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a dict of plain values (a session's results, fields, case_info...)."""
    # Nearly always atoms only (checked in C, no loop in Python): then a C copy is deep. Keys
    # are taken as they are (hashable; strings in a session, where asdict made equal copies).
    if ATOMS.issuperset(map(type, value.values())):
        return value.copy()
    return {k: v if type(v) in ATOMS else plain(v) for k, v in value.items()}


def plain(value: Any) -> Any:
    """`value` as asdict converts it: dataclasses to dicts, containers rebuilt, the rest
    deep-copied (3.11's _asdict_inner, with atoms and dicts and lists of atoms in C)."""
    kind = type(value)
    if kind in ATOMS:
        return value
    if kind is dict:
        return copied(value)
    if kind is list:
        if ATOMS.issuperset(map(type, value)):
            return value.copy()
        return [v if type(v) in ATOMS else plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return kind(*[plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return kind(plain(v) for v in value)
    if isinstance(value, dict):
        return kind((plain(k), plain(v)) for k, v in value.items())
    return copy.deepcopy(value)  # dates and the rest: rare in engine data
