"""The helpline as a real server process (`python -m bot serve`), for crash and restart tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = b"helpline serving on"
# A bound on a start that hangs, never waited for: the process's exit is seen at once (EOF).
# Not a measure of speed: with several suites on two cores, starting `serve --workers 2` on
# PostgreSQL took more than a minute (each worker imports and loads everything: ~3 s of CPU).
START_TIMEOUT = 600.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def helpline(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one `helpline` command to its end (db upgrade, demo load...)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class ServerProcess:
    """One `helpline serve` process; start() returns once it listens."""

    def __init__(
        self,
        env: Mapping[str, str],
        port: int | None = None,
        *,
        args: Sequence[str] = (),
        ready: int = 1,
    ) -> None:
        self.port = port or free_port()
        self.env = {**os.environ, **env}
        self.args = tuple(args)  # more `serve` options (--workers N)
        self.ready = ready  # "serving on" lines to wait for: one a worker
        self.proc: asyncio.subprocess.Process | None = None
        self.output: list[bytes] = []
        self._printed = asyncio.Condition()

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> ServerProcess:
        """Start it and wait for its "serving on" line (its own output, not a sleep)."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.args,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        waiting = self.ready
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while waiting:
                    line = await self.proc.stdout.readline()
                    if not line:
                        raise RuntimeError(b"".join(self.output).decode(errors="replace"))
                    self.output.append(line)
                    if READY in line:
                        waiting -= 1
        except BaseException as exc:
            # The caller has no server to stop yet: leave no process behind. SIGTERM, so that
            # `--workers` stops its workers too (SIGKILL would leave them serving).
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(START_TIMEOUT):
                        self.output.append(await self.proc.stdout.read())
                        await self.proc.wait()
                except TimeoutError:
                    self.proc.kill()
            if isinstance(exc, TimeoutError):
                # What it printed is the only clue to a start that never ended (a worker
                # stuck in start-up logs its step and stacks): keep it with the error.
                raise TimeoutError(
                    f'{waiting} of {self.ready} "serving on" lines missing after '
                    f"{START_TIMEOUT:g} s; the server printed:\n{self.log()}"
                ) from exc
            raise
        self._drain = asyncio.create_task(self._keep_reading())
        return self

    async def _keep_reading(self) -> None:
        # A full pipe would block the server's logging; keep reading until it exits.
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.output.append(line)
            async with self._printed:
                self._printed.notify_all()

    async def wait_for_output(self, text: str, count: int = 1) -> list[str]:
        """Wait until `count` printed lines contain `text` (read after start()); returns them."""

        def found() -> list[str]:
            lines = b"".join(self.output).decode(errors="replace").splitlines()
            return [line for line in lines if text in line]

        async with self._printed:
            await self._printed.wait_for(lambda: len(found()) >= count)
        return found()

    async def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; only what is in the database is left."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._drain

    async def stop(self) -> int:
        """SIGTERM and wait (a graceful stop); returns the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(START_TIMEOUT):
                await self.proc.wait()
        await self._drain
        return self.proc.returncode if self.proc.returncode is not None else -1

    def log(self) -> str:
        """Everything it printed."""
        return b"".join(self.output).decode(errors="replace")
