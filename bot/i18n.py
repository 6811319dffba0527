"""Babel catalogs per locale, cached; admin overrides layered over the shipped catalogs."""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).with_name("locales")
LOCALES = ("sq", "en")
DEFAULT_LOCALE = "sq"
DOMAIN = "messages"


class _Keep(dict):
    """format_map helper: an unknown placeholder stays visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _load(directory: Path, locale: str) -> dict[str, str]:
    """msgid -> text for one locale: the .mo when it is fresh, else the .po itself."""
    base = directory / locale / "LC_MESSAGES"
    po, mo = base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            catalog = read_mo(fh)
    elif po.exists():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
    else:
        return {}
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


class Catalogs:
    """Every text a person reads, by locale and message id."""

    locales: tuple[str, ...] = LOCALES

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or LOCALES_DIR
        self._shipped = {locale: _load(self.directory, locale) for locale in LOCALES}
        self._overrides: dict[tuple[str, str], str] = {}

    def set_overrides(self, overrides: Mapping[tuple[str, str], str]) -> None:
        """Replace the admin override layer: (locale, msgid) -> text; takes effect at once."""
        self._overrides = dict(overrides)

    def raw(self, locale: str, msgid: str) -> str | None:
        """The unformatted text, or None when this locale lacks it."""
        return self._overrides.get((locale, msgid)) or self._shipped.get(locale, {}).get(msgid)

    def has(self, locale: str, msgid: str) -> bool:
        """True when the locale has a text for this id."""
        return self.raw(locale, msgid) is not None

    def ids(self) -> set[str]:
        """Every id any locale has."""
        return {msgid for table in self._shipped.values() for msgid in table}

    def text(self, locale: str, msgid: str, params: Mapping[str, Any] | None = None) -> str:
        """The text in `locale` (English, then the id, when missing) with params filled in."""
        if locale not in LOCALES:
            locale = DEFAULT_LOCALE
        template = self.raw(locale, msgid)
        if template is None:
            log.warning("no %s text for message id %s", locale, msgid)
            template = self.raw("en", msgid) or msgid
        if not params:
            return template
        try:
            return string.Formatter().vformat(template, (), _Keep(params))
        except (ValueError, IndexError, AttributeError):
            log.warning("broken placeholders in %s text of %s", locale, msgid)
            return template

    def translator(self, locale: str) -> Callable[[str], str]:
        """A one-argument gettext for one locale."""
        return lambda msgid: self.text(locale, msgid)
