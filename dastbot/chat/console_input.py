"""Where the console's typed input comes from, and how lines become entries (one post each).

``LineReader`` reads a terminal with line editing and history (the standard library's
``readline``: arrow keys, Ctrl-R, a history file) or, from a pipe or a file, plain lines.
``next_entry`` joins the lines of one post:

* a ``:paste`` line starts a block that ends at a ``:end`` line (or the end of input);
* a line ending in ``\\`` continues on the next line;
* at a terminal, lines that arrive together (a pasted log) are one post, as are the lines of a
  bracketed paste that ``readline`` hands over at once.
"""

from __future__ import annotations

import contextlib
import select
import sys
from pathlib import Path
from typing import Protocol, TextIO

PASTE_START = ":paste"
PASTE_END = ":end"
CONTINUATION = "... "
BURST_SECONDS = 0.1
"""Lines arriving within this time of each other at a terminal are a paste, not typing."""
HISTORY_LINES = 1000


class Lines(Protocol):
    interactive: bool

    def read(self, prompt: str) -> str | None:
        """The next line without its newline; None at the end of input."""
        ...

    def pending(self) -> bool:
        """More input is already waiting (the rest of a paste)."""
        ...


class LineReader:
    """Lines from ``stream``; at a terminal through ``readline`` with a history file."""

    def __init__(
        self, stream: TextIO, out: TextIO, history: Path | None = None, interactive: bool = False
    ) -> None:
        self.stream, self.out, self.history = stream, out, history
        self.interactive = interactive
        self._readline = interactive and stream is sys.stdin and out is sys.stdout
        if self._readline:
            self._start_history()

    def _start_history(self) -> None:
        try:
            import readline
        except ImportError:  # Windows without pyreadline: plain input() still works
            self._readline = False
            return
        readline.set_history_length(HISTORY_LINES)
        if self.history is not None:
            with contextlib.suppress(OSError):
                readline.read_history_file(self.history)

    def close(self) -> None:
        """Save the history (at a terminal)."""
        if not self._readline or self.history is None:
            return
        import readline

        with contextlib.suppress(OSError):
            readline.write_history_file(self.history)

    def read(self, prompt: str) -> str | None:
        if self._readline:
            try:
                return input(prompt)
            except EOFError:
                return None
        if self.interactive and prompt:
            self.out.write(prompt)
            self.out.flush()
        raw = self.stream.readline()
        return raw.removesuffix("\n").removesuffix("\r") if raw else None

    def pending(self) -> bool:
        if not self.interactive:
            return False
        try:
            ready, _, _ = select.select([self.stream], [], [], BURST_SECONDS)
        except (OSError, ValueError):
            return False
        return bool(ready)


def next_entry(lines: Lines, prompt: str) -> str | None:
    """The next post, command or meta-line: one line, or the lines joined as described in the
    module docstring; None at the end of input."""
    first = lines.read(prompt)
    if first is None:
        return None
    if first.strip() == PASTE_START:
        block: list[str] = []
        while (line := lines.read("")) is not None and line.strip() != PASTE_END:
            block.append(line)
        return "\n".join(block)
    entry = first
    while entry.endswith("\\"):
        more = lines.read(CONTINUATION)
        entry = entry[:-1] + ("\n" + more if more is not None else "")
        if more is None:
            return entry
    if lines.interactive and not entry.startswith((":", "/")):
        while lines.pending():
            more = lines.read("")
            if more is None:
                break
            entry += "\n" + more
    return entry
