"""`helpline i18n extract|update|compile|check` on small checkouts, and once on the real one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot import i18n_tools
from bot.i18n import Catalogs

REPO = Path(__file__).resolve().parent.parent
FLOW = """\
flow: tiny
start: q
nodes:
  q:
    ask: t.question
    router: options
    options:
      - {value: a, label: t.a}
    routes:
      a: {goto: done, do: [{say: t.chosen}]}
  done:
    do:
      - say: t.bye
        params: {name: x}
    end: completed
"""
CODE = 'from bot.engine.sysmsgs import N_\n\nCODE = N_("t.code")\nNOT_AN_ID = _("t.gettext")\n'
GOOD_SQ = {
    "t.question": "Pyetje?",
    "t.a": "A",
    "t.chosen": "U zgjodh",
    "t.bye": "Mirupafshim {name}, {{ jo }}",
    "t.code": "Kod",
}
GOOD_EN = {
    "t.question": "Question?",
    "t.a": "A",
    "t.chosen": "Chosen",
    "t.bye": "Bye {name}, {{ no }}",
    "t.code": "Code",
}


def po_text(locale: str, entries: dict[str, str], fuzzy: frozenset[str] = frozenset()) -> str:
    """A small .po file."""
    header = (
        f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
        f'"Language: {locale}\\n"\n\n'
    )
    body = "".join(
        ("#, fuzzy\n" if k in fuzzy else "") + f'msgid "{k}"\nmsgstr "{v}"\n\n'
        for k, v in entries.items()
    )
    return header + body


def po_file(root: Path, locale: str) -> Path:
    """Where a sample checkout keeps one locale's catalog."""
    return root / "bot" / "locales" / locale / "LC_MESSAGES" / "messages.po"


def checkout(
    root: Path,
    sq: dict[str, str] | None = None,
    en: dict[str, str] | None = None,
    fuzzy: frozenset[str] = frozenset(),
) -> Path:
    """A sample checkout: the real babel.cfg, one flow, keywords, code, and two catalogs."""
    shutil.copy(REPO / "babel.cfg", root / "babel.cfg")
    (root / "bot" / "flows").mkdir(parents=True)
    (root / "bot" / "flows" / "tiny.yaml").write_text(FLOW)
    (root / "bot" / "flows" / "keywords.yaml").write_text("keywords: [{intent: exit}]\n")
    (root / "bot" / "code.py").write_text(CODE)
    # Not under bot/: never extracted.
    (root / "tests").mkdir()
    (root / "tests" / "other.py").write_text('N_("t.test_only")\n')
    for locale, entries in (("sq", sq), ("en", en)):
        if entries is not None:
            po_file(root, locale).parent.mkdir(parents=True)
            po_file(root, locale).write_text(po_text(locale, entries, fuzzy))
    return root


def test_check_passes_on_good_catalogs(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, GOOD_SQ, GOOD_EN)
    assert i18n_tools.check(root) == 0
    assert capsys.readouterr().out == "i18n check: 5 messages, 2 languages, 0 problems\n"


@pytest.mark.parametrize(
    ("sq_change", "en_change", "expected"),
    [
        ({"t.bye": None}, {}, "sq: t.bye: missing from the catalog"),
        ({}, {"t.code": None}, "en: t.code: missing from the catalog"),
        ({"t.chosen": ""}, {}, "sq: t.chosen: empty text"),
        ({}, {"t.bye": "Bye {nme}"}, "en: t.bye: placeholders {nme} differ from sq: {name}"),
        ({}, {"t.bye": "Bye"}, "en: t.bye: placeholders none differ from sq: {name}"),
        ({"t.bye": "Mirupafshim {name"}, {}, "sq: t.bye: broken braces"),
        ({"t.bye": "Mirupafshim {name}}"}, {}, "sq: t.bye: broken braces"),
        ({"t.bye": "Mirupafshim {0}"}, {}, "sq: t.bye: placeholder {0} is not a name"),
        ({"t.bye": "Mirupafshim {}"}, {}, "sq: t.bye: placeholder {} is not a name"),
        ({"t.bye": "Tung {name.upper}"}, {}, "sq: t.bye: placeholder {name.upper} is not a name"),
        ({"t.bye": "Tung {name!r}"}, {}, "sq: t.bye: placeholder {name!r} has a format"),
    ],
)
def test_check_fails_naming_locale_id_and_problem(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sq_change: dict[str, str | None],
    en_change: dict[str, str | None],
    expected: str,
):
    sq = {k: v for k, v in {**GOOD_SQ, **sq_change}.items() if v is not None}
    en = {k: v for k, v in {**GOOD_EN, **en_change}.items() if v is not None}
    root = checkout(tmp_path, sq, en)
    assert i18n_tools.check(root) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith(expected)], out
    assert out[-1] == "i18n check: 5 messages, 2 languages, 1 problems"


def test_check_fails_on_fuzzy(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, GOOD_SQ, GOOD_EN, fuzzy=frozenset({"t.a"}))
    assert i18n_tools.check(root) == 1
    out = capsys.readouterr().out
    assert "sq: t.a: marked fuzzy" in out and "en: t.a: marked fuzzy" in out
    assert "2 problems" in out


def test_check_fails_on_a_missing_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, GOOD_SQ, None)
    assert i18n_tools.check(root) == 1
    assert "en: -: bot/locales/en/LC_MESSAGES/messages.po is missing" in capsys.readouterr().out


def test_check_fails_on_a_malformed_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, GOOD_SQ, GOOD_EN)
    with po_file(root, "en").open("a") as fh:
        fh.write('msgid "t.a"\nmsgstr "Again"\n\ngarbage here\n')
    assert i18n_tools.check(root) == 1
    out = capsys.readouterr().out
    assert "en: t.a: appears 2 times (only the first counts)" in out
    assert "en: -: " in out and "misformatted" in out


def test_unused_ids_only_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, {**GOOD_SQ, "t.old": "Vjetër"}, GOOD_EN)
    assert i18n_tools.check(root) == 0
    out = capsys.readouterr().out
    assert "warning: sq: t.old: not used by any flow or code" in out
    assert out.endswith("0 problems\n")


def test_check_is_never_fooled_by_a_stale_pot(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, GOOD_SQ, GOOD_EN)
    assert i18n_tools.extract(root) == 0
    (root / "bot" / "flows" / "tiny.yaml").write_text(FLOW.replace("t.chosen", "t.picked"))
    assert i18n_tools.check(root) == 1
    assert "sq: t.picked: missing from the catalog" in capsys.readouterr().out


def test_extract_writes_the_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path)
    assert i18n_tools.extract(root) == 0
    pot = root / "bot" / "locales" / "messages.pot"
    with pot.open("rb") as fh:
        template = read_po(fh)
    assert {m.id for m in template if m.id} == set(GOOD_EN)
    assert template["t.question"].locations == [("bot/flows/tiny.yaml", 5)]
    assert template["t.question"].auto_comments == ["tiny/q: question"]
    assert template["t.code"].locations == [("bot/code.py", 3)]
    assert "extracted 5 message ids to bot/locales/messages.pot" in capsys.readouterr().out
    # Nothing changed: the file (and its creation date) stays as it was.
    before = pot.read_bytes()
    assert i18n_tools.extract(root) == 0
    assert pot.read_bytes() == before
    assert "is up to date" in capsys.readouterr().out


def test_extract_reports_a_broken_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path)
    (root / "bot" / "flows" / "bad.yaml").write_text("flow: bad\nnodes: [unclosed\n")
    assert i18n_tools.extract(root) == 1
    out = capsys.readouterr().out
    assert out.startswith("error: ") and "bad.yaml:" in out


def test_without_babel_cfg_commands_fail_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    root = checkout(tmp_path, GOOD_SQ, GOOD_EN)
    (root / "babel.cfg").unlink()
    assert i18n_tools.check(root) == 1
    assert "babel.cfg: missing" in capsys.readouterr().out


def test_update_keeps_texts_and_never_guesses(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # t.questions is one letter from the new id t.question: fuzzy matching would copy its text.
    root = checkout(
        tmp_path,
        {"t.questions": "Pyetje të tjera?", "t.a": "A", "t.gone": "Ikur"},
        None,
    )
    assert i18n_tools.update(root) == 0
    with po_file(root, "sq").open("rb") as fh:
        sq = read_po(fh, locale="sq")
    assert sq["t.a"].string == "A"
    assert sq["t.question"].string == "" and not sq["t.question"].fuzzy
    assert {m.id for m in sq if m.id} == set(GOOD_SQ)
    assert set(sq.obsolete) == {"t.questions", "t.gone"}
    with po_file(root, "en").open("rb") as fh:
        assert {m.id for m in read_po(fh, locale="en") if m.id} == set(GOOD_EN)
    out = capsys.readouterr().out
    assert "updated bot/locales/sq/LC_MESSAGES/messages.po; 4 ids need a text" in out

    # An id that comes back finds its old text.
    (root / "bot" / "flows" / "tiny.yaml").write_text(FLOW.replace("t.chosen", "t.gone"))
    assert i18n_tools.update(root) == 0
    with po_file(root, "sq").open("rb") as fh:
        assert read_po(fh, locale="sq")["t.gone"].string == "Ikur"


def test_compile_produces_mo_that_catalogs_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, {**GOOD_SQ, "t.code": ""}, GOOD_EN, fuzzy=frozenset({"t.a"}))
    assert i18n_tools.compile_catalogs(root) == 0
    out = capsys.readouterr().out
    assert "compiled bot/locales/sq/LC_MESSAGES/messages.mo (2 empty or fuzzy texts" in out
    for locale in ("sq", "en"):
        assert po_file(root, locale).with_suffix(".mo").is_file()
        po_file(root, locale).unlink()  # only the .mo is left to read
    catalogs = Catalogs(root / "bot" / "locales")
    assert catalogs.text("sq", "t.bye", {"name": "Ana"}) == "Mirupafshim Ana, { jo }"
    assert catalogs.text("en", "t.question") == "Question?"
    assert catalogs.text("sq", "t.code") == "Code"  # empty in sq: English
    assert catalogs.text("sq", "t.a") == "t.a"  # fuzzy texts are never sent


def test_compile_without_a_catalog_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = checkout(tmp_path, GOOD_SQ, None)
    assert i18n_tools.compile_catalogs(root) == 1
    assert "bot/locales/en/LC_MESSAGES/messages.po: missing" in capsys.readouterr().out


def test_shipped_catalogs_pass_the_check(capsys: pytest.CaptureFixture[str]):
    assert i18n_tools.check() == 0, capsys.readouterr().out


def test_segments_per_text_with_and_without_folding(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.i18n_tools import print_segments, segment_rows

    rows = {msgid: (sq, folded, en) for msgid, sq, folded, en in segment_rows()}
    # "ë" makes Albanian UCS-2 (70 characters a part); folded it is GSM-7 (160).
    assert rows["erase.done"] == (1, 1, 1)
    assert all(folded <= sq for sq, folded, _ in rows.values())
    assert any(folded < sq for sq, folded, _ in rows.values())
    assert print_segments() == 0
    out = capsys.readouterr().out
    assert f"sq: {len(rows)} texts;" in out and "erase.done" in out


def test_segments_count_each_reply_as_sent_not_each_text_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two texts of one part each, said in one turn, go out joined: two parts, as Twilio bills."""
    from bot.i18n_tools import print_segments, reply_rows, segment_rows

    sixty = "Një fjali e shkurtër me ë, gjashtëdhjetë shkronja gjithsej." + "x"  # UCS-2
    assert len(sixty) == 60
    sq = {**GOOD_SQ, "t.question": sixty, "t.chosen": sixty}
    en = {**GOOD_EN, "t.question": "Question?", "t.chosen": "Chosen"}
    root = checkout(tmp_path, sq, en)
    (root / "bot" / "flows" / "keywords.yaml").write_text(
        "keywords:\n  - {intent: exit, flow: tiny, mode: whole, words: [dil]}\n"
    )
    (root / "bot" / "flows" / "first_contact.yaml").write_text(
        "flow: first_contact\nstart: hello\nnodes:\n  hello:\n    do: [{say: t.chosen}]\n"
        "    enter: tiny\n    next: bye\n  bye:\n    end: completed\n"
    )
    (root / "bot" / "code.py").write_text(CODE.replace("t.code", "t.a"))
    alone = {msgid: s for msgid, s, _, _ in segment_rows(root)}
    assert alone["t.question"] == alone["t.chosen"] == 1
    rows = {r.entry: r for r in reply_rows(root)}
    # The first message: t.chosen, then the question with its option, joined: 2 parts.
    first = rows["first message"]
    assert first.messages == ("t.chosen", "t.question")
    assert (first.sq, first.sq_folded, first.en) == (2, 1, 1)
    # The answer: t.chosen, t.bye (the sub-flow ends), nothing more: the parent ends too.
    assert rows["tiny/q: a (in first_contact)"].messages == ("t.chosen", "t.bye")
    assert rows["tiny keyword, first message"].messages == ("t.question",)  # it waits there
    assert print_segments(root) == 0
    out = capsys.readouterr().out
    assert out.index("Replies as sent") < out.index("Each text alone")
    assert re.search(r"^first message +2 +1 +1$", out, re.MULTILINE)


# A catalog laid out as the shipped ones are: section comments, its own notes, no locations, a
# long text on one line (never wrapped), a text broken at its newlines.
LAID_OUT_SQ = """\
# Albanian translations for helpline.
msgid ""
msgstr ""
"Project-Id-Version: helpline 0.1.0\\n"
"Language: sq\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Generated-By: Babel 2.10.0\\n"

# The tiny flow: its question first.
#. the one question, as we wrote it
msgid "t.question"
msgstr "Pyetje?"

msgid "t.a"
msgstr "A"

#. a long text on one line, as every long text in the shipped catalogs
msgid "t.chosen"
msgstr "LONG"

msgid "t.bye"
msgstr ""
"Mirupafshim {name},\\n"
"{{ jo }}"

msgid "t.code"
msgstr "Kod"
""".replace(
    "LONG",
    "U zgjodh, dhe ky tekst është i gjatë, më i gjatë se njëqind shkronja, "
    "që të shohim se nuk thyhet kurrë në rreshta.",
)


def test_update_keeps_the_files_layout_byte_for_byte(tmp_path: Path) -> None:
    root = checkout(tmp_path, None, GOOD_EN)
    sq = po_file(root, "sq")
    sq.parent.mkdir(parents=True)
    sq.write_text(LAID_OUT_SQ)
    assert i18n_tools.update(root) == 0
    assert sq.read_text() == LAID_OUT_SQ
    en = po_file(root, "en").read_bytes()
    assert i18n_tools.update(root) == 0
    assert sq.read_text() == LAID_OUT_SQ
    assert po_file(root, "en").read_bytes() == en


def test_update_with_a_new_id_adds_only_that_entry_beside_its_kin(tmp_path: Path) -> None:
    root = checkout(tmp_path, None, GOOD_EN)
    sq = po_file(root, "sq")
    sq.parent.mkdir(parents=True)
    sq.write_text(LAID_OUT_SQ)
    option = "      - {value: a, label: t.a}\n"
    flow = FLOW.replace(option, option + "      - {value: b, label: t.b}\n")
    route = "      a: {goto: done, do: [{say: t.chosen}]}\n"
    flow = flow.replace(route, route + "      b: {goto: done}\n")
    (root / "bot" / "flows" / "tiny.yaml").write_text(flow)
    assert i18n_tools.update(root) == 0
    # After t.a, the option before it in the flow, and nothing else changed.
    entry = '#. tiny/q: option label\nmsgid "t.b"\nmsgstr ""\n\n'
    after = sq.read_text()
    assert after.index(entry) == after.index('msgid "t.a"\nmsgstr "A"\n\n') + 24
    assert after.replace(entry, "", 1) == LAID_OUT_SQ
    assert after.count(entry) == 1
    with sq.open("rb") as fh:
        assert read_po(fh, locale="sq")["t.b"].string == ""


def test_update_comments_out_a_gone_id_in_place_and_brings_it_back(tmp_path: Path) -> None:
    root = checkout(tmp_path, None, GOOD_EN)
    sq = po_file(root, "sq")
    sq.parent.mkdir(parents=True)
    sq.write_text(LAID_OUT_SQ)
    (root / "bot" / "code.py").write_text("X = 1\n")
    assert i18n_tools.update(root) == 0
    assert sq.read_text() == LAID_OUT_SQ.replace(
        'msgid "t.code"\nmsgstr "Kod"\n', '#~ msgid "t.code"\n#~ msgstr "Kod"\n'
    )
    (root / "bot" / "code.py").write_text(CODE)
    assert i18n_tools.update(root) == 0
    assert sq.read_text() == LAID_OUT_SQ


def test_update_leaves_the_shipped_catalogs_as_they_are() -> None:
    template = i18n_tools.build_template(REPO)
    for locale in ("sq", "en"):
        text = po_file(REPO, locale).read_text(encoding="utf-8")
        merged, added = i18n_tools.merge_text(text, template)
        assert added == []
        assert merged == text
