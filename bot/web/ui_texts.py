"""The admin UI's own texts: English ids, Albanian in bot/web/locales/sq/LC_MESSAGES/admin.po."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).with_name("locales")
UI_LANGUAGES = ("sq", "en")


@functools.cache
def texts(language: str) -> dict[str, str]:
    """msgid -> text of one UI language (English ids are the English texts)."""
    path = LOCALES / language / "LC_MESSAGES" / "admin.po"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


def translator(language: str) -> Callable[[str], str]:
    """`_` for one language: the translation, else the English id."""
    table = texts(language if language in UI_LANGUAGES else "sq")
    return lambda msgid: table.get(msgid, msgid)
