"""The chart of ``dastbot report --chart`` drawn in a second process, beside the computation.

``dastbot report`` is a fresh process each time, and importing matplotlib costs it more than
computing the report does at any size of history. ``ChartProcess.start`` launches a child
(``python -m dastbot.report.chart_process FILE``) that imports matplotlib while the parent opens
the database and computes the report; ``draw`` then hands the child the report (pickled on its
standard input: parent and child are the same installed code) and waits for the PNG to be
written. The bot itself draws its weekly chart in a worker thread instead (``report.job``).

Owns that protocol: the child writes FILE whole or not at all, and exits 0, or exits non-zero
with a one-line reason on its standard error. If no child can be started the parent draws the
chart itself, as before. ``prestart`` lets the ``dastbot`` launcher (``dastbot.launch``) start
the child before dastbot's own imports, so that the two imports overlap too; this module imports
nothing of dastbot at its top but the small ``kernel.files``, for that reason.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from dastbot.kernel.files import write_whole

if TYPE_CHECKING:
    from dastbot.report.values import WeekReport

DRAW_TIMEOUT_SECONDS = 120.0


class ChartError(Exception):
    """The chart could not be drawn or written; the message says why, in one line."""


def draw_here(report: WeekReport, path: Path) -> None:
    """Draw the chart in this process and write it, whole, to ``path``."""
    try:
        from dastbot.report.chart import chart_png

        png = chart_png(report)
    except ImportError as exc:
        raise ChartError(f"--chart needs matplotlib: {exc}") from None
    try:
        write_whole(path, png)
    except OSError as exc:
        raise ChartError(f"cannot write the chart to {path}: {exc.strerror or exc}") from None


class ChartProcess:
    """A child process that is importing matplotlib and will draw one report's chart."""

    def __init__(self, path: Path, child: subprocess.Popen[bytes] | None) -> None:
        self.path = path
        self._child = child

    @classmethod
    def start(cls, path: Path) -> ChartProcess:
        """The child for ``path``: the one the launcher started, when it started one for the
        same file, else a new one."""
        global _prestarted
        early, _prestarted = _prestarted, None
        if early is not None:
            if early.path.resolve() == path.resolve():
                return early
            early.cancel()
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "dastbot.report.chart_process", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError:
            child = None
        return cls(path, child)

    def draw(self, report: WeekReport) -> None:
        """Have the child draw ``report``'s chart into the file; raises ChartError if it fails."""
        child, self._child = self._child, None
        if child is None:
            draw_here(report, self.path)
            return
        try:
            _, err = child.communicate(pickle.dumps(report), timeout=DRAW_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise ChartError(
                f"drawing the chart took more than {DRAW_TIMEOUT_SECONDS:.0f} s"
            ) from None
        if child.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            reason = lines[-1] if lines else f"the chart process exited with {child.returncode}"
            raise ChartError(reason)

    def cancel(self) -> None:
        """No chart after all: the child exits without writing anything."""
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.communicate()

    def __enter__(self) -> ChartProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


_prestarted: ChartProcess | None = None


def chart_argument(argv: Sequence[str]) -> Path | None:
    """The file of ``--chart FILE`` (or ``--chart=FILE``) when ``argv`` runs ``dastbot report``
    (None otherwise, and for any spelling argparse alone would understand, such as ``--cha``)."""
    if next((arg for arg in argv if not arg.startswith("-")), None) != "report":
        return None
    for i, arg in enumerate(argv):
        if arg.startswith("--chart="):
            return Path(arg.removeprefix("--chart=")) if arg != "--chart=" else None
        if arg == "--chart" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return Path(argv[i + 1])
    return None


def prestart(argv: Sequence[str]) -> None:
    """Start the chart's child now if ``argv`` asks for a chart whose folder exists; the
    command takes it over in ``ChartProcess.start``, or it is stopped when the command ends."""
    global _prestarted
    path = chart_argument(argv)
    if path is None or not path.resolve().parent.is_dir():
        return
    _prestarted = ChartProcess.start(path)
    atexit.register(_stop_unused)


def _stop_unused() -> None:
    global _prestarted
    if _prestarted is not None:
        _prestarted.cancel()
        _prestarted = None


def _child_main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m dastbot.report.chart_process FILE.png", file=sys.stderr)
        return 2
    try:
        import matplotlib.backends.backend_agg
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        print(f"--chart needs matplotlib: {exc}", file=sys.stderr)
        return 3
    from dastbot.report.values import WeekReport

    data = sys.stdin.buffer.read()
    if not data:
        return 0
    report = pickle.loads(data)
    if not isinstance(report, WeekReport):
        print("the chart process was not given a weekly report", file=sys.stderr)
        return 2
    try:
        draw_here(report, Path(argv[0]))
    except ChartError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = _child_main(sys.argv[1:])
    sys.stderr.flush()
    os._exit(code)  # nothing left to clean up: skip the interpreter's slow teardown of matplotlib
