"""Every reading the engine makes of a text, for pinning the understanding layer's results.

The texts: the understanding corpus (tests/understanding: corpus and probes), the development
corpus (../shared/understanding/dev.jsonl, when it is there) and variants made from them with a
fixed seed (words recombined, diacritics dropped or added, apostrophes, repeated letters, words
run together, clause marks, keycaps and times). The readings: analyse; find for every concept
of the lexicon with negated / said_now / in_past of each hit; find_patterns for every keyword's
and every menu option's patterns; detect_all; read_first; read_language; read_yes_no for every
sense; read_number; is_unsure; typed_lengths; danger_hits; and the engine's route of the text
for every options, yes/no and municipality question of the shipped flows.

    .venv/bin/python -m tests.engine.understand_readings --write   # pin (on the code to keep)
    .venv/bin/python -m tests.engine.understand_readings --dump F  # every reading, to diff

The pinned file holds one hash per text (tests/engine/understand_pinned.json): a test fails on
any difference in any reading of any text; --dump on two checkouts shows which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.engine import routers
from bot.engine import understand as u
from bot.engine.definition import Wait
from bot.engine.keywords import detect_all
from bot.engine.runner import labels_of, route
from bot.understanding_cli import Reader

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).parent / "understand_pinned.json"
CORPORA: tuple[tuple[str, tuple[Path, ...]], ...] = (
    ("corpus", (ROOT / "tests" / "understanding" / "corpus.jsonl",)),
    ("probes", tuple(sorted((ROOT / "tests" / "understanding" / "probes").glob("*.jsonl")))),
    ("dev", (ROOT.parent / "shared" / "understanding" / "dev.jsonl",)),
)
VARIANTS = 2000
SEED = 19
ROUTERS = ("options", "yes_no", "municipality")


def corpus_texts(*paths: Path) -> list[str]:
    """The texts of JSON-lines corpora, in file order."""
    return [
        json.loads(line)["text"]
        for path in paths
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


_PLAIN = str.maketrans("ëçËÇ", "ecEC")
_ACCENTED = {"e": "ë", "c": "ç", "E": "Ë", "C": "Ç"}


def _mutate(text: str, rng: random.Random) -> str:
    """One or more of the ways people type the same words."""
    for _ in range(rng.randint(1, 3)):
        how = rng.randrange(10)
        words = text.split(" ")
        if how == 0:
            text = text.translate(_PLAIN)
        elif how == 1 and text:
            chars = list(text)
            for k in rng.sample(range(len(chars)), min(3, len(chars))):
                chars[k] = _ACCENTED.get(chars[k], chars[k])
            text = "".join(chars)
        elif how == 2:  # a clitic or a contraction with an apostrophe
            k = rng.randrange(len(words))
            mark = rng.choice("'’`´")
            w = words[k]
            if w[:1].lower() in "smtnkc" and len(w) > 2:
                words[k] = w[0] + mark + w[1:]
            elif w.lower() in ("nuk", "not", "jo"):
                words[k] = rng.choice(["s", "don", "isn", "a"]) + mark + rng.choice(["t", "a", ""])
            else:
                words[k] = w + mark + rng.choice(["s", "t", "m", "re", "ll", "ve", ""])
            text = " ".join(words)
        elif how == 3 and text:  # a letter held down
            k = rng.randrange(len(text))
            text = text[: k + 1] + text[k] * rng.randint(1, 3) + text[k + 1 :]
        elif how == 4 and len(words) > 1:  # words run together
            k = rng.randrange(len(words) - 1)
            words[k : k + 2] = [words[k] + words[k + 1]]
            text = " ".join(words)
        elif how == 5 and len(words) > 1:  # a clause mark
            k = rng.randrange(len(words) - 1)
            words[k] += rng.choice([",", ".", "!", "?", " -", ";", "\n", " ("])
            text = " ".join(words)
        elif how == 6:
            text = text.upper() if rng.random() < 0.5 else text.capitalize()
        elif how == 7:  # a number: digit, keycap, a time with its unit
            n = rng.randint(0, 12)
            extra = rng.choice([str(n), f"{n}\ufe0f\u20e3", f"{n}pm", f"{n}h", f"{n}min", "2015"])
            words.insert(rng.randrange(len(words) + 1), extra)
            text = " ".join(words)
        elif how == 8 and len(words) > 2:  # a word dropped
            del words[rng.randrange(len(words))]
            text = " ".join(words)
        elif how == 9:  # words swapped
            rng.shuffle(words)
            text = " ".join(words)
    return text


def variants(texts: list[str], count: int = VARIANTS, seed: int = SEED) -> list[str]:
    """`count` texts made from `texts`: half mutated whole, half words recombined, mutated."""
    rng = random.Random(seed)
    pool = [w for t in texts for w in t.split()]
    out = []
    for n in range(count):
        if n % 2 == 0:
            base = rng.choice(texts)
        else:
            base = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))
        out.append(_mutate(base, rng) if rng.random() < 0.85 else base)
    return out


def all_texts() -> dict[str, list[str]]:
    """Source name -> its texts; the dev corpus only when ../shared is there."""
    out: dict[str, list[str]] = {}
    for name, paths in CORPORA:
        if all(p.exists() for p in paths):
            out[name] = corpus_texts(*paths)
    out["variants"] = variants(out["corpus"] + out["probes"])
    return out


class Readings:
    """The shipped flows' engine world, and every reading of one text."""

    def __init__(self) -> None:
        reader = Reader.shipped()
        self.env = replace(reader.env, now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
        self.lexicon = self.env.keywords.lexicon
        waits: dict[str, Wait] = {}
        for _name, flow in sorted(reader.flows.current.items()):
            for node_id in sorted(flow.nodes):
                wait = flow.nodes[node_id].wait
                if wait is not None and wait.router in ROUTERS:
                    waits.setdefault(repr((wait.router, wait.sense, wait.options)), wait)
        self.waits = list(waits.values())
        labels = labels_of(self.env)
        self.choices = [
            routers._choices(w, labels, self.lexicon) for w in self.waits if w.router == "options"
        ]

    def of(self, text: str) -> dict[str, Any]:
        """Every reading of `text`, as plain data (lists, not sets)."""
        lex, env = self.lexicon, self.env
        t = u.analyse(text, lex)
        out: dict[str, Any] = {
            "analyse": [t.words, t.clauses, t.cyrillic, sorted(t.buts), t.hedged],
        }
        found = {}
        for concept in lex.concepts:
            hits = u.find(t, concept, lex)
            if hits:
                found[concept] = [
                    [
                        h.start,
                        h.end,
                        u.negated(t, h, lex),
                        u.negated(t, h, lex, refusals=True),
                        u.said_now(t, h, lex),
                        u.in_past(t, h, lex),
                    ]
                    for h in hits
                ]
        out["find"] = found
        out["keyword_patterns"] = [
            [_hits(u.find_patterns(t, patterns, lex)) for patterns in k.phrases.values()]
            for k in env.keywords.keywords
        ]
        out["option_patterns"] = [
            [_hits(u.find_patterns(t, c.patterns, lex)) for c in choices]
            for choices in self.choices
        ]
        out["detect_all"] = [_keyword(h) for h in detect_all(text, env.keywords)]
        out["detect_all_text"] = [_keyword(h) for h in detect_all(t, env.keywords)]
        first = u.read_first(text, lex)
        out["read_first"] = [first.danger, first.role, first.topic]
        out["read_language"] = [
            u.read_language(text, lex),
            u.read_language(t, lex, _identify),
        ]
        senses = [None, *sorted(lex.senses)]
        out["read_yes_no"] = [u.read_yes_no(text, lex, s) for s in senses]
        out["read_yes_no_text"] = [u.read_yes_no(t, lex, s) for s in senses]
        out["read_number"] = u.read_number(t, lex)
        out["is_unsure"] = u.is_unsure(t, lex)
        out["typed_lengths"] = sorted(u.typed_lengths(text).items())
        out["danger_hits"] = _hits(u.danger_hits(t, lex))
        out["routes"] = [_match(route(w, text, None, env, t)) for w in self.waits]
        return out


def _hits(hits: list[u.Hit]) -> list[list[int]]:
    return [[h.start, h.end] for h in hits]


def _keyword(hit: Any) -> list[Any]:
    return [hit.keyword.intent, hit.keyword.flow, hit.language]


def _match(match: routers.Match | None) -> list[Any] | None:
    return None if match is None else [match.category, repr(match.value), match.free_text]


def _identify(text: str) -> Mapping[str, float]:
    """A stand-in for the language detector, fixed by the text: read_language's blending."""
    n = int(hashlib.sha256(text.encode()).hexdigest()[:4], 16)
    return {"sq": (n % 7) / 10, "en": (n % 5) / 10, "sr": (n % 3) / 10}


def digest(readings: Mapping[str, Any]) -> str:
    """A short hash of readings: any difference changes it."""
    data = json.dumps(readings, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:12]


def texts_digest(texts: list[str]) -> str:
    """A hash of the texts themselves: the generator must make the same ones."""
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]


def computed() -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """(source, index, text, readings) for every text."""
    readings = Readings()
    for source, texts in all_texts().items():
        for n, text in enumerate(texts):
            yield source, n, text, readings.of(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"pin to {PINNED.name}")
    parser.add_argument("--dump", type=Path, help="every reading, one JSON line a text")
    args = parser.parse_args()
    pinned: dict[str, Any] = {
        "texts": {s: texts_digest(t) for s, t in all_texts().items()},
        "readings": {},
    }
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    for source, _n, text, readings in computed():
        pinned["readings"].setdefault(source, []).append(digest(readings))
        if dump is not None:
            dump.write(json.dumps([source, text, readings], ensure_ascii=False) + "\n")
    if dump is not None:
        dump.close()
    if args.write:
        PINNED.write_text(json.dumps(pinned, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
