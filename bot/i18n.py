"""Babel catalogs per locale, cached; admin overrides layered over the shipped catalogs."""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).with_name("locales")
LOCALES = ("sq", "en")
DEFAULT_LOCALE = "sq"
FALLBACK_LOCALE = "en"  # the language every id is written in first
DOMAIN = "messages"
_FORMATTER = string.Formatter()


def catalog_files(directory: Path, locale: str) -> tuple[Path, Path]:
    """(.po, .mo) paths of one locale's catalog."""
    base = directory / locale / "LC_MESSAGES"
    return base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"


def load_texts(directory: Path, locale: str) -> dict[str, str]:
    """msgid -> text for one locale: the .mo when newer than its .po, else the .po itself."""
    po, mo = catalog_files(directory, locale)
    catalog: Catalog
    # A .po edited after the last compile wins, so a fresh clone or a quick fix works uncompiled.
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime_ns > po.stat().st_mtime_ns):
        with mo.open("rb") as fh:
            catalog = read_mo(fh)
    elif po.is_file():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
    else:
        log.warning("no catalog for locale %s in %s", locale, directory)
        return {}
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def fill(template: str, params: Mapping[str, object]) -> str | None:
    """str.format with named params only; a missing or unusual placeholder stays as written.

    Only plain `{name}` is filled: attribute and index lookups (`{x.__class__}`) would let an
    edited text reach into objects, and a wrong format spec would crash a reply. None when the
    braces cannot be parsed at all.
    """
    if "{" not in template and "}" not in template:
        return template  # most texts, and every button label: nothing to parse
    parts = _parsed(template)
    if parts is None:
        return None
    out: list[str] = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if field in params and field.isidentifier() and not spec and not conversion:
            out.append(str(params[field]))
        else:
            bang = f"!{conversion}" if conversion else ""
            colon = f":{spec}" if spec else ""
            out.append("{" + field + bang + colon + "}")
    return "".join(out)


# Performance: a reply's texts and, for every answer read, each label in both languages were
# parsed at every message; a catalog's templates are few and not personal (params are filled
# after), so their parts are kept, bounded.
@lru_cache(maxsize=4096)
def _parsed(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...] | None:
    """str.Formatter's parts of a template, None when its braces cannot be parsed."""
    try:
        return tuple(_FORMATTER.parse(template))
    except ValueError:
        return None


def pick_locale(locale: str | None) -> str:
    """One of LOCALES for a contact's language ('en-GB' -> 'en'); unknown -> 'sq'."""
    language = (locale or "").replace("-", "_").split("_")[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


class Catalogs:
    """Every text a person reads, by locale and message id, with the admins' overrides on top."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or LOCALES_DIR
        self._shipped: dict[str, dict[str, str]] = {}
        self._overrides: dict[tuple[str, str], str] = {}
        self._warned: set[tuple[str, str]] = set()
        self.reload()

    @property
    def locales(self) -> tuple[str, ...]:
        """The languages the helpline speaks, default first."""
        return LOCALES

    def reload(self) -> None:
        """Read the shipped catalogs again (after `helpline i18n compile`); overrides stay."""
        self._shipped = {locale: load_texts(self.directory, locale) for locale in LOCALES}
        self._warned = set()

    def set_overrides(self, overrides: Mapping[tuple[str, str], str]) -> None:
        """Replace the admin override layer, (locale, msgid) -> text; takes effect at once."""
        # One assignment, so a reader sees the old layer or the new one, never half of each.
        self._overrides = {key: text for key, text in overrides.items() if text}

    def shipped(self, locale: str, msgid: str) -> str | None:
        """The text from the catalog files, ignoring overrides (for the admin UI)."""
        return self._shipped.get(locale, {}).get(msgid)

    def raw(self, locale: str, msgid: str) -> str | None:
        """The unformatted text (override first), or None when this locale has none."""
        return self._overrides.get((locale, msgid)) or self.shipped(locale, msgid)

    def has(self, locale: str, msgid: str) -> bool:
        """True when the locale has a text for this id."""
        return self.raw(locale, msgid) is not None

    def ids(self) -> set[str]:
        """Every id some locale has a text for."""
        shipped = {msgid for table in self._shipped.values() for msgid in table}
        return shipped | {msgid for _, msgid in self._overrides}

    def _warn_once(self, locale: str, msgid: str, problem: str) -> None:
        """Log a catalog problem once per id; ids only, never texts or params."""
        if (locale, msgid) not in self._warned:
            self._warned.add((locale, msgid))
            log.warning("message id %s (%s): %s", msgid, locale, problem)

    def text(self, locale: str, msgid: str, params: Mapping[str, object] | None = None) -> str:
        """The text in `locale` (else English, else the id itself) with params filled in."""
        # Performance: ~4 texts a message (a reply, its options' labels). A locale that is one
        # of LOCALES already is what pick_locale gives; raw's and shipped's look-ups inlined;
        # a text without braces is what fill gives.
        if locale not in LOCALES:
            locale = pick_locale(locale)
        template = self._overrides.get((locale, msgid)) or self._shipped.get(locale, {}).get(msgid)
        if template is not None and "{" not in template and "}" not in template:
            return template
        if template is None:
            self._warn_once(locale, msgid, "no text; using the English one or the id")
            template = self.raw(FALLBACK_LOCALE, msgid) or msgid
        filled = fill(template, params or {})
        if filled is None:
            self._warn_once(locale, msgid, "broken braces; sent without params")
            return template
        return filled

    def translator(self, locale: str) -> Callable[[str], str]:
        """A one-argument gettext for one locale."""
        return lambda msgid: self.text(locale, msgid)
