"""What every identifier scanner shares: the span kinds, the result types, offsets-safe
lower-casing and the overlap resolution of candidate spans.

Conventions for the scanners' patterns. Patterns marked "low" run on the lower-cased text (same
length, same offsets); values are then read from the original text. A pattern that must not start
inside a word is written ``lit(?<!X lit)``: the look-behind comes after the literal so that the
engine still uses its fast literal search. A number never continues into a word character or into
``[.:/-]digit``, so dates, times, versions and decimals are not ids. Every run of optional
separators is bounded, and no unbounded quantifier is nested in another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("url", "task_id", "job_id", "did", "rse", "site", "release", "error_code")
"""Span kinds, in order of precedence when two candidate spans overlap."""


@dataclass(frozen=True)
class Span:
    """One recognised identifier at ``text[start:end]``, with its kind and normalised value.

    The value may differ from the matched text: DIDs lose a trailing ``/``, releases read
    ``Project,version``, error codes read ``kind:code`` (e.g. ``pilot:1099``).
    """

    start: int
    end: int
    kind: str
    value: str


@dataclass(frozen=True)
class Identifiers:
    """Everything found in a message, deduplicated and in order of first appearance."""

    task_ids: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()
    dids: tuple[str, ...] = ()
    rses: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    error_codes: tuple[tuple[str, str], ...] = ()
    error_lines: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing at all was found."""
        return not (
            self.task_ids
            or self.job_ids
            or self.dids
            or self.rses
            or self.sites
            or self.releases
            or self.error_codes
            or self.error_lines
            or self.urls
        )


ASCII = re.ASCII
NUM_END = r"(?![\w]|[.:/-][0-9])"
_PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

Cand = tuple[int, int, int, str, str]  # (priority, start, end, kind, value)


def lower(text: str) -> str:
    """Lower-cased text with the same length, so offsets carry over to the original."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters grow when lower-cased (U+0130)
        low = text.translate(_ASCII_LOWER)
    return low


def resolve(cands: list[Cand], size: int) -> list[Span]:
    """Greedy by (priority, start, longest first); drop a candidate overlapping a winner."""
    taken = bytearray(size)
    out: list[Span] = []
    for _prio, start, end, kind, value in sorted(cands, key=lambda c: (c[0], c[1], c[1] - c[2])):
        if end <= start or taken.find(1, start, end) != -1:
            continue
        taken[start:end] = b"\x01" * (end - start)
        out.append(Span(start, end, kind, value))
    out.sort(key=lambda s: s.start)
    return out


def cand(kind: str, start: int, end: int, value: str) -> Cand:
    return (_PRIORITY[kind], start, end, kind, value)
