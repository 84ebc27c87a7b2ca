"""``python -m dastbot`` for the crash tests, noting every completed sweep.

A sweep decides everything due at its instant (reminders, deadline notices) in one transaction, so
the crash tests judge what the bot had to decide from when it actually swept, not from how long it
had been up: on a loaded machine a bot can be up for seconds before its first sweep.

Run as ``python -m sweeplog ARGS`` (``tests/`` on ``PYTHONPATH``): the same as ``python -m dastbot
ARGS``, plus one line ``PID BEGAN ENDED`` (epoch seconds) appended to ``$DASTBOT_TEST_SWEEP_LOG``
after each sweep returns. In-process bots use ``recording_sweeps``.
"""

from __future__ import annotations

import os
import runpy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dastbot.scheduler import Sweeper

ENV = "DASTBOT_TEST_SWEEP_LOG"
Sweep = tuple[float, float]  # (began, ended) in epoch seconds


@contextmanager
def recording_sweeps(note: Callable[[Sweep], None]) -> Iterator[None]:
    """Calls ``note((began, ended))`` after every sweep of any ``Sweeper`` meanwhile."""
    original = Sweeper.sweep

    def sweep(self: Sweeper) -> int:
        began = time.time()
        runs = original(self)
        note((began, time.time()))
        return runs

    Sweeper.sweep = sweep  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sweeper.sweep = original  # type: ignore[method-assign]


def read_sweeps(path: Path) -> list[tuple[int, Sweep]]:
    """(pid, sweep) of every sweep logged so far (each line is one ``write``: a SIGKILL leaves
    it whole or absent)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [
        (int(pid), (float(began), float(ended)))
        for pid, began, ended in (line.split() for line in text.splitlines())
    ]


def main() -> None:
    path = Path(os.environ[ENV])
    pid = os.getpid()

    def note(sweep: Sweep) -> None:
        with path.open("a", encoding="utf-8") as log:
            log.write(f"{pid} {sweep[0]:.6f} {sweep[1]:.6f}\n")

    with recording_sweeps(note):
        runpy.run_module("dastbot", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
