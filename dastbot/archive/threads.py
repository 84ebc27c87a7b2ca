"""Rebuilding threads from the mails' headers. Pure: metadata in, threads out.

The rules, in the spirit of Jamie Zawinski's threading algorithm that mail clients use:

1. Mails that refer to one another (``References``, ``In-Reply-To``) are one thread, also
   through a mail that is not in the archive (two replies to the same missing mail belong
   together). A reply whose subject was changed stays in its thread: the headers decide.
2. A mail that refers to no archived mail but whose subject is a reply (``Re:``, ``AW:``,
   ``Sv:``, ...) joins the thread that last used the same subject (prefixes, list tags such as
   ``[atlas-dast]`` and case ignored) within ``SUBJECT_WINDOW`` before it: clients that drop
   ``References`` still keep the subject, and so do replies to a mail the archive lost. A
   renamed subject ``New words (was: Old subject)`` continues ``Old subject`` the same way.
   Otherwise it starts a thread of its own.
3. A mail that refers to nothing and has no reply prefix starts a new thread, even when its
   subject repeats an older one (the same question asked again is a new question).
4. The thread's question is its oldest mail that refers to no archived mail. When that mail is
   itself a reply (it refers to mails missing from the archive, or has a reply prefix), the
   thread is an *orphan*: the question was never archived.

Thread ids are ``t`` + 12 hex digits of the question's Message-ID: stable across imports.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SUBJECT_WINDOW = timedelta(days=60)
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|vs|odp|ref|r|fwd?|wg|tr)(?:\s*\[\d+\]|\^\d+)?\s*:|\[[^\]]*\])\s*",
    re.IGNORECASE,
)
_REPLY = re.compile(r"^(?:re|aw|sv|antw|vs|odp|ref|r)(?:\s*\[\d+\]|\^\d+)?\s*:", re.IGNORECASE)
_WAS = re.compile(r"\(was:\s*(.+?)\)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Meta:
    """What threading needs of a mail (``date`` as sortable UTC ISO-8601 text)."""

    id: str
    date: str
    subject_key: str
    reply_subject: bool
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Thread:
    id: str
    question_id: str
    orphan: bool
    members: tuple[str, ...]  # oldest first


def subject_key(subject: str) -> tuple[str, bool]:
    """(the subject without reply/forward prefixes and list tags, lower case; whether its first
    prefix was a reply prefix)."""
    text = " ".join(subject.split())
    reply = False
    while True:
        found = _PREFIX.match(text)
        if not found or not found.group(0):
            break
        reply = reply or bool(_REPLY.match(found.group(0).strip()))
        text = text[found.end() :]
    return text.lower(), reply


def plain_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and list tags, case kept."""
    text = " ".join(subject.split())
    while (found := _PREFIX.match(text)) and found.group(0):
        text = text[found.end() :]
    return text


def thread_id(question_id: str) -> str:
    return "t" + hashlib.sha1(question_id.encode("utf-8", "surrogateescape")).hexdigest()[:12]


class _Sets:
    """Union-find over mail ids (archived or only referred to)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:
            x, parent[x] = parent[x], root
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def build(mails: Iterable[Meta]) -> list[Thread]:
    """The threads of ``mails``, in the order their questions were sent."""
    ordered: Sequence[Meta] = sorted(mails, key=lambda m: (m.date, m.id))
    present = {m.id for m in ordered}
    sets = _Sets()
    for m in ordered:
        sets.find(m.id)
        for ref in m.refs:
            sets.union(m.id, ref)
    # Rule 2 needs the reference-based groups first; it walks in date order.
    last_use: dict[str, tuple[str, str]] = {}  # subject key -> (any mail of the thread, date)
    for m in ordered:
        if not any(r in present for r in m.refs):
            for key in _earlier_subjects(m):
                found = last_use.get(key)
                if found is not None and _within(found[1], m.date):
                    sets.union(m.id, found[0])
                    break
        if m.subject_key:
            last_use[m.subject_key] = (m.id, m.date)
    groups: dict[str, list[Meta]] = defaultdict(list)
    for m in ordered:
        groups[sets.find(m.id)].append(m)
    threads: list[Thread] = []
    for members in groups.values():
        roots = [m for m in members if not any(r in present for r in m.refs)]
        question = (roots or members)[0]
        orphan = bool(question.refs) or question.reply_subject
        threads.append(
            Thread(thread_id(question.id), question.id, orphan, tuple(m.id for m in members))
        )
    sent = {m.id: m.date for m in ordered}
    threads.sort(key=lambda t: (sent[t.question_id], t.question_id))
    return threads


def _earlier_subjects(m: Meta) -> list[str]:
    """The subjects a reply may continue: its own (with a reply prefix), and the one after
    ``(was: ...)`` when the replier renamed the thread."""
    keys = [m.subject_key] if m.reply_subject and m.subject_key else []
    if (was := _WAS.search(m.subject_key)) is not None:
        keys.append(subject_key(was.group(1))[0])
    return keys


def _within(earlier: str, later: str) -> bool:
    try:
        gap = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    except ValueError:
        return False
    return gap <= SUBJECT_WINDOW
