"""The ``dastbot`` command's entry point: starts what must overlap the command's own imports,
then runs the command line (``dastbot.cli``).

Most of ``dastbot report --chart FILE``'s time is importing matplotlib; the launcher starts the
chart's process (``report.chart_process.prestart``) before importing the rest of dastbot, so the
two imports run side by side. Every other command goes straight to ``dastbot.cli.main``.
"""

from __future__ import annotations

import sys


def main() -> int:
    from dastbot.report.chart_process import prestart

    prestart(sys.argv[1:])
    from dastbot.cli import main as cli_main

    return cli_main()
