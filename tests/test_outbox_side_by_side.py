"""outbox.side_by_side: what asyncio.gather does with the sender's chats, compared with it."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import pytest

from bot.outbox import side_by_side


async def by_gather(coros: Sequence[Coroutine[Any, Any, None]]) -> None:
    """The library's way, to compare with."""
    await asyncio.gather(*coros)


Runner = Callable[[Sequence[Coroutine[Any, Any, None]]], Awaitable[None]]
RUNNERS = [pytest.param(side_by_side, id="side_by_side"), pytest.param(by_gather, id="gather")]


async def chat(log: list[str], name: str, turns: int, fail: bool = False) -> None:
    """A chat's sends: starts, gives the loop `turns` turns, then ends (or fails)."""
    log.append(f"start {name}")
    for _ in range(turns):
        await asyncio.sleep(0)
    if fail:
        log.append(f"fail {name}")
        raise ValueError(name)
    log.append(f"end {name}")


async def settle() -> None:
    """Turns of the loop enough for every chat above to finish."""
    for _ in range(20):
        await asyncio.sleep(0)


async def outcome(run: Runner, turns: list[int], failing: set[int]) -> tuple[Any, ...]:
    """What a caller and the loop see: the chats' steps in order, the error, unretrieved errors."""
    log: list[str] = []
    unretrieved: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context["message"]))
    error = None
    try:
        await run([chat(log, str(i), t, i in failing) for i, t in enumerate(turns)])
    except ValueError as exc:
        error = str(exc)
    await settle()
    gc.collect()  # a task's unretrieved error is reported when the task is freed
    loop.set_exception_handler(None)
    return log, error, unretrieved


CASES = [
    ([1, 1, 1], set()),
    ([3, 0, 2, 1], set()),
    ([0, 0], set()),
    ([2, 2, 2], {1}),  # failing with the others still running: they go on
    ([0, 3, 3], {0}),
    ([1, 1, 1, 1], {1, 3}),  # two fail: the second's error is not left unretrieved
]


@pytest.mark.parametrize(("turns", "failing"), CASES)
async def test_runs_the_chats_as_gather_does(turns: list[int], failing: set[int]) -> None:
    mine = await outcome(side_by_side, turns, failing)
    theirs = await outcome(by_gather, turns, failing)
    log, error, unretrieved = mine
    # The chats run as under gather, step for step (side by side: with a turn each at least,
    # all start before any ends), each to its end or its failure, whatever the others do.
    assert log == theirs[0]
    if min(turns) > 0:
        assert log[: len(turns)] == [f"start {i}" for i in range(len(turns))]
    assert unretrieved == [] == theirs[2]
    if failing:
        # Gather raises the first to fail in time; side_by_side the first in order whose
        # turn has come: both one of the failures.
        assert error is not None and int(error) in failing
        assert theirs[1] is not None and int(theirs[1]) in failing
    else:
        assert error is None and theirs[1] is None


@pytest.mark.parametrize("run", RUNNERS)
async def test_a_cancelled_caller_cancels_every_chat(run: Runner) -> None:
    log: list[str] = []
    loop = asyncio.get_running_loop()

    async def blocked(name: str) -> None:
        log.append(f"start {name}")
        try:
            await loop.create_future()  # its own: a shared one is cancelled with the first
        except asyncio.CancelledError:
            log.append(f"cancelled {name}")
            raise

    caller = asyncio.create_task(run([blocked("a"), blocked("b"), blocked("c")]))
    await settle()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await settle()
    assert sorted(log) == sorted(
        ["start a", "start b", "start c", "cancelled a", "cancelled b", "cancelled c"]
    )


@pytest.mark.parametrize("run", RUNNERS)
async def test_nothing_to_run(run: Runner) -> None:
    await run([])
