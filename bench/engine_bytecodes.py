"""Bytecodes of the pure layer alone (engine, understanding, rendering), per message and function.

    .venv/bin/python bench/engine_bytecodes.py [--people 4] [--top 60] [--sq] [--messages]

Why: bench/bytecodes.py counts a whole message (store and sender included), where the pure
layer is one part among many. This runs only what the pipeline's receive() hands that layer for
each message, as it hands it: the stored state read into a Session, her words analysed and the
keywords found, engine.resume on the session it owns, the new state written back as a dict, and
the turn's messages rendered with the catalogs. The people go through bench/load.py's
conversations (the Albanian one bench/instructions.py runs, the English one, and each opened with
a danger phrase; `--sq`: the Albanian one only), one after another, after a round of warm-up.
Counts are exact (sys.settrace with opcode events): the same code counts the same. `--messages`
prints each message's bytecodes instead (first messages cost several times an answer). A
bytecode is not an instruction (a C call such as an aware datetime's isoformat, ~11,000
instructions, is one): bench/instructions.py decides.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import DANGER, EN_MEDIUM_RISK, SQ_HIGH_RISK  # noqa: E402

SCRIPTS = (
    SQ_HIGH_RISK,
    EN_MEDIUM_RISK,
    (DANGER["sq"], *SQ_HIGH_RISK[:3]),
    (DANGER["en"], *EN_MEDIUM_RISK[:3]),
)
Script = tuple[str, ...]


class _NoDb:
    """The pipeline is built for its env only: nothing here touches a database."""


def build() -> tuple[Any, datetime]:
    """A pipeline wired as the app wires it (shipped flows, catalogs, places, numbers)."""
    from bot.language import warm_up
    from tests.pipeline_harness import START, build_pipeline

    warm_up()
    return build_pipeline(_NoDb(), clock=lambda: START), START


def converse(
    pipeline: Any,
    start: datetime,
    people: int,
    scripts: tuple[Script, ...],
    each: Callable[[str, Callable[[], None]], None] | None = None,
) -> int:
    """`people` times each script, message by message, as receive() runs the pure layer; `each`
    (text, step) runs each message's step instead of calling it. The messages run."""
    from bot import engine
    from bot.engine import events as ev
    from bot.engine.env import ContactView
    from bot.engine.keywords import detect_all
    from bot.engine.session import Session
    from bot.engine.understand import analyse
    from bot.rendering import render

    keywords = pipeline.flows.keywords
    translate = pipeline.catalogs.text
    messages = 0
    for person in range(people):
        for script in scripts:
            state: dict[str, Any] | None = None
            view = ContactView(fields={"country": "AL"}, channel="sms")
            now = start + timedelta(hours=person)
            for text in script:
                now += timedelta(seconds=30)
                out: list[Any] = []

                def step(
                    text: str = text,
                    now: datetime = now,
                    view: Any = view,
                    state: dict[str, Any] | None = state,
                    out: list[Any] = out,
                ) -> None:
                    session = Session.from_dict(state) if state is not None else None
                    read = analyse(text, keywords.lexicon)
                    hits = tuple(detect_all(read, keywords))
                    resume = engine.MsgResume(text, keywords=hits, read=read)
                    outcome = engine.resume(session, resume, view, pipeline.env(now), own=True)
                    said = [e for e in outcome.events if isinstance(e, ev.MsgCreated)]
                    render(said, translate, None)
                    out.append(outcome.session.to_dict() if outcome.session else None)
                    out.append(outcome.session)

                if each is None:
                    step()
                else:
                    each(text, step)
                state, session = out
                messages += 1
                if session is not None:  # as the pipeline's next read of her contact
                    fields = {**view.fields, **session.fields}
                    view = ContactView(session.language or view.language, fields, "sms")
    return messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--sq", action="store_true", help="bench/instructions.py's conversation")
    parser.add_argument("--messages", action="store_true", help="each message's bytecodes")
    args = parser.parse_args()
    scripts = (SQ_HIGH_RISK,) if args.sq else SCRIPTS
    pipeline, start = build()
    converse(pipeline, start, 1, scripts)  # first calls (tables, caches) out of the count
    own: Counter[CodeType] = Counter()
    total: Counter[CodeType] = Counter()
    stack: list[CodeType] = []

    def local(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "opcode":
            own[frame.f_code] += 1
            for code in set(stack):
                total[code] += 1
        elif event == "return":
            stack.pop()
        return local

    def tracer(frame: FrameType, _event: str, _arg: Any) -> Any:
        frame.f_trace_opcodes = True
        stack.append(frame.f_code)
        return local

    def counted(text: str, step: Callable[[], None]) -> None:
        before = sum(own.values())
        sys.settrace(tracer)
        step()
        sys.settrace(None)
        stack.clear()
        if args.messages:
            print(f"{sum(own.values()) - before:8,}  {text!r}")

    messages = converse(pipeline, start, 1 if args.messages else args.people, scripts, counted)
    if args.messages:
        return
    print(f"bytecodes a message: {sum(own.values()) / messages:,.0f} ({messages} messages)")
    print("a message: inclusive, exclusive (this script's own step included)")
    for code, count in total.most_common(args.top):
        name = code.co_filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        print(
            f"{count / messages:9,.0f} {own[code] / messages:7,.0f}  "
            f"{name}:{code.co_firstlineno} {code.co_name}"
        )


if __name__ == "__main__":
    main()
