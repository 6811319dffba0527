"""Dates as people text them: 23.11.2026, 23/11, 2026-11-23, sot, dje, today, yesterday."""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.engine.normalise import normalise

_RELATIVE = {
    "sot": 0,
    "today": 0,
    "danas": 0,
    "dje": -1,
    "yesterday": -1,
    "juce": -1,
    "pardje": -2,
    "para dy ditesh": -2,
    "day before yesterday": -2,
    "neser": 1,
    "tomorrow": 1,
}
_DMY = re.compile(r"^(\d{1,2})[./\- ](\d{1,2})(?:[./\- ](\d{2}|\d{4}))?\.?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_date(text: str, today: date) -> date | None:
    """The date meant by `text`, or None; a day and month without year is the latest past one."""
    raw = text.strip()
    relative = _RELATIVE.get(normalise(raw).replace("  ", " "))
    if relative is not None:
        return today + timedelta(days=relative)
    try:
        if m := _ISO.match(raw):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DMY.match(raw):
            day, month = int(m[1]), int(m[2])
            if m[3] is None:
                candidate = date(today.year, month, day)
                # Dates people give here (an order issued, an incident) are in the past.
                return candidate if candidate <= today else date(today.year - 1, month, day)
            year = int(m[3])
            return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        return None
    return None
