"""The event loop a server runs on: uvloop, or asyncio's own (HELPLINE_EVENT_LOOP)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

# Why uvloop: the loop's own work (callbacks, transports, timers, futures woken) is a large
# part of a message's CPU at the helpline's size; uvloop does it in C on libuv. For the same
# code on the two loops, bench/instructions.py counted 2,152,276 → 2,093,937 instructions a
# message (−2.7 %) and an SMS webhook request 5,189,250 → 4,654,202 (−10.3 %) (README,
# Performance). asyncio's own stays one setting away, for an operator who meets a problem
# only one loop has.
LOOPS = ("uvloop", "asyncio")
DEFAULT = "uvloop"


def policy(name: str) -> asyncio.AbstractEventLoopPolicy:
    """The policy whose loops are `name`'s (asyncio.run and the tests make theirs through it)."""
    if name == "uvloop":
        import uvloop

        return uvloop.EventLoopPolicy()
    if name == "asyncio":
        return asyncio.DefaultEventLoopPolicy()
    raise ValueError(f"unknown event loop {name!r}: one of {', '.join(LOOPS)}")


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop of `name` (uvloop or asyncio)."""
    return policy(name).new_event_loop()


def chosen(env: Mapping[str, str]) -> str:
    """The loop HELPLINE_EVENT_LOOP names, the default when unset (for tests and benches)."""
    return (env.get("HELPLINE_EVENT_LOOP") or "").strip().lower() or DEFAULT
