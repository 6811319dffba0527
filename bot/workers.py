"""`helpline serve --workers N`: N server processes on one port (SO_REUSEPORT), kept running."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from bot.metrics import worker_died

log = logging.getLogger(__name__)

QUICK_EXIT = 10.0  # seconds: a worker that dies sooner than this after starting failed to start
MAX_QUICK_EXITS = 3  # that many in a row: stop everything (a bad setting, an old schema...)
MAX_RESTART_DELAY = 30.0


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


class Supervisor:
    """Starts the workers, restarts one that dies, passes SIGTERM/SIGINT on to all of them.

    The kernel spreads new connections over the processes listening with SO_REUSEPORT; a
    worker that dies takes only its own connections with it (the provider retries those).
    """

    def __init__(self, count: int, command: Sequence[str]) -> None:
        self.count = count
        self.command = list(command)
        self.workers: dict[int, tuple[subprocess.Popen[bytes], float]] = {}  # pid -> (proc, t0)
        self.stopping = False
        self.quick_exits = 0

    def _start_one(self) -> None:
        proc = subprocess.Popen(self.command)  # noqa: S603 - our own interpreter and module
        self.workers[proc.pid] = (proc, time.monotonic())
        log.info("worker started (pid %s)", proc.pid)

    def _stop_all(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stopping = True
        for proc, _ in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    def run(self) -> int:
        """Run until every worker has stopped after SIGTERM/SIGINT; 1 if workers cannot start."""
        signal.signal(signal.SIGTERM, self._stop_all)
        signal.signal(signal.SIGINT, self._stop_all)
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
            lived = time.monotonic() - entry[1]
            self.quick_exits = self.quick_exits + 1 if lived < QUICK_EXIT else 0
            if self.quick_exits >= MAX_QUICK_EXITS:
                log.error("workers keep failing to start (last exit code %s); stopping", exit_code)
                code = 1
                self._stop_all(signal.SIGTERM)
                continue
            delay = min(MAX_RESTART_DELAY, 2.0**self.quick_exits - 1)
            log.warning(
                "worker pid %s exited (code %s); starting another in %.0f s", pid, exit_code, delay
            )
            if delay:
                time.sleep(delay)  # nothing else to do meanwhile: the other workers serve
            if not self.stopping:
                self._start_one()
        return code
