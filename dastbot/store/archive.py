"""The mail archive's tables and all their SQL (``dastbot.archive`` owns the logic).

Tables: ``archive_messages`` (one row per archived mail, keyed by its Message-ID, so importing
the same archive twice adds nothing), ``archive_threads`` (one row per reconstructed thread; its
first message is the question) and ``archive_weekly`` (the archive line of each weekly report,
frozen once the week is over). Every function takes the sqlite-utils ``Database``; times are UTC
ISO-8601 as everywhere in the store.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlite_utils

MESSAGES = "archive_messages"
THREADS = "archive_threads"
WEEKLY = "archive_weekly"
SALT_KEY = "archive.salt"

TABLE_DOCS: dict[str, tuple[str, dict[str, str]]] = {
    MESSAGES: (
        "Mail imported by `dastbot archive import`: one row per Message-ID.",
        {
            "message_id": "the Message-ID header (or a hash of the raw mail when it has none)",
            "thread_id": "the reconstructed thread it belongs to (archive_threads)",
            "date": "when it was sent (UTC)",
            "sender": "sender address, hashed unless imported with --keep-addresses",
            "subject": "decoded subject",
            "subject_key": "subject without reply prefixes and list tags, lower case",
            "reply_subject": "1 when the subject had a reply prefix (Re:, AW:, ...)",
            "refs": "Message-IDs it refers to (References, then In-Reply-To), space-separated",
            "body": "the sender's own text: quotes, signatures and list footers stripped",
            "html": "1 when the text came from an HTML part",
            "attachments": "number of attached files",
            "source": "file it was read from",
            "offset": "byte offset of the mail in its mbox file",
        },
    ),
    THREADS: (
        "Threads rebuilt from Message-ID / In-Reply-To / References (subject fallback).",
        {
            "thread_id": "t + 12 hex digits of the first message's id",
            "question_id": "Message-ID of its first message (the question)",
            "subject": "subject of the question",
            "asked_at": "when the question was sent (UTC)",
            "year": "year it was asked (UTC)",
            "asker": "sender of the question (hashed unless --keep-addresses)",
            "question": "subject and text of the question, as the matcher sees it",
            "messages": "mails in the thread",
            "replies": "mails in the thread from someone other than the asker",
            "last_at": "last mail in the thread (UTC)",
            "orphan": "1 when the first archived mail is itself a reply (the question is missing)",
        },
    ),
    WEEKLY: (
        "The archive line of each weekly report: how much of the archive's last year the "
        "knowledge base answered, frozen once the week is over.",
        {
            "week": "ISO week of the report (YYYY-Www)",
            "measured_at": "when it was measured (UTC)",
            "kb": "fingerprint of the knowledge base and matcher settings measured",
            "period_start": "first day of the archive year measured",
            "period_end": "last day of the archive year measured",
            "questions": "questions asked in that year",
            "answered": "of which the knowledge base answered",
        },
    ),
}


def migrate(db: sqlite_utils.Database) -> None:
    """Create the archive tables (one migration step)."""
    db.table(MESSAGES).create(
        {
            "message_id": str,
            "thread_id": str,
            "date": str,
            "sender": str,
            "subject": str,
            "subject_key": str,
            "reply_subject": int,
            "refs": str,
            "body": str,
            "html": int,
            "attachments": int,
            "source": str,
            "offset": int,
        },
        pk="message_id",
        not_null={"date"},
    )
    db.table(MESSAGES).create_index(["thread_id", "date"])
    db.table(THREADS).create(
        {
            "thread_id": str,
            "question_id": str,
            "subject": str,
            "asked_at": str,
            "year": int,
            "asker": str,
            "question": str,
            "messages": int,
            "replies": int,
            "last_at": str,
            "orphan": int,
        },
        pk="thread_id",
        not_null={"question_id", "asked_at"},
    )
    db.table(THREADS).create_index(["asked_at"])
    db.table(WEEKLY).create(
        {
            "week": str,
            "measured_at": str,
            "kb": str,
            "period_start": str,
            "period_end": str,
            "questions": int,
            "answered": int,
        },
        pk="week",
    )


def salt(db: sqlite_utils.Database) -> str:
    """This database's secret for hashing addresses (made on first use, kept in ``meta``)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [SALT_KEY]).fetchone()
    if row is not None:
        return str(row[0])
    value = secrets.token_hex(16)
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", [SALT_KEY, value])
    return str(db.execute("SELECT value FROM meta WHERE key = ?", [SALT_KEY]).fetchone()[0])


def message_ids(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute(f"SELECT message_id FROM {MESSAGES}")}


def add_messages(db: sqlite_utils.Database, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert mails not yet archived (by Message-ID); returns how many were new."""
    if not rows:
        return 0
    columns = list(rows[0])
    marks = ",".join("?" for _ in columns)
    sql = f"INSERT OR IGNORE INTO {MESSAGES} ({','.join(columns)}) VALUES ({marks})"
    before = db.execute("SELECT total_changes()").fetchone()[0]
    with db.atomic():
        db.conn.executemany(sql, [[row[c] for c in columns] for row in rows])
    return int(db.execute("SELECT total_changes()").fetchone()[0] - before)


def thread_inputs(db: sqlite_utils.Database) -> Iterator[tuple[str, str, str, int, str, str]]:
    """(message_id, date, subject_key, reply_subject, refs, sender) of every mail, oldest first."""
    yield from db.execute(
        f"SELECT message_id, date, subject_key, reply_subject, refs, sender FROM {MESSAGES} "
        "ORDER BY date, message_id"
    )


def messages(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The rows of the mails ``ids`` (those that exist)."""
    wanted = list(ids)
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for row in db.execute_returning_dicts(
            f"SELECT * FROM {MESSAGES} WHERE message_id IN ({marks})", chunk
        ):
            out[row["message_id"]] = row
    return out


def assign_threads(db: sqlite_utils.Database, thread_of: Mapping[str, str]) -> int:
    """Set each mail's thread; returns how many mails changed thread."""
    current = dict(db.execute(f"SELECT message_id, thread_id FROM {MESSAGES}").fetchall())
    changed = [(t, m) for m, t in thread_of.items() if current.get(m) != t]
    with db.atomic():
        db.conn.executemany(f"UPDATE {MESSAGES} SET thread_id = ? WHERE message_id = ?", changed)
    return len(changed)


def replace_threads(
    db: sqlite_utils.Database, rows: Sequence[Mapping[str, Any]]
) -> tuple[int, int]:
    """Make ``archive_threads`` hold exactly ``rows``; returns (threads added, threads removed).

    Rows equal to the stored ones are left alone, so a re-import writes nothing."""
    stored = {
        row["thread_id"]: row for row in db.execute_returning_dicts(f"SELECT * FROM {THREADS}")
    }
    wanted = {row["thread_id"]: dict(row) for row in rows}
    gone = [t for t in stored if t not in wanted]
    changed = [row for t, row in wanted.items() if stored.get(t) != row]
    with db.atomic():
        db.conn.executemany(f"DELETE FROM {THREADS} WHERE thread_id = ?", [[t] for t in gone])
        if changed:
            db.table(THREADS).upsert_all(changed, pk="thread_id")
    return sum(t not in stored for t in wanted), len(gone)


def threads(
    db: sqlite_utils.Database, since_year: int | None = None, orphans: bool = False
) -> list[dict[str, Any]]:
    """Thread rows in the order asked (without orphans unless asked for)."""
    where = ["1"]
    args: list[Any] = []
    if since_year is not None:
        where.append("year >= ?")
        args.append(since_year)
    if not orphans:
        where.append("orphan = 0")
    return db.execute_returning_dicts(
        f"SELECT * FROM {THREADS} WHERE {' AND '.join(where)} ORDER BY asked_at, thread_id", args
    )


def thread_count(db: sqlite_utils.Database) -> int:
    if THREADS not in db.table_names():
        return 0
    return int(db.execute(f"SELECT COUNT(*) FROM {THREADS}").fetchone()[0])


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Rows in each archive table."""
    return {
        table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        for table in (MESSAGES, THREADS, WEEKLY)
    }


def replies(db: sqlite_utils.Database, thread_id: str, asker: str) -> list[str]:
    """The texts other people sent in a thread, in order."""
    rows = db.execute(
        f"SELECT body FROM {MESSAGES} WHERE thread_id = ? AND sender IS NOT ? "
        "AND body != '' ORDER BY date, message_id",
        [thread_id, asker],
    )
    return [str(row[0]) for row in rows]


def newest_question(db: sqlite_utils.Database) -> str | None:
    """When the archive's newest question (orphans left out) was asked, or None."""
    if THREADS not in db.table_names():
        return None
    row = db.execute(f"SELECT MAX(asked_at) FROM {THREADS} WHERE orphan = 0").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def questions_between(db: sqlite_utils.Database, after: str, until: str) -> list[str]:
    """The question texts asked in (after, until], oldest first (orphans left out)."""
    rows = db.execute(
        f"SELECT question FROM {THREADS} WHERE orphan = 0 AND asked_at > ? AND asked_at <= ? "
        "ORDER BY asked_at, thread_id",
        [after, until],
    )
    return [str(row[0]) for row in rows]


def weekly(db: sqlite_utils.Database, week: str) -> dict[str, Any] | None:
    rows = db.execute_returning_dicts(f"SELECT * FROM {WEEKLY} WHERE week = ?", [week])
    return rows[0] if rows else None


def save_weekly(db: sqlite_utils.Database, row: Mapping[str, Any]) -> None:
    db.table(WEEKLY).upsert(dict(row), pk="week")
