"""ISO-8601 durations (PT5M, P1D, P1DT2H) to timedelta, stdlib only."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration without years or months; ValueError if malformed."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in {"P", "PT"} or text.strip().upper().endswith("T"):
        raise ValueError(f"not an ISO-8601 duration: {text!r} (examples: PT5M, PT2H, P1D)")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)
