"""The bot as a subprocess for the crash tests, SIGKILLed at random moments of its life.

``BotProcess`` runs ``python -m sweeplog run --ready-json`` (``dastbot run`` that notes each
sweep, see ``sweeplog``) and remembers when each process was spawned, printed its ready line,
swept and was gone. Kill moments are drawn relative to what the process has reached (spawned,
swept) rather than to the clock alone, and every wait is on an event (the ready line, a sweep in
the log, an exit) with a generous timeout: a loaded machine makes a scenario slower, not
different.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sweeplog import ENV as SWEEP_LOG_ENV
from sweeplog import Sweep, read_sweeps

TESTS = Path(__file__).resolve().parent
# Waits that a loaded machine stretches; they end as soon as their event happens.
EVENT_TIMEOUT_S = 60.0
POLL_S = 0.02
# An early kill comes this long after the spawn, unless the process has swept by then (idle, it
# prints its ready line after about 0.65 s and sweeps soon after catching up).
EARLY_KILL_S = (0.05, 0.8)


@dataclass
class Run:
    """One bot process: spawned, ready (its JSON line) and gone, in epoch seconds."""

    spawned: float
    pid: int = 0
    ready: float | None = None
    gone: float | None = None
    killed: bool = False


@dataclass
class BotProcess:
    """The bot in ``cwd`` (a temporary folder, so no bot.yaml is picked up), stderr appended to
    ``log_path`` and sweeps to ``cwd/sweeps.log`` across restarts."""

    env: dict[str, str]
    cwd: Path
    log_path: Path
    args: tuple[str, ...] = ()
    runs: list[Run] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    up: asyncio.Event = field(default_factory=asyncio.Event)
    ready_line: asyncio.Future[str] | None = None
    _log: TextIO | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def sweep_log(self) -> Path:
        return self.cwd / "sweeps.log"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_restarted(self, after_run: int, timeout: float = EVENT_TIMEOUT_S) -> None:
        """Until a process later than run number ``after_run`` (1-based) is past its ready line."""
        async with asyncio.timeout(timeout):
            while not (len(self.runs) > after_run and self.up.is_set()):
                await self._changed.wait()

    async def spawn(self) -> None:
        """Start a process; ``ready_line`` then resolves to its ready line (or raises if it
        exits first)."""
        if self.process is not None:
            raise RuntimeError("the bot is already running")
        if self._log is None:
            self._log = self.log_path.open("a", encoding="utf-8")
        paths = [p for p in (self.env.get("PYTHONPATH", ""), str(TESTS)) if p]
        env = {**self.env, "PYTHONPATH": os.pathsep.join(paths), SWEEP_LOG_ENV: str(self.sweep_log)}
        run = Run(spawned=time.time())
        self.runs.append(run)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sweeplog",
            *self.args,
            "run",
            "--ready-json",
            cwd=self.cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )
        run.pid = self.process.pid
        self.ready_line = asyncio.ensure_future(self._read_ready_line(self.process))

    async def _read_ready_line(self, process: asyncio.subprocess.Process) -> str:
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            code = await process.wait()
            raise AssertionError(f"the bot exited with {code} before ready; log:\n{self.tail()}")
        self.runs[-1].ready = time.time()
        self.up.set()
        self._notify()
        return line.decode()

    async def wait_ready(self, timeout: float = EVENT_TIMEOUT_S) -> str:
        """The current process's ready line; it must not exit first."""
        assert self.ready_line is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self.ready_line), timeout)
        except TimeoutError:
            raise AssertionError(f"no ready line within {timeout}s; log:\n{self.tail()}") from None

    async def start(self, timeout: float = EVENT_TIMEOUT_S) -> str:
        await self.spawn()
        return await self.wait_ready(timeout)

    # sweeps -----------------------------------------------------------------------------------

    def sweeps(self, pid: int | None = None) -> list[Sweep]:
        """(began, ended) of every completed sweep, of one process or of all."""
        return [s for p, s in read_sweeps(self.sweep_log) if pid is None or p == pid]

    async def wait_sweeps(
        self, count: int, after: float = 0.0, timeout: float = EVENT_TIMEOUT_S
    ) -> None:
        """Until ``count`` sweeps of the current process began at or after ``after``; the
        process must stay alive meanwhile."""
        assert self.process is not None
        pid = self.process.pid
        async with asyncio.timeout(timeout):
            while sum(began >= after for began, _ in self.sweeps(pid)) < count:
                if not self.alive():
                    raise AssertionError(f"the bot exited by itself; log:\n{self.tail()}")
                await asyncio.sleep(POLL_S)

    # ending a process -------------------------------------------------------------------------

    async def kill_at_random_moment(
        self,
        rng: random.Random,
        early: float,
        up_s: float,
        hold: Callable[[], Awaitable[None]] | None = None,
        *,
        after_sweep: bool = True,
    ) -> str:
        """SIGKILL the current process at a moment drawn from ``rng``: with probability
        ``early`` within ``EARLY_KILL_S`` of its spawn (during start-up or its catch-up, unless
        it swept already), otherwise ``uniform(0.05, up_s)`` seconds after its first sweep (or,
        without ``after_sweep``, after its ready line); but not before ``hold()`` returns.
        Returns where it was: "starting" (no ready line yet), "catching up" (no sweep yet) or
        "up". The process must not have exited on its own."""
        assert self.process is not None and self.ready_line is not None
        run = self.runs[-1]
        if rng.random() < early:
            await asyncio.sleep(max(0.0, run.spawned + rng.uniform(*EARLY_KILL_S) - time.time()))
        else:
            await (self.wait_sweeps(1) if after_sweep else self.wait_ready())
            await asyncio.sleep(rng.uniform(0.05, up_s))
        if hold is not None:
            await hold()
        if self.ready_line.done():
            self.ready_line.result()
        if not self.alive():
            raise AssertionError(f"the bot exited by itself; log:\n{self.tail()}")
        moment = "up" if self.sweeps(run.pid) else "catching up" if run.ready else "starting"
        await self.kill()
        return moment

    async def kill(self) -> None:
        """SIGKILL, wherever the bot is (also before its ready line)."""
        await self._end(signal.SIGKILL)

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (the clean stop), SIGKILL after ``timeout``; returns the exit code."""
        return await self._end(signal.SIGTERM, timeout)

    async def _end(self, sig: int, timeout: float = 10.0) -> int:
        process = self.process
        if process is None:
            return 0
        self.up.clear()
        if process.returncode is None:
            process.send_signal(sig)
        try:
            code = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            code = await process.wait()
        if self.ready_line is not None and not self.ready_line.done():
            self.ready_line.cancel()
        run = self.runs[-1]
        run.gone, run.killed = time.time(), sig == signal.SIGKILL
        self.process = None
        self._notify()
        return code

    async def close(self) -> None:
        if self.process is not None:
            await self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def tail(self, lines: int = 40) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # When was the bot running? (for what it can and must have done at a given time)

    def alive_during(self, start: float, end: float) -> bool:
        """Some process existed at some instant of [start, end)."""
        now = time.time()
        return any(r.spawned < end and (r.gone or now) > start for r in self.runs)

    def run_at(self, instant: float) -> Run | None:
        now = time.time()
        return next((r for r in self.runs if r.spawned <= instant < (r.gone or now)), None)

    def state_at(self, instant: float) -> str:
        """``up`` (past the ready line), ``starting`` or ``down`` at an instant."""
        run = self.run_at(instant)
        if run is None:
            return "down"
        return "up" if run.ready is not None and run.ready <= instant else "starting"
