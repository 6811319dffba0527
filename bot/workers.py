"""`helpline serve --workers N`: N server processes on one port (SO_REUSEPORT), kept running."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

from bot.metrics import worker_died

log = logging.getLogger(__name__)

QUICK_EXIT = 10.0  # seconds: a worker that dies sooner than this after starting failed to start
MAX_QUICK_EXITS = 3  # that many in a row: stop everything (a bad setting, an old schema...)
MAX_RESTART_DELAY = 30.0
# The exit code of a process whose start-up did not finish in time (StartupWatch). Not a quick
# exit whatever its life: see Supervisor.run.
STUCK = 3
STARTUP_TIMEOUT_ENV = "HELPLINE_STARTUP_TIMEOUT"
MAX_STARTUP_STRETCH = 8  # a worker started again after stuck ones waits up to 8x the setting


class StartupWatch:
    """Names the step a server's start-up is in, and ends the process, saying which step it
    was stuck in, when start-up has not finished `timeout` seconds after arm().

    A worker that never serves, under a supervisor that thinks it does, stays so forever: a
    wait with no bound (a lock behind a transaction that never ends, a request never
    answered) is a worker less until someone looks. Ended, it is started again. A thread,
    so that it fires even when the event loop is stuck; os._exit, as SIGKILL would end it:
    the helpline loses no message and sends no reply twice under SIGKILL (R1-R3), and a
    graceful stop could be stuck on the very thing start-up is.
    """

    def __init__(self, timeout: float | None, *, exit: Callable[[int], Any] = os._exit) -> None:
        self.timeout = timeout
        self.step = "importing the application"
        self._exit = exit
        self._done = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def arm(self) -> None:
        """Start counting (nothing when there is no timeout)."""
        if self.timeout is None:
            return
        threading.Thread(target=self._watch, name="startup-watch", daemon=True).start()

    def at(self, step: str) -> None:
        """Start-up goes on to `step` ("storing the flow versions", ...)."""
        self.step = step
        with contextlib.suppress(RuntimeError):  # (not called from the loop: no tasks to show)
            self._loop = asyncio.get_running_loop()
        log.debug("start-up: %s", step)

    def done(self) -> None:
        """Start-up finished: the process serves."""
        self._done.set()

    def _watch(self) -> None:
        if not self._done.wait(self.timeout):
            self.expire()

    def expire(self) -> None:
        """Start-up took too long: say where it is stuck, with every thread's stack and every
        task's, and exit."""
        log.critical(
            "start-up did not finish within %g s, stuck %s; exiting (code %d) to be started again",
            self.timeout or 0,
            self.step,
            STUCK,
        )
        # Every thread's Python stack, written straight to the file (no lock to wait for): the
        # event loop's thread shows the call that holds it, or the loop waiting...
        with contextlib.suppress(OSError, ValueError):  # a stderr without a file (tests)
            faulthandler.dump_traceback(all_threads=True)
        # ...and then the tasks show what each one awaits, printed by the loop itself when it
        # still runs (code and line numbers only, no values).
        loop = self._loop
        if loop is not None and not loop.is_closed():
            shown = threading.Event()
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(_print_tasks, shown)
                shown.wait(TASKS_DUMP_SECONDS)
        self._exit(STUCK)


TASKS_DUMP_SECONDS = 5.0  # how long a stuck start-up's loop is given to print its tasks


def _print_tasks(shown: threading.Event) -> None:
    """Every task of the running loop with what it awaits, to stderr (on the loop's thread)."""
    try:
        for task in asyncio.all_tasks():
            print(f"Task {task.get_name()!r} awaits (outermost first):", file=sys.stderr)
            frames = [(f, f.f_lineno) for f in _awaiting(task.get_coro())]
            print("".join(traceback.StackSummary.extract(frames).format()), file=sys.stderr)
    finally:
        shown.set()


def _awaiting(coro: Any) -> Iterator[FrameType]:
    """The frames of a coroutine and of what it awaits, down to the innermost (Task.get_stack
    gives the outermost only), through async generators (aiohttp's cleanup_ctx: _runtime)."""
    while coro is not None:
        if type(coro).__name__ == "async_generator_asend":  # anext(gen): the generator is
            # only among its referents (CPython); a best effort for a diagnosis.
            coro = next((r for r in gc.get_referents(coro) if inspect.isasyncgen(r)), None)
            continue
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "ag_frame", None)
            or getattr(coro, "gi_frame", None)
        )
        if frame is None:
            return  # finished, or a future (no frame)
        yield frame
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "ag_await", None)
            or getattr(coro, "gi_yieldfrom", None)
        )


def worker_command(host: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """How one worker is started: `helpline serve` on a shared (SO_REUSEPORT) port."""
    return [
        sys.executable,
        "-m",
        "bot",
        *extra,
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--reuse-port",
    ]


def backoff(failures: int) -> float:
    """Seconds before starting a worker again after `failures` failed starts in a row."""
    return min(MAX_RESTART_DELAY, 2.0**failures - 1)


class Supervisor:
    """Starts the workers, restarts one that dies, passes SIGTERM/SIGINT on to all of them.

    The kernel spreads new connections over the processes listening with SO_REUSEPORT; a
    worker that dies takes only its own connections with it (the provider retries those).

    Two kinds of failed start. A worker that exits within QUICK_EXIT of its start cannot
    start (a bad setting, an old schema, flows with errors): MAX_QUICK_EXITS of them in a row
    stop everything, since starting again changes nothing. A worker whose start-up outlasted
    `startup_timeout` (exit code STUCK, see StartupWatch) was waiting on something that may
    well be gone the next time (a lock, a provider): it is started again, never counted as a
    quick exit, so it cannot stop the workers that do serve. On a machine slow enough that a
    normal start outlasts the setting, each one started again after stuck ones in a row gets
    twice the time of the one before (up to MAX_STARTUP_STRETCH times the setting), so it
    ends up starting instead of being ended over and over; each is logged as an error.
    """

    def __init__(
        self,
        count: int,
        command: Sequence[str],
        *,
        startup_timeout: float | None = None,
        delay: Callable[[int], float] = backoff,
    ) -> None:
        self.count = count
        self.command = list(command)
        self.startup_timeout = startup_timeout
        self.delay = delay
        self.workers: dict[int, tuple[subprocess.Popen[bytes], float]] = {}  # pid -> (proc, t0)
        self.stopping = False
        self.quick_exits = 0
        self.stuck = 0  # workers in a row whose start-up did not finish in time

    def _start_one(self, startup_timeout: float | None = None) -> None:
        env = None
        if startup_timeout is not None:
            env = {**os.environ, STARTUP_TIMEOUT_ENV: f"PT{startup_timeout:g}S"}
        proc = subprocess.Popen(self.command, env=env)  # noqa: S603 - our own interpreter and module
        self.workers[proc.pid] = (proc, time.monotonic())
        log.info("worker started (pid %s)", proc.pid)

    def _stop_all(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stopping = True
        for proc, _ in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    def run(self) -> int:
        """Run until every worker has stopped after SIGTERM/SIGINT; 1 if workers cannot start."""
        handlers = {
            sig: signal.signal(sig, self._stop_all) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            return self._run()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        for _ in range(self.count):
            self._start_one()
        code = 0
        while self.workers:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            entry = self.workers.pop(pid, None)
            if entry is None:
                continue
            worker_died(pid)
            exit_code = os.waitstatus_to_exitcode(status)
            entry[0].returncode = exit_code
            if self.stopping:
                continue
            timeout = None
            if exit_code == STUCK:
                self.stuck += 1
                delay = self.delay(self.stuck)
                if self.startup_timeout:
                    stretch = min(MAX_STARTUP_STRETCH, 2**self.stuck)
                    timeout = self.startup_timeout * stretch
                log.error(
                    "worker pid %s did not finish starting in time (code %s); starting another "
                    "in %.0f s%s",
                    pid,
                    exit_code,
                    delay,
                    f", with {timeout:.0f} s to start" if timeout else "",
                )
            else:
                self.stuck = 0
                lived = time.monotonic() - entry[1]
                self.quick_exits = self.quick_exits + 1 if lived < QUICK_EXIT else 0
                if self.quick_exits >= MAX_QUICK_EXITS:
                    log.error(
                        "workers keep failing to start (last exit code %s); stopping", exit_code
                    )
                    code = 1
                    self._stop_all(signal.SIGTERM)
                    continue
                delay = self.delay(self.quick_exits)
                log.warning(
                    "worker pid %s exited (code %s); starting another in %.0f s",
                    pid,
                    exit_code,
                    delay,
                )
            if delay:
                time.sleep(delay)  # nothing else to do meanwhile: the other workers serve
            if not self.stopping:
                self._start_one(timeout)
        return code
