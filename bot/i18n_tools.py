"""The Babel workflow behind `helpline i18n extract|update|compile|check`."""

from __future__ import annotations

import io
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALES

ROOT = Path(__file__).resolve().parent.parent
# Paths are relative to bot/, so extraction never walks .venv or var/.
METHOD_MAP = [("flows/**.yaml", "bot.flows.extract:extract_flows"), ("**.py", "python")]
KEYWORDS = {"N_": None}
PROJECT = "helpline"


def _root(root: Path | None) -> Path:
    return root or ROOT


def _locales_dir(root: Path) -> Path:
    return root / "bot" / "locales"


def _po_path(root: Path, locale: str) -> Path:
    return _locales_dir(root) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def build_template(root: Path | None = None) -> Catalog:
    """Every message id the code and the flows use, freshly extracted."""
    base = _root(root)
    catalog = Catalog(project=PROJECT, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(base / "bot"),
        method_map=METHOD_MAP,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        if filename.endswith("keywords.yaml"):
            continue
        catalog.add(
            message,
            None,
            [(f"bot/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def extract(root: Path | None = None) -> int:
    """Write bot/locales/messages.pot from the code and the flows."""
    base = _root(root)
    template = build_template(base)
    path = _locales_dir(base) / f"{DOMAIN}.pot"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, template, width=100, sort_by_file=True)
    print(f"extracted {len(template)} message ids to {path.relative_to(base)}")
    return 0


def _read(path: Path, locale: str) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def update(root: Path | None = None) -> int:
    """Bring sq and en catalogs up to date with the code; keep texts, never guess new ones."""
    base = _root(root)
    template = build_template(base)
    for locale in LOCALES:
        path = _po_path(base, locale)
        catalog = _read(path, locale) if path.exists() else Catalog(locale=locale)
        # no_fuzzy_matching: a new id must never inherit a similar id's text.
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, ignore_obsolete=False)
        print(f"updated {path.relative_to(base)}")
    return 0


def compile_catalogs(root: Path | None = None) -> int:
    """Compile each .po into the .mo the helpline loads."""
    base = _root(root)
    for locale in LOCALES:
        path = _po_path(base, locale)
        catalog = _read(path, locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        path.with_suffix(".mo").write_bytes(buffer.getvalue())
        print(f"compiled {path.with_suffix('.mo').relative_to(base)}")
    return 0


def placeholders(text: str) -> set[str] | None:
    """The {names} a text uses; None when str.format cannot parse it."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def problems(root: Path | None = None) -> tuple[list[str], list[str], int]:
    """(problems, warnings, message count) for the shipped catalogs against the code."""
    base = _root(root)
    template = build_template(base)
    ids = [m.id for m in template if m.id]
    found: list[str] = []
    warnings: list[str] = []
    catalogs: dict[str, Catalog] = {}
    for locale in LOCALES:
        path = _po_path(base, locale)
        if not path.exists():
            found.append(f"{locale}: {path.relative_to(base)} is missing")
            continue
        catalogs[locale] = _read(path, locale)
    for msgid in ids:
        texts: dict[str, str] = {}
        for locale, catalog in catalogs.items():
            message = catalog.get(msgid)
            if message is None:
                found.append(f"{locale}: {msgid}: no translation")
            elif message.fuzzy:
                found.append(
                    f"{locale}: {msgid}: marked fuzzy (check the text, then remove the flag)"
                )
            elif not message.string:
                found.append(f"{locale}: {msgid}: empty text")
            else:
                texts[locale] = str(message.string)
        names: dict[str, set[str]] = {}
        for locale, text in texts.items():
            parsed = placeholders(text)
            if parsed is None:
                found.append(
                    f"{locale}: {msgid}: broken braces (write {{name}}, or {{{{ for a brace)"
                )
            else:
                names[locale] = parsed
        if len(names) == len(LOCALES) and len({frozenset(n) for n in names.values()}) > 1:
            detail = ", ".join(f"{loc} {sorted(n)}" for loc, n in names.items())
            found.append(f"{msgid}: placeholders differ between languages: {detail}")
    used = set(ids)
    for locale, catalog in catalogs.items():
        for message in catalog:
            if message.id and message.id not in used:
                warnings.append(f"{locale}: {message.id}: not used by any flow or code")
    return found, warnings, len(ids)


def check(root: Path | None = None) -> int:
    """Exit 1 on a missing, empty or fuzzy translation or differing placeholders."""
    found, warnings, count = problems(root)
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in found:
        print(f"error: {problem}")
    print(f"i18n check: {count} messages, {len(LOCALES)} languages, {len(found)} problems")
    return 1 if found else 0
