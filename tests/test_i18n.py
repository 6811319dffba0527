"""Catalogs at run time, and the `helpline i18n` workflow on small sample trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import i18n_tools
from bot.flows.extract import message_ids
from bot.i18n import Catalogs

HEADER = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Language: {lang}\\n"\n\n'
)
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


def write_tree(root: Path, sq: dict[str, str], en: dict[str, str]) -> Path:
    (root / "bot" / "flows").mkdir(parents=True)
    (root / "bot" / "flows" / "tiny.yaml").write_text(FLOW)
    (root / "bot" / "flows" / "keywords.yaml").write_text("keywords: []\n")
    (root / "bot" / "code.py").write_text('from x import N_\nN_("t.code")\n')
    for lang, entries in (("sq", sq), ("en", en)):
        po = root / "bot" / "locales" / lang / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True)
        body = "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in entries.items())
        po.write_text(HEADER.format(lang=lang) + body)
    return root


GOOD_SQ = {
    "t.question": "Pyetje?",
    "t.a": "A",
    "t.chosen": "U zgjodh",
    "t.bye": "Mirupafshim {name}",
    "t.code": "Kod",
}
GOOD_EN = {
    "t.question": "Question?",
    "t.a": "A",
    "t.chosen": "Chosen",
    "t.bye": "Bye {name}",
    "t.code": "Code",
}


def test_extractor_finds_ids_with_their_lines():
    found = [(line, msgid) for line, msgid, _ in message_ids(FLOW)]
    assert found == [(5, "t.question"), (8, "t.a"), (10, "t.chosen"), (13, "t.bye")]


def test_check_passes_on_good_catalogs(tmp_path, capsys):
    root = write_tree(tmp_path, GOOD_SQ, GOOD_EN)
    assert i18n_tools.check(root) == 0
    assert "i18n check: 5 messages, 2 languages, 0 problems" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("sq_change", "en_change", "expected"),
    [
        ({"t.bye": None}, {}, "sq: t.bye: no translation"),
        ({"t.bye": ""}, {}, "sq: t.bye: empty text"),
        ({}, {"t.bye": "Bye {nme}"}, "t.bye: placeholders differ"),
        ({"t.bye": "Mirupafshim {name"}, {}, "sq: t.bye: broken braces"),
        ({}, {"t.code": None}, "en: t.code: no translation"),
    ],
)
def test_check_fails_naming_the_problem(tmp_path, capsys, sq_change, en_change, expected):
    sq = {k: v for k, v in {**GOOD_SQ, **sq_change}.items() if v is not None}
    en = {k: v for k, v in {**GOOD_EN, **en_change}.items() if v is not None}
    root = write_tree(tmp_path, sq, en)
    assert i18n_tools.check(root) == 1
    assert expected in capsys.readouterr().out


def test_extract_update_compile_round_trip(tmp_path):
    root = write_tree(tmp_path, {"t.question": "Pyetje?"}, {"t.question": "Question?"})
    assert i18n_tools.extract(root) == 0
    assert "t.chosen" in (root / "bot" / "locales" / "messages.pot").read_text()
    assert i18n_tools.update(root) == 0
    sq_po = (root / "bot" / "locales" / "sq" / "LC_MESSAGES" / "messages.po").read_text()
    assert 'msgid "t.chosen"\nmsgstr ""' in sq_po and 'msgstr "Pyetje?"' in sq_po
    assert i18n_tools.compile_catalogs(root) == 0
    catalogs = Catalogs(root / "bot" / "locales")
    assert catalogs.text("sq", "t.question") == "Pyetje?"


def test_catalogs_format_fall_back_and_layer_overrides(tmp_path):
    root = write_tree(
        tmp_path, {**GOOD_SQ, "t.only_en": ""}, {**GOOD_EN, "t.only_en": "English only"}
    )
    catalogs = Catalogs(root / "bot" / "locales")
    assert catalogs.text("sq", "t.bye", {"name": "Ana"}) == "Mirupafshim Ana"
    assert catalogs.text("sq", "t.bye") == "Mirupafshim {name}"
    assert catalogs.text("sq", "t.bye", {"other": 1}) == "Mirupafshim {name}"  # no crash
    assert catalogs.text("sq", "t.only_en") == "English only"
    assert catalogs.text("sq", "t.nowhere") == "t.nowhere"
    assert catalogs.text("fr", "t.bye", {"name": "Ana"}) == "Mirupafshim Ana"  # unknown -> sq
    catalogs.set_overrides({("sq", "t.bye"): "Tung {name}"})
    assert catalogs.text("sq", "t.bye", {"name": "Ana"}) == "Tung Ana"
    assert catalogs.text("en", "t.bye", {"name": "Ana"}) == "Bye Ana"
    catalogs.set_overrides({})
    assert catalogs.text("sq", "t.bye", {"name": "Ana"}) == "Mirupafshim Ana"


def test_shipped_catalogs_pass_the_check(capsys):
    assert i18n_tools.check() == 0, capsys.readouterr().out
