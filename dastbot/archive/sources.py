"""Reading mail archives as they come: mbox files (plain or .gz), Maildir folders, .eml files.

``discover(paths)`` turns the command line's paths into ``Input``s (a folder is searched for
Maildirs, ``*.mbox`` / ``*.mbx`` / ``*.mbox.gz`` files and ``*.eml`` files); ``read(input,
advance)`` yields each mail as ``Raw`` bytes with where it came from, or a ``Problem`` for what
cannot be a mail. Nothing here raises on bad data: an unreadable file, bytes before the first
``From`` line of an mbox, or a file that ends mid-line is a ``Problem`` with its file and offset.

mbox is read line by line (memory does not grow with the file). A line starting ``From `` opens
a new mail when it is the file's first line or follows an empty line, and carries a time and a
four-digit year, as the envelope lines of mbox writers (Gmail's export, mailman, mutt) do; a
``From `` line in a body that the writer did not escape therefore rarely splits a mail. Escaped
body lines (``>From ``, mboxrd) lose one ``>``.
"""

from __future__ import annotations

import gzip
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MBOX_SUFFIXES = (".mbox", ".mbx", ".mbox.gz", ".mbx.gz")
_ENVELOPE = re.compile(rb"^From \S*.*\d:\d\d.*\b\d{4}\b")
_ESCAPED = re.compile(rb"^>+From ")
_HEADER = re.compile(rb"^[!-9;-~]+:")


@dataclass(frozen=True)
class Raw:
    """One mail's bytes; ``offset`` is its byte offset in an mbox (None for a file of its own)."""

    source: str
    offset: int | None
    data: bytes
    envelope: bytes = b""


@dataclass(frozen=True)
class Problem:
    """Something in an archive that is not a usable mail."""

    source: str
    offset: int | None
    reason: str

    def __str__(self) -> str:
        where = self.source if self.offset is None else f"{self.source} at byte {self.offset}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Input:
    kind: str  # "mbox", "maildir" or "eml"
    path: Path
    size: int  # bytes, for the progress bar


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _maildir_size(path: Path) -> int:
    return sum(_size(f) for sub in ("cur", "new") for f in (path / sub).iterdir() if f.is_file())


def discover(paths: list[Path]) -> tuple[list[Input], list[Problem]]:
    """The archives under ``paths`` in a stable order, and the paths that hold none."""
    inputs: list[Input] = []
    problems: list[Problem] = []
    for path in paths:
        if _is_maildir(path):
            inputs.append(Input("maildir", path, _maildir_size(path)))
        elif path.is_dir():
            found = _search(path)
            if not found:
                problems.append(Problem(str(path), None, "no mbox, Maildir or .eml files here"))
            inputs += found
        elif path.is_file():
            inputs.append(Input(_file_kind(path), path, _size(path)))
        else:
            problems.append(Problem(str(path), None, "no such file or folder"))
    return inputs, problems


def _file_kind(path: Path) -> str:
    """``eml`` for a .eml file or a file that starts with a header line; ``mbox`` otherwise."""
    if path.suffix.lower() == ".eml":
        return "eml"
    if path.name.lower().endswith(".gz"):
        return "mbox"
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return "mbox"  # reading it again reports why it cannot be read
    return "eml" if not head.startswith(b"From ") and looks_like_mail(head) else "mbox"


def _search(folder: Path) -> list[Input]:
    found: list[Input] = []
    for path in sorted(folder.rglob("*")):
        name = path.name.lower()
        if path.is_dir() and _is_maildir(path):
            found.append(Input("maildir", path, _maildir_size(path)))
        elif path.is_file() and name.endswith(MBOX_SUFFIXES):
            found.append(Input("mbox", path, _size(path)))
        elif path.is_file() and name.endswith(".eml"):
            found.append(Input("eml", path, _size(path)))
    return found


def read(source: Input, advance: Callable[[int], None]) -> Iterator[Raw | Problem]:
    """Every mail of ``source``; ``advance(n)`` is told of each ``n`` bytes consumed."""
    if source.kind == "maildir":
        yield from _read_maildir(source.path, advance)
    elif source.kind == "eml":
        yield from _read_file(source.path, advance)
    else:
        yield from _read_mbox(source.path, advance)


def _read_file(path: Path, advance: Callable[[int], None]) -> Iterator[Raw | Problem]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Problem(str(path), None, f"cannot read: {exc.strerror or exc}")
        return
    advance(len(data))
    yield Raw(str(path), None, data)


def _read_maildir(path: Path, advance: Callable[[int], None]) -> Iterator[Raw | Problem]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.keys()):
        where = f"{path}/{key}"
        try:
            data = box.get_bytes(key)
        except (OSError, KeyError) as exc:
            yield Problem(where, None, f"cannot read: {exc}")
            continue
        advance(len(data))
        yield Raw(where, None, data)


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _read_mbox(path: Path, advance: Callable[[int], None]) -> Iterator[Raw | Problem]:
    where = str(path)
    try:
        handle = _open(path)
    except OSError as exc:
        yield Problem(where, None, f"cannot read: {exc.strerror or exc}")
        return
    with handle:
        try:
            yield from _split_mbox(handle, where, advance)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            yield Problem(where, None, f"reading stopped: {exc}")


def _split_mbox(
    handle: BinaryIO, where: str, advance: Callable[[int], None]
) -> Iterator[Raw | Problem]:
    offset = 0  # of the current line
    reported = 0  # bytes already passed to advance()
    start: int | None = None  # of the current mail's envelope line
    envelope = b""
    lines: list[bytes] = []
    junk = 0  # bytes before the first envelope line
    blank_before = True
    last = b""
    for line in handle:
        if line.startswith(b"From ") and blank_before and _ENVELOPE.match(line):
            if start is not None:
                yield Raw(where, start, _body(lines), envelope)
            elif junk:
                yield Problem(where, 0, f"{junk} bytes before the first 'From ' line skipped")
            start, envelope, lines = offset, line.rstrip(b"\r\n"), []
            if offset - reported > 1 << 20:
                advance(offset - reported)
                reported = offset
        elif start is None:
            junk += len(line)
        else:
            lines.append(line)
        blank_before = line in (b"\n", b"\r\n")
        offset += len(line)
        last = line
    advance(offset - reported)
    if start is None:
        if offset:
            yield Problem(where, 0, "not an mbox file: no 'From ' line starts a mail")
        return
    if not last.endswith(b"\n"):
        yield Problem(where, start, "the file ends in the middle of a line (truncated?)")
    yield Raw(where, start, _body(lines), envelope)


def _body(lines: list[bytes]) -> bytes:
    while lines and lines[-1] in (b"\n", b"\r\n"):
        lines.pop()  # the empty line that separates mails
    return b"".join(
        _ESCAPED.sub(lambda m: m.group(0)[1:], line) if line.startswith(b">") else line
        for line in lines
    )


def looks_like_mail(data: bytes) -> bool:
    """Whether ``data`` starts with a header line (``Name: value``)."""
    return bool(_HEADER.match(data.lstrip(b"\r\n")[:200]))
