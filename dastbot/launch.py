"""The ``dastbot`` command's entry point: starts what must overlap the command's own imports,
then runs the command line (``dastbot.cli``).

Most of ``dastbot report --chart FILE``'s time is importing matplotlib; the launcher starts the
chart's process (``report.chart_process.prestart``) before importing the rest of dastbot, so the
two imports run side by side. Every other command goes straight to ``dastbot.cli.main``.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from dastbot.report.chart_process import prestart

    prestart(sys.argv[1:])
    from dastbot.cli import main as cli_main

    try:
        return cli_main()
    except BrokenPipeError:
        if _stdout_is_open():
            raise
        # The reader went away (``dastbot check | head -1``): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _stdout_is_open() -> bool:
    """False when standard output is a pipe nobody reads any more (its write end polls as an
    error), so that a broken socket inside a command is not mistaken for it."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return not any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True
