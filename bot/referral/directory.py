"""The services directory: per municipality and kind, nearest alternatives, CSV import and export.

CSV columns (header required, UTF-8): country, municipality, kind, name, phone, hours, notes,
serves. `municipality` is a slug or `national` (the whole country); `kind` is one of shelter,
police, health, legal, psychosocial, social, economic; `serves` lists other municipalities'
slugs, separated by `;`, that the service also takes people from (Shkodër's emergency shelter
serves Has). An entry whose notes say SAMPLE is sample data: coordinators see it, a person
asking for help never does.

Nearest first: services in the person's municipality, then services that serve it, then others
in the same county, then the national ones of the country.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.referral import texts as T
from bot.store.records import Municipality, Service

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "services.csv"
COLUMNS = ("country", "municipality", "kind", "name", "phone", "hours", "notes", "serves")
KINDS = ("shelter", "police", "health", "legal", "psychosocial", "social", "economic")
COUNTRIES = ("AL", "XK")
NATIONAL = "national"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{1,30}$")
MAX_NAME = 255


class DirectoryError(ValueError):
    """A CSV file could not be imported; names the line and the problem."""

    def __init__(self, line: int, problem: str, source: str = "services.csv") -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.line, self.problem = line, problem


def parse_csv(
    text: str,
    *,
    municipalities: Mapping[str, Municipality] | None = None,
    source: str = "services.csv",
) -> list[Service]:
    """Every row validated; the first bad one raises DirectoryError (nothing is half-imported).

    With `municipalities`, slugs must name known ones (and match the row's country).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DirectoryError(1, f"missing columns: {', '.join(missing)}", source)
    reader.fieldnames = header
    items: list[Service] = []
    for row in reader:
        line = reader.line_num
        values = {k: (row.get(k) or "").strip() for k in COLUMNS}
        if not any(values.values()):
            continue
        if None in row:
            raise DirectoryError(
                line, "more fields than columns (quote a comma in a value)", source
            )
        items.append(_service(values, line, municipalities, source))
    return items


def _service(
    values: dict[str, str],
    line: int,
    municipalities: Mapping[str, Municipality] | None,
    source: str,
) -> Service:
    """One validated CSV row."""

    def fail(problem: str) -> DirectoryError:
        return DirectoryError(line, problem, source)

    country = values["country"].upper()
    if country not in COUNTRIES:
        raise fail(f"country must be AL or XK, not {values['country']!r}")
    slug = values["municipality"].lower()
    _check_slug(slug, country, municipalities, fail, allow_national=True)
    kind = values["kind"].lower()
    if kind not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)}, not {values['kind']!r}")
    if not values["name"]:
        raise fail("name is empty")
    if len(values["name"]) > MAX_NAME:
        raise fail(f"name is longer than {MAX_NAME} characters")
    if not _PHONE.match(values["phone"]) or sum(ch.isdigit() for ch in values["phone"]) < 3:
        raise fail(f"phone {values['phone']!r} is not a phone number (digits, spaces, +, -)")
    serves = tuple(s.strip().lower() for s in values["serves"].split(";") if s.strip())
    for served in serves:
        _check_slug(served, None, municipalities, fail, allow_national=False)
    return Service(
        country=country,
        municipality=slug,
        kind=kind,
        name=values["name"],
        phone=values["phone"],
        hours=values["hours"] or None,
        notes=values["notes"] or None,
        serves=serves,
    )


def _check_slug(
    slug: str,
    country: str | None,
    municipalities: Mapping[str, Municipality] | None,
    fail: Callable[[str], DirectoryError],
    *,
    allow_national: bool,
) -> None:
    """Raise `fail(...)` unless the slug names a (known) municipality."""
    if slug == NATIONAL:
        if allow_national:
            return
        raise fail("serves lists municipalities, not national")
    if not _SLUG.match(slug):
        raise fail(f"{slug!r} is not a municipality slug (lower case, words joined by -)")
    if municipalities:
        known = municipalities.get(slug)
        if known is None:
            raise fail(f"unknown municipality {slug!r}")
        if country is not None and known.country != country:
            raise fail(f"{slug} is in {known.country}, not {country}")


def to_csv(items: Iterable[Service]) -> str:
    """The directory as CSV, in the import format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in items:
        writer.writerow(
            [
                s.country,
                s.municipality,
                s.kind,
                s.name,
                s.phone,
                s.hours or "",
                s.notes or "",
                ";".join(s.serves),
            ]
        )
    return out.getvalue()


_DAYS = r"(mon|tue|wed|thu|fri|sat|sun)"
_TIMES = r"(\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})"
_DAY_RANGE = re.compile(rf"^{_DAYS}\s*-\s*{_DAYS}\s+{_TIMES}$", re.IGNORECASE)


def hours_words(hours: str, say: Callable[..., str]) -> str:
    """A directory entry's hours ("24/7, free", "Mon-Fri 08:00-16:00") in the reader's language.

    `say(msgid, **params)` translates; a part written otherwise is shown as written.
    """
    words = []
    for part in (p.strip() for p in hours.split(",")):
        if not part:
            continue
        days = _DAY_RANGE.match(part)
        if part == "24/7":
            words.append(say(T.HOURS_ALWAYS))
        elif part.lower() == "free":
            words.append(say(T.HOURS_FREE))
        elif days:
            first, last, times = days.groups()
            words.append(
                say(
                    T.HOURS_DAYS,
                    first=say(T.DAY[first.lower()]),
                    last=say(T.DAY[last.lower()]),
                    times=re.sub(r"\s+", "", times),
                )
            )
        else:
            words.append(part)
            continue
        if len(words) == 1:  # "e hënë-e premte" opens the line: "E hënë-e premte"
            words[0] = words[0][:1].upper() + words[0][1:]
    return ", ".join(words)


def load_seed(path: Path = SEED_FILE) -> list[Service]:
    """The directory shipped with the helpline."""
    return parse_csv(path.read_text(encoding="utf-8"), source=path.name)


@dataclass(frozen=True, slots=True)
class Found:
    """A service and why it was chosen (local, serves, county, national)."""

    service: Service
    why: str


def nearest(
    items: Sequence[Service],
    municipality: str | None,
    kind: str,
    municipalities: Mapping[str, Municipality],
    *,
    include_samples: bool = False,
    limit: int = 3,
) -> list[Found]:
    """The services of a kind for a person in `municipality`, nearest first."""
    place = municipalities.get(municipality or "")
    country = place.country if place else None
    county = place.county if place else None
    ranked: list[tuple[int, int, Found]] = []
    for position, s in enumerate(items):
        if s.kind != kind or (s.sample and not include_samples):
            continue
        if country is not None and s.country != country:
            continue
        if place is not None and s.municipality == place.slug:
            rank, why = 0, "local"
        elif place is not None and place.slug in s.serves:
            rank, why = 1, "serves"
        elif (
            county
            and s.municipality in municipalities
            and municipalities[s.municipality].county == county
        ):
            rank, why = 2, "county"
        elif s.municipality == NATIONAL:
            rank, why = 3, "national"
        else:
            continue
        ranked.append((rank, position, Found(s, why)))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [f for _, _, f in ranked[:limit]]
