"""The understanding layer's shortcuts: each must leave every reading as it was."""

from __future__ import annotations

import json
from pathlib import Path

from bot.engine import routers
from bot.engine import understand as u
from bot.engine.definition import Option, Wait
from bot.engine.lexicon import Lexicon
from bot.flows.understanding import shipped_lexicon
from bot.language import identify

LEX = shipped_lexicon()
CORPUS = Path(__file__).parents[1] / "understanding" / "corpus.jsonl"


def first_messages() -> list[str]:
    cases = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    return [c["text"] for c in cases if c["ask"] == "first"]


def test_the_detector_is_not_asked_when_our_words_decide():
    asked: list[str] = []

    def spy(text: str) -> dict[str, float]:
        asked.append(text)
        return dict(identify(text))

    assert u.read_language("burri po me rreh cdo dite", LEX, spy) == "sq"
    assert u.read_language("my husband hits me", LEX, spy) == "en"
    assert asked == []
    assert u.read_language("qwerty asdf", LEX, spy) in (None, "sq", "en", "sr")
    assert asked == ["qwerty asdf"]  # nothing of ours in it: the detector decides


def test_where_our_words_decide_no_detector_could_change_the_language(monkeypatch):
    """On every first message of the corpus: when the detector is skipped, the language read
    with it asked (and saying anything at all) is the same."""
    texts = first_messages()
    skipped = {t: u.read_language(t, LEX, identify) for t in texts}
    monkeypatch.setattr(u, "_votes_decide", lambda votes, total: False)
    decided = 0
    for text, language in skipped.items():
        t = u.analyse(text, LEX)
        words = [w for w in t.words if not w.isdigit()]
        votes: dict[str, float] = {}
        for word in words:
            langs = [lang for lang, vocab in LEX.language_words.items() if word in vocab]
            for lang in langs:
                votes[lang] = votes.get(lang, 0.0) + 1.0 / len(langs)
        for concept, lang in u._language_concepts(LEX):
            votes[lang] = votes.get(lang, 0.0) + len(u.find(t, concept, LEX))
        monkeypatch.undo()
        decides = u._votes_decide(votes, sum(votes.values()))
        monkeypatch.setattr(u, "_votes_decide", lambda votes, total: False)
        assert u.read_language(text, LEX, identify) == language, text
        if decides:
            decided += 1
            for extreme in ({"sq": 1.0}, {"en": 1.0}, {"sr": 1.0}, {"sq": 0.5, "sr": 0.5}):
                assert u.read_language(text, LEX, lambda _t, e=extreme: e) == language, text
    assert decided > len(texts) // 3  # the shortcut is taken for most first messages


def menu() -> Wait:
    return Wait(
        text="menu",
        router="options",
        routes={},
        options=(Option("1", "menu.1"), Option("2", "menu.2", ("avokat",))),
    )


def test_a_menu_built_anew_is_filed_once():
    def labels(msgid: str) -> list[str]:
        return {"menu.1": ["Strehim"], "menu.2": ["Ndihmë juridike"]}[msgid]

    first = routers._choices(menu(), labels, LEX)
    again = routers._choices(menu(), labels, LEX)  # equal options, another wait
    assert again is routers._choices(menu(), labels, LEX)
    assert again == first


def test_a_concept_no_word_can_start_is_not_looked_for_word_by_word(monkeypatch):
    looked: list[str] = []
    candidates = u._Index.candidates

    def counting(self: u._Index, concept: str, text: u.Text, i: int) -> list[u.Pattern]:
        looked.append(concept)
        return candidates(self, concept, text, i)

    monkeypatch.setattr(u._Index, "candidates", counting)
    t = u.analyse("mire faleminderit shume", LEX)
    assert u.find(t, "police", LEX) == []
    assert "police" not in looked
    refused = u.analyse("jo polici", LEX)
    assert u.find(refused, "police", LEX) == [u.Hit(1, 2)]


def _clause_end_texts() -> list[str]:
    """Texts whose words end clauses: every word a pattern starts with (and words on each filed
    prefix) alone, pairs of them in one clause and split by a comma, and corpus answers."""
    index = u._index(LEX)
    heads = sorted({w for filed in index.exact.values() for w in filed})
    heads += sorted(
        {p + end for filed in index.prefix.values() for p in filed for end in ("", "it")}
    )
    pairs = [f"{a} {b}" for a, b in zip(heads[::5], heads[3::5], strict=False)]
    split = [f"{a}, {b}" for a, b in zip(heads[1::9], heads[4::9], strict=False)]
    cases = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    answers = [c["text"] for c in cases if c["ask"] != "first"][::4]
    return heads[::2] + pairs + split + answers


def test_a_clause_end_tries_only_one_word_patterns_and_finds_what_all_patterns_find(monkeypatch):
    """Performance: at a clause's last word only the patterns one word can match are tried (a
    one-word answer started dozens that needed more), and a message of one word of the lexicon
    is looked up in a table per concept. Every concept and every keyword's patterns find the
    same hits as when every pattern is tried at every word."""
    from bot.flows.library import FlowLibrary

    shipped = FlowLibrary(Path(u.__file__).parents[1] / "flows")
    assert shipped.reload().ok
    lists = [ps for k in shipped.keywords.keywords for ps in k.phrases.values()]
    lexicon = shipped.keywords.lexicon
    texts = _clause_end_texts()
    assert len(texts) > 1000

    def readings() -> list[object]:
        out: list[object] = []
        for text in texts:
            t = u.analyse(text, lexicon)
            out.append([u.find(t, concept, lexicon) for concept in lexicon.concepts])
            out.append([u.find_patterns(t, patterns, lexicon) for patterns in lists])
        return out

    filed = readings()
    monkeypatch.setattr(
        u._Index, "candidates", lambda self, concept, text, i: list(self.lexicon.patterns(concept))
    )
    monkeypatch.setattr(u._index(lexicon), "alone_words", frozenset())  # no one-word tables
    monkeypatch.setattr(u._Starts, "candidates", lambda self, word, last=False: self.patterns)
    every = readings()
    assert sum(1 for hits in filed for found in hits if found) > 1000  # type: ignore[attr-defined]
    assert filed == every


def test_a_one_word_message_reads_from_its_table_what_matching_reads(monkeypatch):
    """Every plain word of the lexicon alone, for every concept (with another clause number, and
    Cyrillic, buts and hedged set, which matching does not read): the table's hits are those
    matched word by word, and a word outside the table is matched."""
    index = u._index(LEX)
    words = sorted(index.alone_words)
    assert len(words) > 1500 and {"po", "jo", "mire", "2"} <= index.alone_words
    texts = [u.Text((w,), (0,)) for w in words] + [
        u.Text((w,), (3,), True, frozenset({3}), True) for w in words[::7]
    ]
    texts += [u.Text(("strehimit",), (0,)), u.analyse("jooo", LEX), u.analyse("2", LEX)]
    tabled = [[u.find(t, concept, LEX) for concept in LEX.concepts] for t in texts]
    assert sum(1 for hits in tabled for found in hits if found) > 1500
    monkeypatch.setattr(index, "alone_words", frozenset())
    texts = [u.Text(t.words, t.clauses, t.cyrillic, t.buts, t.hedged) for t in texts]
    assert tabled == [[u.find(t, concept, LEX) for concept in LEX.concepts] for t in texts]


def _read_number_long_way(text: u.Text, lexicon: Lexicon) -> int | None:
    """read_number's phrase look-up as written before: every length tried, one word joined."""
    covered = [False] * len(text.words)
    for h in u.find(text, u.FILLER, lexicon):
        for j in range(h.start, h.end):
            covered[j] = True
    index = u._index(lexicon)
    refusing, post = index.refusing, index.single[u.POST_NEGATION]
    found: list[int] = []
    number, i, words = 0, 0, text.words
    while i < len(words):
        if covered[i]:
            i += 1
            continue
        start = i
        if words[i] in refusing and i + 1 < len(words) and text.clauses[i + 1] == text.clauses[i]:
            i += 1
        size = 0
        if words[i].isdigit() and len(words[i]) <= 6:
            number, size = int(words[i]), 1
        else:
            for n in (3, 2, 1):
                if i + n <= len(words):
                    phrase = " ".join(words[i : i + n])
                    if phrase in lexicon.numbers:
                        number, size = lexicon.numbers[phrase], n
                        break
        if not size:
            return None
        i += size
        if i < len(words) and words[i] in post and text.clauses[i] == text.clauses[i - 1]:
            i += 1
        elif i == start + size:
            found.append(number)
    return found[0] if len(found) == 1 else None


def test_read_number_is_the_long_way() -> None:
    """Every number phrase alone, after "jo", with a filler, and every corpus and variant text."""
    from tests.engine.understand_readings import all_texts

    phrases = sorted(LEX.numbers)
    texts = [*phrases, *(f"jo {p}, {p}" for p in phrases), *(f"{p} ju lutem" for p in phrases)]
    texts += [t for source in ("corpus", "probes", "variants") for t in all_texts()[source]]
    numbers = [u.read_number(u.analyse(t, LEX), LEX) for t in texts]
    assert numbers == [_read_number_long_way(u.analyse(t, LEX), LEX) for t in texts]
    assert sum(n is not None for n in numbers) > len(phrases)


def test_a_one_word_answer_reads_yes_or_no_from_its_table_what_the_long_way_reads(monkeypatch):
    """Performance: a one-word answer of the lexicon's words is read from a table per sense.
    Every plain word of the lexicon alone, for every sense (none, each, one the lexicon lacks),
    reads from the table what the word-by-word reading gives (the table holds only the words
    that read something: the reading of every other word is checked to be None); a word after
    a "but" or outside the lexicon is read the long way."""
    index = u._index(LEX)
    words = sorted(index.alone_words)
    senses = [None, *sorted(LEX.senses), "no_such_sense"]
    read = {
        s: [u.read_yes_no(u.Text((w,), (c,)), LEX, s) for w in words for c in (0, 2)]
        for s in senses
    }
    assert sum(r is not None for rs in read.values() for r in rs) > 1000
    assert {u.YES, u.NO, u.UNCLEAR} <= set(read["danger_now"])
    assert read["danger_now"] != read[None]  # "mire" is a no to "in danger?", a yes alone
    for s in senses:
        assert read[s] == [
            u._read_yes_no(u.Text((w,), (c,)), LEX, s) for w in words for c in (0, 2)
        ]
    tabled: list[str | None] = []
    table = u._Index.yes_no_alone

    def spy(self: u._Index, sense: str | None) -> dict[str, str]:
        tabled.append(sense)
        return table(self, sense)

    monkeypatch.setattr(u._Index, "yes_no_alone", spy)
    assert u.read_yes_no("poo", LEX, "consent") == u.YES  # "po" once its repeats collapse
    assert tabled == ["consent"]
    # The long way: after a "but" (its clause before it is then read alone: from the table),
    # hedged, a word the lexicon lacks, two words.
    assert u.read_yes_no("po por", LEX) == u.UNCLEAR
    assert tabled == ["consent", None]
    assert u.read_yes_no(u.Text(("po",), (0,), hedged=True), LEX) == u.UNCLEAR
    assert u.read_yes_no("qwertz", LEX) is None
    assert u.read_yes_no("jo jo", LEX) == u.NO
    assert tabled == ["consent", None]


def test_a_one_word_message_triggers_from_its_table_the_keywords_matching_finds(monkeypatch):
    """Performance: a one-word message of the lexicon's words finds its keywords in a table made
    with the keyword set's filing. Every plain word of the lexicon alone (with another clause
    number too, which matching does not read) triggers from the table the keywords the
    word-by-word reading finds; a word outside the lexicon, or two words, are read that way."""
    from bot.engine import keywords as kw
    from bot.flows.library import FlowLibrary

    shipped = FlowLibrary(Path(u.__file__).parents[1] / "flows")
    assert shipped.reload().ok
    keywords = shipped.keywords
    filed = kw._filed(keywords)
    words = sorted(filed.alone_words)
    texts = [u.Text((w,), (c,)) for w in words for c in (0, 2)]
    tabled = [kw.detect_all(t, keywords) for t in texts]
    assert sum(1 for hits in tabled if hits) > 200
    assert {h.keyword.intent for hits in tabled for h in hits} >= {"danger", "language", "exit"}
    assert tabled == [kw._detect(t, filed) for t in texts]
    assert [h.keyword.intent for h in kw.detect_all("shqip", keywords)] == ["language"]
    monkeypatch.setitem(filed.alone, "shqip", ())  # the table is what is read
    assert kw.detect_all("shqip", keywords) == []
    assert [h.keyword.intent for h in kw.detect_all("shqip ju lutem", keywords)] == ["language"]


def _analysed_as_data(t: u.Text) -> tuple[object, ...]:
    return (t.words, t.clauses, t.cyrillic, t.buts, t.hedged)


def test_a_one_word_message_is_analysed_as_any_text(monkeypatch):
    """Performance: a message of ASCII letters alone, or digits alone, is analysed by a short
    path. Every plain word, variant and boundary word of the lexicon, as typed in capitals and
    with letters repeated, digits, words run together, a time with its unit, every word of the
    corpora: the short path's reading is the whole reading's."""
    from tests.engine.understand_readings import all_texts

    index = u._index(LEX)
    words = sorted(index.alone_words | set(LEX.variants) | index.single[u.BOUNDARY_WORDS])
    texts = [*words, *(w.upper() for w in words), *(w.capitalize() + w[-1:] * 2 for w in words)]
    texts += [str(n) for n in range(40)] + ["007", "pomvret", "burrimerreh", "Pomvrett", "8pm"]
    corpus = [t for texts_ in all_texts().values() for t in texts_]
    texts += sorted({w for t in corpus for w in t.split()})
    short = [t for t in texts if t.isascii() and (t.isalpha() or t.isdigit())]
    assert len(short) > 8000
    assert any(u.analyse(t, LEX).words == () for t in short)  # "por" alone: no word
    assert any(len(u.analyse(t, LEX).words) > 1 for t in short)  # a variant of two words
    assert [_analysed_as_data(u.analyse(t, LEX)) for t in texts] == [
        _analysed_as_data(u._analysed(t, LEX)) for t in texts
    ]


class _Overlapping(frozenset[str]):
    """A set no set of letter triples is disjoint from: every word is tried piece by piece."""

    def isdisjoint(self, _other: object) -> bool:
        return False


def test_a_word_without_a_piece_of_danger_in_it_is_not_tried_piece_by_piece(monkeypatch):
    """Performance: a word none of whose letter triples after its first letter starts a word of
    danger is left whole without trying its splits. Every word of the corpora and of the
    lexicon, run together in pairs and with a clitic, and typed with letters missing, splits as
    when every word is tried."""
    from dataclasses import replace

    from tests.engine.understand_readings import all_texts

    index = u._index(LEX)
    words = {
        u._collapse(w) for ts in all_texts().values() for t in ts for w in u.analyse(t, LEX).words
    }
    words |= set(index.alone_words)
    lexicon_words = sorted(index.alone_words)
    words |= {a + b for a, b in zip(lexicon_words[::3], lexicon_words[1::3], strict=False)}
    words |= {c + w for c in ("m", "s", "t", "po", "pom") for w in lexicon_words[::2]}
    words |= {w[:-1] for w in lexicon_words if len(w) > 6}
    vocabulary = u._glued(LEX)  # and a stem of danger with an ending after a clitic
    words |= {c + f for c in ("pom", "m", "sm") for f in sorted(vocabulary.danger_forms)[::3]}
    texts = sorted(words)
    assert len(texts) > 8000
    quick = [u._unglue(w, LEX) for w in texts]
    assert sum(len(pieces) > 1 for pieces in quick) > 100
    assert u._unglue("pomvret", LEX) == ["po", "m", "vret"]
    assert vocabulary.danger_heads.isdisjoint(u._triples("pershendetje"))
    every = replace(vocabulary, danger_heads=_Overlapping())
    monkeypatch.setattr(u, "_glued", lambda _lexicon: every)
    assert [u._unglue(w, LEX) for w in texts] == quick


def test_warming_up_builds_every_table_a_first_message_would(monkeypatch):
    """Start-up (bot/app.py) files the keywords and fills every sense's yes/no table, so the
    first message after it builds none (each table was ~44 ms of CPU for that message)."""
    from bot.engine import keywords as kw
    from bot.flows.library import FlowLibrary

    shipped = FlowLibrary(Path(u.__file__).parents[1] / "flows")
    assert shipped.reload().ok
    keywords = shipped.keywords
    kw.warm_up(keywords)
    index = u._index(keywords.lexicon)
    assert set(index._yes_no) == {None, *keywords.lexicon.senses}

    def built(*_args: object) -> object:
        raise AssertionError("built after the warm-up")

    monkeypatch.setattr(kw, "_file", built)
    monkeypatch.setattr(u, "_read_yes_no", built)  # what filling a table reads with
    assert [h.keyword.intent for h in kw.detect_all("shqip", keywords)] == ["language"]
    for sense in keywords.lexicon.senses:
        index.yes_no_alone(sense)
