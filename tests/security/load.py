"""A bounded load of conversations against a real server: who got a 200, who must try again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

# One request: (person index, message index) -> the HTTP status, or None when the connection
# broke (the server died under it).
Post = Callable[[aiohttp.ClientSession, int, int], Awaitable[int | None]]


@dataclass
class Load:
    """`people` conversations of `says` messages each; one person's messages go in order."""

    people: int
    says: int
    post: Post
    acked: set[tuple[int, int]] = field(default_factory=set)  # answered 200
    refused: int = 0  # answered 5xx or the connection broke (to be sent again)
    milestone: asyncio.Event = field(default_factory=asyncio.Event)
    milestone_at: int = 0  # set `milestone` once this many were acknowledged
    # Cleared by the test while it causes a fault, set again after: refused requests wait on it.
    resume: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Every message of every person, until each one got a 200."""
        self.resume.set()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(self._person(http, p) for p in range(self.people)))

    async def _person(self, http: aiohttp.ClientSession, person: int) -> None:
        for n in range(self.says):
            while True:
                await self.resume.wait()  # (returns at once unless a fault is under way)
                try:
                    status = await self.post(http, person, n)
                except (aiohttp.ClientError, OSError):
                    status = None
                if status == 200:
                    self.acked.add((person, n))
                    if self.milestone_at and len(self.acked) >= self.milestone_at:
                        self.milestone.set()
                    break
                # Like Telegram (and Twilio with a fallback URL): deliver it again, once the
                # test says the fault is over (it clears `resume` before causing one).
                assert status is None or status >= 500, status
                self.refused += 1
