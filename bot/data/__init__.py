"""Data files admins can edit: municipalities, emergency numbers, the services directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).parent
MUNICIPALITIES_FILE = DATA_DIR / "municipalities.yaml"
SLUG = re.compile(r"^[a-z]+(-[a-z]+)*$")
TIME_ZONES = {"AL": "Europe/Tirane", "XK": "Europe/Belgrade"}
EXPECTED = {"AL": 61, "XK": 38}


def load_municipalities(path: Path | None = None) -> list[dict[str, Any]]:
    """Every municipality as a dict (slug, name, country, county, tz, aliases), validated."""
    file = path or MUNICIPALITIES_FILE
    items = yaml.safe_load(file.read_text(encoding="utf-8")) or []
    seen: set[str] = set()
    out = []
    for index, item in enumerate(items, start=1):
        where = f"{file}: entry {index}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected slug, name, country, county, tz, aliases")
        slug = str(item.get("slug", ""))
        if not SLUG.match(slug):
            raise ValueError(f"{where}: slug {slug!r} is not lower-case words joined by '-'")
        if slug in seen or slug == "national":
            raise ValueError(f"{where}: slug {slug!r} is used twice or reserved")
        seen.add(slug)
        country = item.get("country")
        if country not in TIME_ZONES:
            raise ValueError(f"{where} ({slug}): country must be AL or XK")
        if item.get("tz") != TIME_ZONES[country]:
            raise ValueError(f"{where} ({slug}): tz must be {TIME_ZONES[country]}")
        if not item.get("name") or not item.get("county"):
            raise ValueError(f"{where} ({slug}): name and county are required")
        aliases = item.get("aliases") or []
        if not isinstance(aliases, list):
            raise ValueError(f"{where} ({slug}): aliases is a list")
        out.append(
            {
                "slug": slug,
                "name": str(item["name"]),
                "country": country,
                "county": str(item["county"]),
                "tz": item["tz"],
                "aliases": [str(a) for a in aliases],
            }
        )
    if path is None:
        for country, expected in EXPECTED.items():
            found = sum(1 for m in out if m["country"] == country)
            if found != expected:
                raise ValueError(
                    f"{file}: {found} municipalities for {country}, expected {expected}"
                )
    return out
