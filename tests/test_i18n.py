"""Catalogs at run time: formatting, fallbacks, .mo versus .po, and the admins' override layer."""

from __future__ import annotations

import io
import logging
import os
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from bot.i18n import Catalogs, fill, pick_locale

SQ = {
    "t.hello": "Përshëndetje {name}!",
    "t.braces": "Shkruaj {{OK}} {ref}",
    "t.broken": "Gabim {name",
    "t.only_sq": "Vetëm shqip",
    "t.empty_in_sq": "",
    "t.fuzzy": "I paqartë",
}
EN = {
    "t.hello": "Hello {name}!",
    "t.braces": "Write {{OK}} {ref}",
    "t.broken": "Broken {name}",
    "t.empty_in_sq": "English only",
    "t.fuzzy": "Unclear",
}


def catalog(locale: str, texts: dict[str, str]) -> Catalog:
    """A Babel catalog; t.fuzzy is marked fuzzy in sq."""
    result = Catalog(locale=locale)
    for msgid, text in texts.items():
        fuzzy = msgid == "t.fuzzy" and locale == "sq"
        result.add(msgid, text, flags=["fuzzy"] if fuzzy else [])
    return result


def write(directory: Path, locale: str, texts: dict[str, str], kind: str = "po") -> Path:
    """Write one locale's .po or .mo under directory."""
    path = directory / locale / "LC_MESSAGES" / f"messages.{kind}"
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    (write_po if kind == "po" else write_mo)(buffer, catalog(locale, texts))
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def catalogs(tmp_path: Path) -> Catalogs:
    write(tmp_path, "sq", SQ)
    write(tmp_path, "en", EN)
    return Catalogs(tmp_path)


def test_text_fills_params(catalogs: Catalogs):
    assert catalogs.text("sq", "t.hello", {"name": "Ana"}) == "Përshëndetje Ana!"
    assert catalogs.text("en", "t.hello", {"name": 7}) == "Hello 7!"
    assert catalogs.text("en", "t.braces", {"ref": "R-4821"}) == "Write {OK} R-4821"


def test_missing_params_stay_visible(catalogs: Catalogs):
    assert catalogs.text("sq", "t.hello") == "Përshëndetje {name}!"
    assert catalogs.text("sq", "t.hello", {"other": 1}) == "Përshëndetje {name}!"
    assert catalogs.text("en", "t.braces") == "Write {OK} {ref}"


def test_params_are_values_never_templates(catalogs: Catalogs):
    # A relayed message may hold braces; it is inserted as it is.
    assert catalogs.text("en", "t.hello", {"name": "{ref} {0"}) == "Hello {ref} {0!"


def test_broken_braces_send_the_text_unfilled(catalogs: Catalogs):
    assert catalogs.text("sq", "t.broken", {"name": "Ana"}) == "Gabim {name"


def test_fill_never_looks_inside_objects():
    template = "{name.__class__} {name[0]} {name!r} {name:>9} {name}"
    assert fill(template, {"name": "Ana"}) == "{name.__class__} {name[0]} {name!r} {name:>9} Ana"
    assert fill("{0} {}", {"0": "x"}) == "{0} {}"
    assert fill("{a", {}) is None


def test_fallbacks(catalogs: Catalogs):
    assert catalogs.text("sq", "t.empty_in_sq") == "English only"
    assert catalogs.text("en", "t.only_sq") == "t.only_sq"
    assert catalogs.text("sq", "t.nowhere") == "t.nowhere"
    assert catalogs.text("sq", "t.fuzzy") == "Unclear"  # a fuzzy text is never sent


@pytest.mark.parametrize(
    ("asked", "used"), [("fr", "sq"), ("", "sq"), ("en-GB", "en"), ("EN", "en"), ("sq_AL", "sq")]
)
def test_locales(catalogs: Catalogs, asked: str, used: str):
    assert pick_locale(asked) == used
    assert catalogs.text(asked, "t.hello", {"name": "Ana"}) == catalogs.text(
        used, "t.hello", {"name": "Ana"}
    )


def test_missing_text_is_logged_once_with_the_id_only(
    catalogs: Catalogs, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        for _ in range(3):
            catalogs.text("sq", "t.nowhere", {"name": "Secret Name"})
    assert len(caplog.records) == 1
    assert "t.nowhere" in caplog.text and "Secret Name" not in caplog.text


def test_has_ids_locales(catalogs: Catalogs):
    assert catalogs.locales == ("sq", "en")
    assert catalogs.has("sq", "t.hello") and catalogs.has("en", "t.empty_in_sq")
    assert not catalogs.has("sq", "t.empty_in_sq") and not catalogs.has("en", "t.only_sq")
    assert not catalogs.has("sq", "t.fuzzy")
    assert catalogs.ids() == set(SQ) | set(EN)


def test_overrides_layer_over_the_catalogs(catalogs: Catalogs):
    catalogs.set_overrides(
        {("sq", "t.hello"): "Tung {name}", ("sq", "t.empty_in_sq"): "Tani shqip", ("en", "t.x"): ""}
    )
    assert catalogs.text("sq", "t.hello", {"name": "Ana"}) == "Tung Ana"
    assert catalogs.text("en", "t.hello", {"name": "Ana"}) == "Hello Ana!"
    assert catalogs.text("sq", "t.empty_in_sq") == "Tani shqip"
    assert catalogs.shipped("sq", "t.hello") == "Përshëndetje {name}!"
    assert not catalogs.has("en", "t.x")  # an empty override hides nothing
    catalogs.set_overrides({("en", "t.hello"): "Hi {name}"})  # replaces the whole layer
    assert catalogs.text("sq", "t.hello", {"name": "Ana"}) == "Përshëndetje Ana!"
    assert catalogs.text("en", "t.hello", {"name": "Ana"}) == "Hi Ana"
    catalogs.set_overrides({})
    assert catalogs.text("en", "t.hello", {"name": "Ana"}) == "Hello Ana!"


def test_translator(catalogs: Catalogs):
    assert catalogs.translator("en")("t.braces") == "Write {OK} {ref}"


def test_fresh_mo_is_read_and_a_stale_one_ignored(tmp_path: Path):
    po = write(tmp_path, "sq", {"t.hello": "nga po"})
    mo = write(tmp_path, "sq", {"t.hello": "nga mo"}, kind="mo")
    stat = po.stat()
    os.utime(mo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert Catalogs(tmp_path).text("sq", "t.hello") == "nga mo"
    os.utime(mo, ns=(stat.st_atime_ns, stat.st_mtime_ns - 1_000_000_000))
    assert Catalogs(tmp_path).text("sq", "t.hello") == "nga po"  # .po edited after compile


def test_reload_reads_edited_catalogs(tmp_path: Path):
    write(tmp_path, "sq", {"t.hello": "e vjetër"})
    catalogs = Catalogs(tmp_path)
    catalogs.set_overrides({("en", "t.hello"): "kept"})
    write(tmp_path, "sq", {"t.hello": "e re"})
    catalogs.reload()
    assert catalogs.text("sq", "t.hello") == "e re"
    assert catalogs.text("en", "t.hello") == "kept"


def test_no_catalogs_at_all_still_answers(tmp_path: Path):
    assert Catalogs(tmp_path / "nowhere").text("sq", "sys.error") == "sys.error"


def test_shipped_catalogs_load():
    catalogs = Catalogs()
    assert catalogs.has("sq", "sys.yes") and catalogs.has("en", "sys.yes")


def test_a_template_is_parsed_once_and_a_text_without_braces_never(monkeypatch) -> None:
    # Performance: texts are filled on every reply, labels read on every answer.
    import bot.i18n as i18n

    parsed: list[str] = []

    class Counting(string.Formatter):
        def parse(self, format_string):  # type: ignore[no-untyped-def]
            parsed.append(format_string)
            return super().parse(format_string)

    monkeypatch.setattr(i18n, "_FORMATTER", Counting())
    assert fill("Po, tani", {"name": "Ana"}) == "Po, tani"
    template = "Rasti {reference} i {name} (i rrallë)"  # in no other test: not parsed yet
    assert fill(template, {"reference": "K-1", "name": "Ana"}) == "Rasti K-1 i Ana (i rrallë)"
    assert fill(template, {"reference": "K-2"}) == "Rasti K-2 i {name} (i rrallë)"
    assert fill("x } y", {}) is None and fill("x } y", {}) is None
    assert parsed == [template, "x } y"]


def long_way(catalogs: Catalogs, locale: str | None, msgid: str, params: dict | None) -> str:
    """Catalogs.text as written before its common case was inlined."""
    picked = pick_locale(locale)
    template = catalogs.raw(picked, msgid)
    if template is None:
        template = catalogs.raw("en", msgid) or msgid
    filled = fill(template, params or {})
    return template if filled is None else filled


def test_text_is_the_long_way_for_every_id_locale_and_override(catalogs: Catalogs) -> None:
    """Performance: text() inlines its common case (a known locale, the look-ups, a text
    without braces); every id, locale (known, odd, unknown, None) and override reads the same."""
    shipped = Catalogs()
    ids = [*sorted(shipped.ids()), "no.such.id", "{x}", "a}b"]
    locales = ["sq", "en", "en-GB", "SQ", "sq_AL", "fr", "", None]
    params = [None, {}, {"name": "Ana", "ref": "C-1", "line": "116"}]
    for cats in (catalogs, shipped):
        for overrides in ({}, {("sq", "t.hello"): "Tung {name}", ("en", ids[0]): "x {line}"}):
            cats.set_overrides(overrides)
            for msgid in [*SQ, *ids]:
                for locale in locales:
                    for p in params:
                        expected = long_way(cats, locale, msgid, p)
                        assert cats.text(locale, msgid, p) == expected, (locale, msgid)  # type: ignore[arg-type]
