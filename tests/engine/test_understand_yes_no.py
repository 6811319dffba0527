"""read_yes_no skips the steps that change nothing for most answers: the same reading as the
long way (the function as it was) for every text of the corpora and every sense."""

from __future__ import annotations

import pytest

from bot.engine import understand as u
from bot.engine.lexicon import Lexicon
from bot.flows.understanding import shipped_lexicon
from tests.engine.understand_readings import all_texts

LEX = shipped_lexicon()


def long_way(text: str | u.Text, lexicon: Lexicon, sense_name: str | None = None) -> str | None:
    """read_yes_no as written before its steps that change nothing were skipped."""
    t = text if isinstance(text, u.Text) else u.analyse(text, lexicon)
    if not t.words:
        return None
    number = u.read_number(t, lexicon)
    if number is not None:
        return {1: u.YES, 2: u.NO}.get(number)
    hedged = u._trailing_hedge(t, lexicon, sense_name)
    if hedged is not None:
        return hedged
    generic = lexicon.senses.get("generic")
    sense = lexicon.senses.get(sense_name or "generic") or generic
    if sense is None:
        return None
    layers = [(0, sense)] + ([(1, generic)] if generic is not None and generic is not sense else [])
    if sense.subject:
        refused = [
            h for h in u.find(t, sense.subject, lexicon) if u.negated(t, h, lexicon, refusals=True)
        ]
        negations = u._single_words(lexicon, u.NEGATION)
        # Only a negation word before it can be spent on a yes ("jo", "pa", "policia jo" never).
        if refused and not any(
            t.words[j] in negations and t.clauses[j] == t.clauses[h.start]
            for h in refused
            for j in range(h.start)
        ):
            return u.NO
        if refused:
            # A negation that begins a yes ("s'kam problem me policinë") is that phrase's own.
            spent = frozenset(
                h.start
                for _, layer in layers
                for concept in layer.yes
                for h in u.find(t, concept, lexicon)
                if h.end - h.start > 1 and t.words[h.start] in negations
            )
            if any(u.negated(t, h, lexicon, refusals=True, spent=spent) for h in refused):
                return u.NO
    found: list[tuple[u.Hit, int, str]] = []
    for rank, layer in layers:
        for category, concepts in (
            (u.UNCLEAR, layer.unclear),
            (u.YES, layer.yes),
            (u.NO, layer.no),
        ):
            for concept in concepts:
                for h in u.find(t, concept, lexicon):
                    if u._whole_only_ok(t, h, lexicon):
                        found.append((h, rank, category))
    # "po, por mos më thirrni, vetëm sms": words on how she is to be reached are a condition on
    # the answer, not an answer (a refused subject was read above: "jo polici" stays a no).
    manner = u.find(t, u.CONTACT_MANNER, lexicon) if u.CONTACT_MANNER in lexicon.concepts else []
    if manner:
        found = [
            f for f in found if not any(m.start <= f[0].start and f[0].end <= m.end for m in manner)
        ]
    # "nuk e di a duhet" (I don't know if I should): the negation is the "don't know"'s, not a
    # no to what follows it.
    negation_words = u._single_words(lexicon, u.NEGATION)
    unsure_at = {h.start: h.end for h, _, category in found if category == u.UNCLEAR}
    found = [
        (h, rank, category)
        for h, rank, category in found
        if category == u.UNCLEAR
        or t.words[h.start] not in negation_words
        or unsure_at.get(h.start, h.end) >= h.end
    ]
    candidates: list[tuple[int, int, int, str]] = []
    refused_by: set[int] = set()  # a "jo" after a phrase that refuses it ("ma vonë jo")
    for h, rank, category in found:
        meaning = category
        if category != u.UNCLEAR and u.negated(t, h, lexicon):
            meaning = u.NO if category == u.YES else u.YES
            after = u._post_negation(t, h, lexicon)
            if after is not None:
                refused_by.add(after)
        candidates.append((h.start, -(h.end - h.start), rank, meaning))
    # That "jo" is spent on the phrase; it is not an answer of its own.
    candidates = [c for c in candidates if not (c[1] == -1 and c[0] in refused_by)]
    if not candidates:
        return None
    # Where the question's own words and the generic ones read the same words, the question's
    # win ("jam mire" is fine to "in danger?", not the generic yes of "mire").
    spans = [(c[0], c[0] - c[1]) for c in candidates if c[2] == 0]
    candidates = [
        c
        for c in candidates
        if c[2] == 0 or not any(a < c[0] - c[1] and c[0] < b for a, b in spans)
    ]
    candidates.sort()
    if candidates[0][3] == u.UNCLEAR:
        return u.UNCLEAR
    # Each clause's answer: its first, unless the sense prefers one when a clause says both
    # ("ka dal po tha kthehem shpejt" is a yes to "in danger?": safety first).
    per_clause: dict[int, str] = {}
    for start, _, _, meaning in candidates:
        clause = t.clauses[start]
        if clause not in per_clause or (sense.prefer and meaning == sense.prefer):
            per_clause[clause] = meaning
    ordered = [per_clause[c] for c in sorted(per_clause)]
    # A clause after "por"/"but" corrects what came before ("po, por jo tani" is a no).
    corrected = [per_clause[c] for c in sorted(per_clause) if c in t.buts]
    if corrected:
        return corrected[-1]
    if t.hedged:
        return u.UNCLEAR
    answers = {m for m in ordered if m != u.UNCLEAR}
    if len(answers) > 1:
        if sense.prefer in answers:
            return sense.prefer
        return None
    return ordered[0]


@pytest.mark.parametrize("source", ["corpus", "probes", "variants"])
def test_read_yes_no_is_the_long_way(source: str) -> None:
    texts = all_texts()[source]
    senses = [None, *sorted(LEX.senses), "no_such_sense"]
    read = 0
    for text in texts:
        t = u.analyse(text, LEX)
        # As read, and hedged ("jo se s'dua, po…") with every clause or none a "but" one.
        forms = [(t.buts, t.hedged), (frozenset(t.clauses), True), (frozenset(), True)]
        for sense in senses:
            for buts, hedged in forms:
                # Each way on its own reading (a text caches what it found).
                one, two = (u.Text(t.words, t.clauses, t.cyrillic, buts, hedged) for _ in "12")
                expected = long_way(one, LEX, sense)
                assert u.read_yes_no(two, LEX, sense) == expected, (text, sense, buts, hedged)
                read += expected is not None
    assert read > len(texts)
