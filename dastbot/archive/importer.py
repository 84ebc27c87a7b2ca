"""``dastbot archive import``: archives in, mails and threads into the store.

``import_archive(store, paths, ...)`` streams every mail (``sources``), parses it (``parse``),
keeps the sender's own words (``clean``), and inserts the mails not yet archived, 1,000 per
transaction; then it rebuilds the threads of the whole archive (``threads``), so mails imported
from a second export (the e-group after the ticket mailbox) join the threads they belong to.

Idempotent: mails are keyed by Message-ID and thread rows are rewritten only when they change,
so importing the same archive again adds no row. Never fatal: a malformed mail, a truncated or
garbage file is a ``Problem`` in the result, with file and byte offset, and the import goes on.

Personal data: the sender's address is stored as ``h:`` + 16 hex digits of an HMAC-SHA256 keyed
with a secret kept in this database (``meta``: ``archive.salt``), and addresses inside the text
become ``[address]``, unless ``keep_addresses``. Display names are never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dastbot.archive.clean import forwarded_question, hide_addresses, own_text
from dastbot.archive.parse import Mail, parse
from dastbot.archive.sources import Problem, Raw, discover, read
from dastbot.archive.threads import Meta, build, plain_subject, subject_key
from dastbot.store import Store, iso
from dastbot.store import archive as tables

BATCH = 1000
MAX_TEXT = 20_000
"""Longer bodies (pasted logs) are cut to their head before cleaning."""


@dataclass
class ImportResult:
    files: int = 0
    mails: int = 0  # mails read (malformed ones included)
    added: int = 0  # new mails stored
    known: int = 0  # mails already archived (or twice in this import)
    problems: list[Problem] = field(default_factory=list)
    threads: int = 0
    threads_added: int = 0
    threads_removed: int = 0
    orphans: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"read {self.mails} mail(s) from {self.files} archive file(s) in {self.seconds:.1f} s: "
            f"{self.added} new, {self.known} already archived, {len(self.problems)} problem(s)",
            f"threads: {self.threads} ({self.threads_added} new, {self.threads_removed} merged "
            f"or replaced); {self.orphans} whose question is not in the archive",
        ]
        return "\n".join(lines)


def address_hash(secret: str, address: str) -> str:
    digest = hmac.new(secret.encode(), address.lower().encode(), hashlib.sha256).hexdigest()
    return "h:" + digest[:16]


def mail_row(mail: Mail, secret: str | None) -> dict[str, Any]:
    """The ``archive_messages`` row of ``mail``; ``secret`` None keeps addresses."""
    key, reply = subject_key(mail.subject)
    text = mail.text[:MAX_TEXT]
    body = forwarded_question(mail.subject, text) if not mail.refs else None
    if body is None:
        body = own_text(text)
    sender = mail.sender
    if secret is not None:
        body = hide_addresses(body)
        sender = address_hash(secret, sender)
    return {
        "message_id": mail.message_id,
        "thread_id": None,
        "date": iso(mail.date),
        "sender": sender,
        "subject": mail.subject,
        "subject_key": key,
        "reply_subject": int(reply),
        "refs": " ".join(mail.refs),
        "body": body,
        "html": int(mail.html),
        "attachments": mail.attachments,
        "source": mail.source,
        "offset": mail.offset,
    }


def _mails(paths: list[Path], result: ImportResult, progress: bool) -> Iterator[Raw]:
    inputs, problems = discover(paths)
    result.problems += problems
    result.files = len(inputs)
    total = sum(i.size for i in inputs)
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc="importing",
        disable=None if progress else True,
        file=sys.stderr,
        leave=False,
    ) as bar:
        for source in inputs:
            for item in read(source, bar.update):
                if isinstance(item, Problem):
                    result.problems.append(item)
                else:
                    yield item


def import_archive(
    store: Store,
    paths: list[Path],
    keep_addresses: bool = False,
    progress: bool = True,
) -> ImportResult:
    started = time.perf_counter()
    result = ImportResult()
    db = store.db
    known = tables.message_ids(db)
    secret = None if keep_addresses else tables.salt(db)
    batch: list[dict[str, Any]] = []
    for raw in _mails(paths, result, progress):
        result.mails += 1
        try:
            parsed = parse(raw)
            fresh = isinstance(parsed, Mail) and parsed.message_id not in known
            row = mail_row(parsed, secret) if fresh and isinstance(parsed, Mail) else None
        except Exception as exc:  # one unreadable mail must not stop a 100,000-mail import
            result.problems.append(Problem(raw.source, raw.offset, f"unreadable: {exc!r}"))
            continue
        if isinstance(parsed, Problem):
            result.problems.append(parsed)
            continue
        if row is None:
            result.known += 1
            continue
        known.add(parsed.message_id)
        batch.append(row)
        if len(batch) >= BATCH:
            result.added += tables.add_messages(db, batch)
            batch.clear()
    result.added += tables.add_messages(db, batch)
    rebuild_threads(store, result)
    result.seconds = time.perf_counter() - started
    return result


def rebuild_threads(store: Store, result: ImportResult | None = None) -> None:
    """Thread every archived mail again and store the threads that changed."""
    db = store.db
    metas: list[Meta] = []
    senders: dict[str, str] = {}
    for message_id, date, key, reply, refs, sender in tables.thread_inputs(db):
        metas.append(Meta(message_id, date, key or "", bool(reply), tuple(refs.split())))
        senders[message_id] = sender or ""
    threads = build(metas)
    dates = {m.id: m.date for m in metas}
    del metas
    tables.assign_threads(db, {m: t.id for t in threads for m in t.members})
    questions = tables.messages(db, (t.question_id for t in threads))
    rows: list[dict[str, Any]] = []
    for t in threads:
        q = questions[t.question_id]
        asker = senders[t.question_id]
        subject = plain_subject(q["subject"] or "")
        rows.append(
            {
                "thread_id": t.id,
                "question_id": t.question_id,
                "subject": subject,
                "asked_at": q["date"],
                "year": int(q["date"][:4]),
                "asker": asker,
                "question": "\n\n".join(p for p in (subject, q["body"] or "") if p),
                "messages": len(t.members),
                "replies": sum(senders[m] != asker for m in t.members),
                "last_at": max(dates[m] for m in t.members),
                "orphan": int(t.orphan),
            }
        )
    added, removed = tables.replace_threads(db, rows)
    if result is not None:
        result.threads = len(rows)
        result.threads_added = added
        result.threads_removed = removed
        result.orphans = sum(r["orphan"] for r in rows)


def problems_text(problems: list[Problem], limit: int = 50) -> str:
    """The problems, one a line, at most ``limit`` of them, then how many more."""
    lines = [f"  {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)
