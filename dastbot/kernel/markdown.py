"""Mattermost markdown the bot writes: one escaper for echoed user text, tables, shortening.

Everything a user typed and the bot repeats goes through ``escape_markdown``, so that it cannot
format, link, mention (``@channel``) or spoof direction (bidi controls).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

POST_LIMIT = 16_383
"""The longest message Mattermost accepts, in characters (runes); longer posts are refused."""

_INLINE_SPECIALS = frozenset("\\`*_~[]<>|$")
_LINE_START_RE = re.compile(r"^([ \t]*)([#>+=-]|[0-9]{1,9}[.)])")
_URL_RE = re.compile(r"https?://[^\s<>()\[\]`|*\"']+")
_URL_TRAILING = ".,;:!?"
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _escape_plain(text: str) -> str:
    out = "".join("\\" + c if c in _INLINE_SPECIALS else c for c in text)
    return out.replace("@", "@\u200b")


def escape_markdown(text: str) -> str:
    """``text`` as literal Mattermost markdown: no formatting, links, mentions or block syntax.

    ``@`` becomes ``@`` + zero-width space (no @-mentions, no @channel); markdown punctuation is
    backslash-escaped; list, heading, quote and setext markers at a line start are escaped; http(s)
    URLs are kept as written (except ``@``) so that they stay clickable. Control characters go.
    """
    text = _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines: list[str] = []
    for line in text.split("\n"):
        pieces: list[str] = []
        pos = 0
        for match in _URL_RE.finditer(line):
            url = match.group().rstrip(_URL_TRAILING)
            pieces.append(_escape_plain(line[pos : match.start()]))
            pieces.append(url.replace("@", "@\u200b"))
            pos = match.start() + len(url)
        pieces.append(_escape_plain(line[pos:]))
        escaped = "".join(pieces)
        lines.append(_LINE_START_RE.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped))
    return "\n".join(lines)


def shorten(text: str, limit: int) -> str:
    """``text`` stripped and cut to ``limit`` characters, an ellipsis marking the cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def one_line(text: str, limit: int = 80) -> str:
    """User text folded onto one escaped line of at most ``limit`` characters."""
    return escape_markdown(shorten(" ".join(text.split()), limit))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A markdown table; ``align`` has one letter per column (l, r, c), default all left."""
    align = align or "l" * len(header)
    marks = {"l": "---", "r": "--:", "c": ":-:"}
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def mention(user: str | None) -> str:
    """``@user``, or "" for nobody."""
    return f"@{user}" if user else ""


def bounded(
    head: str,
    items: Sequence[str],
    more: Callable[[int], str],
    limit: int = POST_LIMIT,
    most: int | None = None,
) -> str:
    """``head``, then one line per item for as many items as fit in ``limit`` characters (and at
    most ``most``), then ``more(n)`` naming the ``n`` items left out. Order the items most urgent
    first: the ones at the end are the ones dropped."""
    shown: list[str] = []
    size = len(head)
    reserve = len(more(len(items))) + 2
    for i, item in enumerate(items):
        last = i == len(items) - 1
        if (most is not None and len(shown) >= most) or size + 1 + len(item) + (
            0 if last else reserve
        ) > limit:
            break
        shown.append(item)
        size += 1 + len(item)
    text = "\n".join([head, *shown]) if shown else head
    left = len(items) - len(shown)
    return f"{text}\n{more(left)}" if left else text
