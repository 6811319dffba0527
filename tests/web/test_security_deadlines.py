"""The handlers' deadline (bot/web/security.py's guard), scenario by scenario, compared with
asyncio.timeout itself: the answer, what is raised, and the count of cancellations left on the
request's task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.config import load_settings
from bot.web import security
from bot.web.limits import RateLimiter
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TIMEOUT = 0.02  # seconds: the deadline the scenarios run past


async def reference(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The guard's deadline as it was: asyncio.timeout, its TimeoutError answered 503."""
    try:
        async with asyncio.timeout(security.HANDLER_TIMEOUT):
            return await handler(request)
    except TimeoutError:
        return web.Response(status=503, text="busy", headers={"Retry-After": "5"})


def _quick() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    return handler


def _stuck() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.Event().wait()  # never set: only a cancellation ends it
        return web.Response(text="never")

    return handler


def _swallowing() -> Handler:
    """Catches the deadline's cancellation and answers all the same."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return web.Response(status=202, text="finished anyway")
        return web.Response(text="never")

    return handler


def _stubborn() -> Handler:
    """Swallows the first cancellation (the test's, from outside), then waits for the deadline."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        await asyncio.Event().wait()
        return web.Response(text="never")

    return handler


def _timing_out() -> Handler:
    """Its own wait times out (a TimeoutError of its own, before the deadline)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        async with asyncio.timeout(TIMEOUT / 4):
            await asyncio.Event().wait()
        return web.Response(text="never")

    return handler


def _failing() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()

    return handler


SCENARIOS: dict[str, Handler] = {
    "quick": _quick(),
    "stuck": _stuck(),
    "swallowing": _swallowing(),
    "stubborn": _stubborn(),
    "timing_out": _timing_out(),
    "failing": _failing(),
}
# Those a cancellation from outside can reach (the others are over before it comes), and the
# one that needs it (it outlives the deadline's alone).
REACHABLE = ("stuck", "swallowing", "stubborn")
NEEDS_OUTSIDE = ("stubborn",)


async def outcome(
    guard: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]],
    handler: Handler,
    *,
    cancel_from_outside: bool,
) -> tuple[object, int]:
    """Run one request through `guard` in a task of its own: (status or exception type, the
    task's count of cancellations left when the guard returned or raised)."""
    left: list[int] = []

    async def serve() -> object:
        task = asyncio.current_task()
        assert task is not None
        try:
            response = await guard(make_mocked_request("POST", "/webhooks/x"), handler)
        except BaseException as exc:
            left.append(task.cancelling())
            return type(exc)
        left.append(task.cancelling())
        return response.status

    task = asyncio.create_task(serve())
    if cancel_from_outside:
        await asyncio.sleep(0)  # into the handler
        await asyncio.sleep(0)
        task.cancel()
    try:
        result = await task
    except asyncio.CancelledError:
        result = asyncio.CancelledError
    return result, left[0] if left else -1


@pytest.fixture
def guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Handler:
    monkeypatch.setattr(security, "HANDLER_TIMEOUT", TIMEOUT)
    settings = load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": "https://h.example",
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
            "HELPLINE_SECRET_KEY": SECRET_KEY,
        }
    )
    return security.make_middleware(settings, RateLimiter(0))  # type: ignore[return-value]


# Only the pairs that apply (a skipped pair would be a test that cannot fail).
CASES = [
    (name, outside)
    for name in sorted(SCENARIOS)
    for outside in (False, True)
    if (name in REACHABLE or not outside) and (name not in NEEDS_OUTSIDE or outside)
]


@pytest.mark.parametrize(("name", "cancel_from_outside"), CASES)
async def test_the_deadline_does_what_asyncio_timeout_did(
    guard: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]],
    name: str,
    cancel_from_outside: bool,
) -> None:
    handler = SCENARIOS[name]
    expected = await outcome(reference, handler, cancel_from_outside=cancel_from_outside)
    got = await outcome(guard, handler, cancel_from_outside=cancel_from_outside)
    assert got == expected


async def test_the_scenarios_cover_each_way_out(
    guard: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]],
) -> None:
    """What the comparison above compares: each scenario ends as written (and a change that
    answered 503 for everything, or never, would differ from asyncio.timeout somewhere)."""
    alone = {
        name: await outcome(guard, handler, cancel_from_outside=False)
        for name, handler in SCENARIOS.items()
        if name not in NEEDS_OUTSIDE
    }
    assert alone == {
        "quick": (200, 0),
        "stuck": (503, 0),
        "swallowing": (202, 0),
        "timing_out": (503, 0),
        "failing": (web.HTTPNotFound, 0),
    }
    outside = {
        name: await outcome(guard, SCENARIOS[name], cancel_from_outside=True) for name in REACHABLE
    }
    # The outside cancellation is still pending on the task: never turned into a 503.
    assert outside == {
        "stuck": (asyncio.CancelledError, 1),
        "swallowing": (202, 1),
        "stubborn": (asyncio.CancelledError, 1),
    }


async def test_many_requests_share_one_timer(
    guard: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]],
) -> None:
    """Requests past their deadline all get 503; the ones that finish are left alone."""
    results = await asyncio.gather(
        *(
            outcome(guard, SCENARIOS["stuck" if i % 2 else "quick"], cancel_from_outside=False)
            for i in range(20)
        )
    )
    assert results == [(503, 0) if i % 2 else (200, 0) for i in range(20)]
