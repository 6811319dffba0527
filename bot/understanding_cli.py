"""`helpline understand`: what the helpline makes of a message, and its measure on a corpus.

Every reading goes through the engine itself (bot.engine.runner.route on the shipped flows'
questions, the engine's first-message run, the global keywords), never a parallel classifier.
Corpus format: ../shared/understanding/README.md (JSON lines: id, ask, text, [options], expect).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.data import load_municipalities
from bot.engine import ContactView, Env, MsgResume, Option, Wait
from bot.engine import events as ev
from bot.engine import resume as engine_resume
from bot.engine.keywords import detect_all
from bot.engine.runner import route
from bot.flows.library import FlowLibrary
from bot.i18n import Catalogs
from bot.language import identify
from bot.matching import similarity
from bot.pipeline import places_from
from bot.store.records import Municipality

KINDS = ("first", "yes_no", "danger_now", "safe_to_text", "consent", "role", "menu",
         "municipality", "anywhere")  # fmt: skip
# The shipped question each kind of corpus case answers: (flow, node).
QUESTIONS = {
    "yes_no": ("services", "more"),
    "danger_now": ("first_contact", "danger_now"),
    "safe_to_text": ("first_contact", "safe_now"),
    "consent": ("services", "police_consent"),
    "role": ("first_contact", "role"),
    "municipality": ("first_contact", "municipality"),
}
ROLE = {"survivor": "self", "witness": "other"}
KEYWORD_INTENTS = ("danger", "exit", "erase", "language")


@dataclass(slots=True)
class Reader:
    """The engine's world once, for reading many messages."""

    env: Env
    flows: FlowLibrary

    @classmethod
    def shipped(cls, flows_dir: Path | None = None) -> Reader:
        """The shipped flows, texts and municipalities."""
        flows = FlowLibrary(flows_dir or Path(__file__).parent / "flows")
        result = flows.reload()
        if not result.ok:
            raise SystemExit("\n".join(str(p) for p in result.problems))
        catalogs = Catalogs()
        places = places_from([Municipality(**m) for m in load_municipalities()])
        env = Env(
            now=datetime.now(UTC),
            flows=flows,
            texts=lambda locale, msgid: catalogs.text(locale, msgid),
            places=places,
            keywords=flows.keywords,
            similarity=similarity,
            identify_language=identify,
        )
        return cls(env, flows)

    def wait(self, kind: str) -> Wait:
        flow, node = QUESTIONS[kind]
        wait = self.flows.get(flow).node(node).wait
        assert wait is not None, f"{flow}.{node} asks nothing"
        return wait

    def read(self, kind: str, text: str, options: Mapping[str, list[str]] | None = None) -> Any:
        """The reading of `text` as an answer of `kind`, in the corpus's `expect` form."""
        if kind == "first":
            outcome = engine_resume(None, MsgResume(text), ContactView(), self.env)
            danger = any(
                isinstance(e, ev.UrgencyRaised)
                or (isinstance(e, ev.KeywordMatched) and e.intent == "danger")
                for e in outcome.events
            )
            results = outcome.session.results if outcome.session else {}
            return {"danger": danger, "lang": results.get("first_language")}
        if kind == "anywhere":
            hits = [h.keyword.intent for h in detect_all(text, self.env.keywords)]
            intent = hits[0] if hits else "none"
            if intent == "child":  # the child path, with danger said too or not
                intent = "danger" if "danger" in hits else "none"
            return intent if intent in KEYWORD_INTENTS else "none"
        if kind == "menu":
            return self._menu(text, options or {})
        match = route(self.wait(kind), text, None, self.env)
        category = match.category if match else None
        if kind == "role":
            return ROLE.get(category or "", "unclear")
        if kind == "municipality":
            return match.value if match and category == "found" else "unknown"
        return category if category in ("yes", "no") else "unclear"

    def _menu(self, text: str, options: Mapping[str, list[str]]) -> int:
        """The option chosen (1-based, 0 for none) as the runtime reads a menu: the shipped
        question whose labels these are, else options named by their labels as a flow names
        them ("police", "legal_aid"). Never values "1".."4": a value is also a word of the
        option, so "ne oren 4" (at 4 o'clock) would pick the fourth."""
        shipped = self._shipped_menu(options)
        if shipped is not None:
            wait, env = shipped, self.env
        else:
            count = max((len(v) for v in options.values()), default=0)
            labels = {(lang, f"menu.{i}"): label for lang, v in options.items()
                      for i, label in enumerate(v, start=1)}  # fmt: skip
            named = options.get("en") or next(iter(options.values()), [])
            values = [_value_of(named[i - 1]) if i <= len(named) else f"option_{i}"
                      for i in range(1, count + 1)]  # fmt: skip
            wait = Wait(
                text="menu",
                router="options",
                routes={},
                options=tuple(Option(v, f"menu.{i}") for i, v in enumerate(values, start=1)),
            )
            env = replace(self.env, texts=lambda lang, msgid: labels.get((lang, msgid), msgid))
        match = route(wait, text, None, env)
        picked = [o.value for o in wait.options]
        return picked.index(match.value) + 1 if match and match.value in picked else 0

    def _shipped_menu(self, options: Mapping[str, list[str]]) -> Wait | None:
        """The shipped options question showing exactly these labels (in some language)."""
        for flow in self.flows.current.values():
            for node in flow.nodes.values():
                wait = node.wait
                if wait is None or wait.router != "options":
                    continue
                for lang, labels in options.items():
                    shown = [self.env.texts(lang, o.label).casefold() for o in wait.options]
                    if shown == [label.casefold() for label in labels]:
                        return wait
        return None


def _value_of(label: str) -> str:
    """An option value as a flow author writes one: the label's words, lower case, joined by _."""
    words = "".join(ch if ch.isalnum() else " " for ch in label.casefold()).split()
    return "_".join(words) or "option"


@dataclass(slots=True)
class Tally:
    """Counts for the summary."""

    per_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [right, total]
    danger: list[int] = field(default_factory=lambda: [0, 0])  # caught, danger cases
    benign: list[int] = field(default_factory=lambda: [0, 0])  # raised, benign cases
    refusals: list[int] = field(default_factory=lambda: [0, 0])  # read as no, negated consent
    language: list[int] = field(default_factory=lambda: [0, 0])
    missed_first_danger: int = 0

    def add(self, case: Mapping[str, Any], got: Any, ok: bool) -> None:
        kind, expect = case["ask"], case["expect"]
        right_total = self.per_kind.setdefault(kind, [0, 0])
        right_total[0] += ok
        right_total[1] += 1
        if kind == "first":
            said, raised = bool(expect.get("danger")), bool(got.get("danger"))
            self._danger(said, raised)
            self.missed_first_danger += said and not raised
            self.language[0] += got.get("lang") == expect.get("lang")
            self.language[1] += 1
        elif kind == "anywhere":
            self._danger(expect == "danger", got == "danger")
        elif kind == "consent" and expect == "no":
            self.refusals[0] += got == "no"
            self.refusals[1] += 1

    def _danger(self, said: bool, raised: bool) -> None:
        if said:
            self.danger[0] += raised
            self.danger[1] += 1
        else:
            self.benign[0] += raised
            self.benign[1] += 1

    def summary(self) -> dict[str, Any]:
        def rate(pair: list[int]) -> float | None:
            return round(pair[0] / pair[1], 4) if pair[1] else None

        total = [
            sum(v[0] for v in self.per_kind.values()),
            sum(v[1] for v in self.per_kind.values()),
        ]
        return {
            "cases": total[1],
            "accuracy": rate(total),
            "per_kind": {
                k: {"right": v[0], "total": v[1], "accuracy": rate(v)}
                for k, v in sorted(self.per_kind.items())
            },
            "danger_recall": rate(self.danger),
            "false_alarm_rate": rate(self.benign),
            "negated_consent_read_as_no": rate(self.refusals),
            "first_language_accuracy": rate(self.language),
            "missed_first_danger": self.missed_first_danger,
        }


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The corpus's cases; a bad line names file, line and problem."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(case, dict) or not {"id", "ask", "text", "expect"} <= case.keys():
            raise SystemExit(f"{path}:{number}: a case needs id, ask, text and expect")
        if case["ask"] not in KINDS:
            raise SystemExit(
                f"{path}:{number}: ask {case['ask']!r} is not one of {', '.join(KINDS)}"
            )
        cases.append(case)
    return cases


def evaluate(
    cases: Iterable[Mapping[str, Any]], reader: Reader, emit: Callable[[dict[str, Any]], None]
) -> Tally:
    """Read every case, tally, and hand each result to `emit`."""
    tally = Tally()
    for case in cases:
        got = reader.read(case["ask"], case["text"], case.get("options"))
        expect = case["expect"]
        ok = (
            got == expect
            if case["ask"] != "first"
            else (got["danger"] == expect.get("danger") and got["lang"] == expect.get("lang"))
        )
        tally.add(case, got, ok)
        emit({"id": case["id"], "ask": case["ask"], "expect": expect, "got": got, "ok": ok,
              "text": case["text"]})  # fmt: skip
    return tally


def _print_text(results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    misses = [r for r in results if not r["ok"]]
    if misses:
        print("misses:")
        for r in misses:
            print(f"  {r['id']} [{r['ask']}] {r['text']!r}: expected {r['expect']}, got {r['got']}")
    print("accuracy per kind:")
    for kind, v in summary["per_kind"].items():
        print(f"  {kind:<13} {v['right']:>4}/{v['total']:<4} {100 * v['accuracy']:.1f} %")

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f} %"

    print(f"all: {summary['cases']} cases, {pct(summary['accuracy'])} right")
    print(f"danger recall {pct(summary['danger_recall'])}; false alarms "
          f"{pct(summary['false_alarm_rate'])}; negated consent read as no "
          f"{pct(summary['negated_consent_read_as_no'])}")  # fmt: skip
    print(
        f"language of first messages {pct(summary['first_language_accuracy'])}; "
        f"first messages with danger missed: {summary['missed_first_danger']}"
    )


def run(args: argparse.Namespace) -> int:
    """`helpline understand eval FILE [--json]` or `helpline understand TEXT --ask KIND`."""
    reader = Reader.shipped()
    words = list(args.words)
    if words and words[0] == "eval" and len(words) == 2 and args.ask is None:
        cases = load_cases(Path(words[1]))
        results: list[dict[str, Any]] = []

        def emit(result: dict[str, Any]) -> None:
            results.append(result)
            if args.json:
                print(json.dumps({k: result[k] for k in ("id", "ask", "expect", "got", "ok")},
                                 ensure_ascii=False))  # fmt: skip

        summary = evaluate(cases, reader, emit).summary()
        if args.json:
            print(json.dumps({"summary": summary}, ensure_ascii=False))
        else:
            _print_text(results, summary)
        return 1 if summary["missed_first_danger"] else 0
    text = " ".join(words)
    kind = args.ask or "first"
    if kind == "menu":
        print("menu needs options: use a corpus case (helpline understand eval)", file=sys.stderr)
        return 2
    print(json.dumps(reader.read(kind, text), ensure_ascii=False))
    return 0
