"""Emergency and help numbers per country, kept as data admins can edit (bot/data/numbers.yaml)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.messages import Urn

NUMBERS_FILE = Path(__file__).with_name("numbers.yaml")
REQUIRED = ("emergency", "police", "line")


def load_numbers(path: Path | None = None) -> dict[str, dict[str, str]]:
    """Country (AL, XK, default) -> name -> number; ValueError names the file and entry."""
    file = path or NUMBERS_FILE
    raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, str]] = {}
    for country, entries in raw.items():
        if not isinstance(entries, dict):
            raise ValueError(f"{file}: {country}: expected a mapping of name: number")
        table: dict[str, str] = {}
        for name, value in entries.items():
            number = value.get("number") if isinstance(value, dict) else value
            if number is None or str(number).strip() == "":
                raise ValueError(f"{file}: {country}.{name}: no number")
            table[str(name)] = str(number)
        out[str(country)] = table
    for country in ("AL", "XK", "default"):
        missing = [n for n in REQUIRED if n not in out.get(country, {})]
        if missing:
            raise ValueError(f"{file}: {country}: missing {', '.join(missing)}")
    return out


# Performance: phonenumbers' parse took 11 µs, asked on every message of the person; the
# answer never changes for an address. In this process's memory only, bounded, never logged or
# stored (the per-sender reply limiter, bot/web/limits.py, keeps addresses the same way).
@lru_cache(maxsize=4096)
def country_of_urn(urn: str | None) -> str | None:
    """AL or XK for a phone URN of Albania (+355) or Kosovo (+383); None for anything else."""
    try:
        region = Urn.parse(urn or "").country
    except ValueError:
        return None
    return region if region in ("AL", "XK") else None
