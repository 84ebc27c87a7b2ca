"""Building a knowledge base and its matcher without slowing the answers: in a child process.

A reload of a large knowledge base is seconds of pure-Python work (YAML parsing, text analysis).
In a thread of the bot it would compete with the event loop for the GIL (the loop gives it up on
every SQLite call and waits to get it back) and its garbage collections would stop the loop; in
a child process (at the lowest CPU priority) it costs the loop nothing. The child (``main``,
started with ``CHILD``) writes the pickled result to its stdout; the bot reads it without
blocking and unpickles it in a thread through a reader written in Python, so the GIL changes
hands between the pickle's frames (a few milliseconds of work each) instead of being held for
the whole result. The pickle comes from our own code in a process we started, so unpickling it
is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dastbot.answering.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dastbot.answering.matcher import Matcher

CHILD = "import sys; from dastbot.answering.rebuild import main; sys.exit(main())"
"""The child's program (not ``-m``: run as ``__main__``, this module's classes would be pickled
under that name)."""
CHILD_TIMEOUT_S = 300.0
SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it, while the result is unpickled
(Python's default is 0.005)."""


@dataclass(frozen=True)
class Loaded:
    """A knowledge base and the matcher built from it: always swapped in together."""

    kb: KnowledgeBase
    matcher: Matcher


def build(path: Path, threshold: float, margin: float) -> Loaded:
    kb = load_knowledge(path)
    return Loaded(kb, Matcher(kb, threshold, margin))


class _Pieces:
    """A file-like reader in Python: the C unpickler calls it once per frame."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else min(len(self.data), self.at + n)
        piece = self.data[self.at : end]
        self.at = end
        return piece

    def readline(self) -> bytes:
        newline = self.data.find(b"\n", self.at)
        return self.read(-1 if newline < 0 else newline + 1 - self.at)


@contextlib.contextmanager
def _loop_first() -> Iterator[None]:
    """Quick GIL hand-overs, and no cyclic garbage collection (one full collection would hold
    the GIL for tens of milliseconds); both restored after."""
    interval, collecting = sys.getswitchinterval(), gc.isenabled()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    gc.disable()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()


def _unpickle(data: bytes) -> object:
    return pickle.Unpickler(_Pieces(data)).load()


async def build_in_child(path: Path, threshold: float, margin: float) -> Loaded:
    """``build`` in a child process; KnowledgeError for an invalid base, a child that fails or
    one that takes longer than ``CHILD_TIMEOUT_S``."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path.resolve()),
        repr(threshold),
        repr(margin),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT_S)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise KnowledgeError(
            [f"{path}: building the knowledge base took over {CHILD_TIMEOUT_S:.0f}s; stopped"]
        ) from None
    if child.returncode != 0 or not out:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise KnowledgeError(
            [f"{path}: the knowledge base could not be built (exit {child.returncode}: {last[0]})"]
        )
    with _loop_first():
        outcome = await asyncio.to_thread(_unpickle, out)
    match outcome:
        case ("loaded", Loaded() as loaded):
            return loaded
        case ("errors", list() as errors):
            raise KnowledgeError([str(e) for e in errors])
    raise KnowledgeError([f"{path}: the knowledge base could not be built (unexpected result)"])


async def release(matcher: Matcher, batch: int = 500) -> None:
    """Free a replaced matcher a slice at a time, letting the loop run between slices: freeing
    its index at once would hold the GIL for tens of milliseconds. Only for a matcher nothing
    uses any more."""
    fields = vars(matcher)
    for name in list(fields):
        value = fields.pop(name)
        while isinstance(value, list | dict) and value:
            if isinstance(value, list):
                del value[-batch:]
            else:
                for _ in range(min(batch, len(value))):
                    value.popitem()
            await asyncio.sleep(0)
        del value
        await asyncio.sleep(0)


def main(argv: Sequence[str] | None = None) -> int:
    """The child: build from argv (path, threshold, margin); the pickled outcome to stdout."""
    path, threshold, margin = argv if argv is not None else sys.argv[1:]
    with contextlib.suppress(OSError):
        os.nice(19)
    try:
        outcome: tuple[str, object] = ("loaded", build(Path(path), float(threshold), float(margin)))
    except KnowledgeError as exc:
        outcome = ("errors", exc.errors)
    sys.stdout.buffer.write(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0
