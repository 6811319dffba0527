"""Data files admins can edit: municipalities, emergency numbers, the services directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.engine.normalise import fold, normalise

DATA_DIR = Path(__file__).parent
MUNICIPALITIES_FILE = DATA_DIR / "municipalities.yaml"
SLUG = re.compile(r"^[a-z]+(-[a-z]+)*$")
TIME_ZONES = {"AL": "Europe/Tirane", "XK": "Europe/Belgrade"}
EXPECTED = {"AL": 61, "XK": 38}
RESERVED_SLUGS = {"national"}  # the national fallback duty, handled by routing
FIELDS = ("slug", "name", "country", "county", "tz", "seat", "aliases")
# Seats must lie in this box around Albania and Kosovo: a typo (a swapped pair) is caught.
SEAT_BOX = ((39.5, 43.4), (19.0, 21.9))


class DataError(ValueError):
    """A data file is wrong; the message names the file, the entry and the problem."""


def slugify(name: str) -> str:
    """The slug of an Albanian name: 'Vau i Dejës' -> 'vau-i-dejes'."""
    return "-".join(re.findall(r"[a-z]+", fold(name)))


def _valid_seat(seat: object) -> bool:
    """A [latitude, longitude] pair inside SEAT_BOX."""
    if not isinstance(seat, list) or len(seat) != 2:
        return False
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in seat):
        return False
    (lat_lo, lat_hi), (lon_lo, lon_hi) = SEAT_BOX
    return lat_lo <= seat[0] <= lat_hi and lon_lo <= seat[1] <= lon_hi


def _entry(item: object, where: str) -> dict[str, Any]:
    """One municipality, checked field by field."""
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a mapping with {', '.join(FIELDS)}")
    unknown = set(item) - set(FIELDS)
    if unknown:
        raise DataError(f"{where}: unknown field {sorted(map(str, unknown))[0]!r}")
    slug = item.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise DataError(f"{where}: slug {slug!r} is not lower-case letters in words joined by '-'")
    where = f"{where} ({slug})"
    if slug in RESERVED_SLUGS:
        raise DataError(f"{where}: the slug {slug!r} is reserved")
    for key in ("name", "county"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise DataError(f"{where}: {key} is required")
    country = item.get("country")
    if country not in TIME_ZONES:
        raise DataError(f"{where}: country must be one of {', '.join(TIME_ZONES)}, not {country!r}")
    if item.get("tz") != TIME_ZONES[country]:
        raise DataError(f"{where}: tz must be {TIME_ZONES[country]} for {country}")
    seat = item.get("seat")
    if seat is not None and not _valid_seat(seat):
        raise DataError(f"{where}: seat must be [latitude, longitude] inside Albania or Kosovo")
    aliases = item.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise DataError(f"{where}: aliases is a list of spellings")
    return {
        "slug": slug,
        "name": item["name"].strip(),
        "country": country,
        "county": item["county"].strip(),
        "tz": TIME_ZONES[country],
        "aliases": [a.strip() for a in aliases],
    }


def load_municipalities(path: Path | None = None) -> list[dict[str, Any]]:
    """Every municipality as a dict (slug, name, country, county, tz, aliases), validated."""
    file = path or MUNICIPALITIES_FILE
    try:
        text = file.read_text(encoding="utf-8")
        nodes = yaml.compose(text, Loader=yaml.SafeLoader)
        items = yaml.safe_load(text)
    except OSError as exc:
        raise DataError(f"{file}: cannot be read ({exc.strerror})") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise DataError(f"{file}:{line}: not valid YAML: {exc.problem}") from None
    if not isinstance(items, list) or not isinstance(nodes, yaml.SequenceNode):
        raise DataError(f"{file}: expected a list of municipalities (lines starting with '- ')")
    out: list[dict[str, Any]] = []
    owners: dict[str, str] = {}  # normalised name or alias -> slug, so none names two places
    for index, (item, node) in enumerate(zip(items, nodes.value, strict=True), start=1):
        where = f"{file}:{node.start_mark.line + 1}: entry {index}"
        entry = _entry(item, where)
        where = f"{where} ({entry['slug']})"
        if any(entry["slug"] == other["slug"] for other in out):
            raise DataError(f"{where}: slug {entry['slug']!r} is used twice")
        for spelling in (entry["name"], entry["slug"].replace("-", " "), *entry["aliases"]):
            key = normalise(spelling)
            owner = owners.setdefault(key, entry["slug"])
            if owner != entry["slug"]:
                raise DataError(f"{where}: {spelling!r} already names {owner}")
        out.append(entry)
    for country, expected in EXPECTED.items():
        found = sum(1 for m in out if m["country"] == country)
        if found != expected:
            raise DataError(f"{file}: {found} municipalities for {country}, expected {expected}")
    return out
