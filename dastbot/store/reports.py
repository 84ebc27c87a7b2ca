"""The weekly report's reads: for a window ``[start, end)`` of UTC instants, the questions it
counts, their audit trail, the first human responses, the escalations, the deadline notices and
who handled which thread; and ``ReportReader``, a read-only connection for computing a report on
a worker thread while the bot keeps writing through its own connection.

Nothing here writes. "Before ``end``" everywhere: a week's figures use only what was known at
the week's end, so a finished week's report never changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from dastbot.kernel.events import EventKind
from dastbot.store.base import iso, parse_iso
from dastbot.store.shifts import ShiftRows

_WEEK = "created_at >= ? AND created_at < ?"
"""Questions asked in the window (the ``created_at`` index)."""
_REPLAYED = "updated_at >= ? AND +created_at < ? AND (resolved_at IS NULL OR resolved_at >= ?)"
"""Questions asked before the window, not resolved by its end, and changed since its end (the
``updated_at`` index): their state at the end must be replayed from the audit trail. The unary
``+`` keeps SQLite off the ``created_at`` index, which would walk all history before the window."""


def _marks(values: Sequence[str]) -> str:
    return ",".join("?" for _ in values)


class ReportRows(ShiftRows):
    """The report's queries (the schedule's ``assignments`` included, through ``ShiftRows``).

    Every query reads the rows of its window (or the threads of those rows) through an index;
    the only rows from before the window are those still open, the backlog itself."""

    def report_questions(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Question rows asked in the window, then those asked before it, not resolved by
        ``end`` and changed since ``end`` (their state at ``end`` needs the audit trail), each
        group oldest first. The backlog unchanged since ``end`` is ``backlog_unchanged``."""
        s, e = iso(start), iso(end)
        week = self.db.execute_returning_dicts(
            f"SELECT * FROM questions WHERE {_WEEK} ORDER BY created_at, thread_id", [s, e]
        )
        older = self.db.execute_returning_dicts(
            f"SELECT * FROM questions INDEXED BY idx_questions_updated_at WHERE {_REPLAYED} "
            "ORDER BY created_at, thread_id",
            [e, s, e],
        )
        return week + older

    def backlog_unchanged(self, start: datetime, end: datetime, states: Sequence[str]) -> int:
        """Questions asked before the window, in ``states`` (the open ones) and unchanged since
        before ``end``: their stored state is their state at ``end``. Counted on the
        ``(state, created_at)`` index: only rows in those states are read."""
        return int(
            self.db.execute(
                f"SELECT COUNT(*) FROM questions WHERE state IN ({_marks(states)}) "
                "AND created_at < ? AND updated_at < ?",
                [*states, iso(start), iso(end)],
            ).fetchone()[0]
        )

    def report_events(
        self, start: datetime, end: datetime, kinds: Sequence[EventKind]
    ) -> list[dict[str, Any]]:
        """The events of ``kinds`` before ``end`` in the threads of ``report_questions``, oldest
        first, ``data`` decoded. Read through the thread index (the ``+`` keep SQLite off the
        ``(kind, at)`` index, which would walk every event of those kinds ever)."""
        s, e = iso(start), iso(end)
        rows = self.db.execute_returning_dicts(
            "SELECT thread_id, at, kind, actor, data FROM events "
            f"WHERE +at < ? AND +kind IN ({_marks(kinds)}) AND thread_id IN "
            f"(SELECT thread_id FROM questions WHERE {_WEEK} "
            "UNION ALL SELECT thread_id FROM questions INDEXED BY idx_questions_updated_at "
            f"WHERE {_REPLAYED}) "
            "ORDER BY at, id",
            [e, *kinds, s, e, e, s, e],
        )
        for row in rows:
            row["data"] = json.loads(row["data"] or "{}")
        return rows

    def first_responses(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The questions whose first human response falls in the window: ``thread_id``,
        ``created_at``, ``first_human_at`` and ``needed_at`` (their first ``needs_human``
        event, or None), in the order of the responses."""
        return self.db.execute_returning_dicts(
            "SELECT q.thread_id, q.created_at, q.first_human_at, "
            "(SELECT MIN(at) FROM events v WHERE v.thread_id = q.thread_id "
            "AND +v.kind = ?) AS needed_at "  # the + keeps SQLite on the thread index
            "FROM questions q WHERE q.first_human_at >= ? AND q.first_human_at < ? "
            "ORDER BY q.first_human_at, q.thread_id",
            [EventKind.NEEDS_HUMAN, iso(start), iso(end)],
        )

    def report_escalations(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Escalation rows opened before ``end`` and not closed before ``start``, oldest first:
        every escalation opened, replied to, overdue or open in the window (an escalation is
        closed after all of those)."""
        return self.db.execute_returning_dicts(
            "SELECT * FROM escalations WHERE (closed_at IS NULL OR closed_at >= ?) "
            "AND +opened_at < ? ORDER BY opened_at, id",
            [iso(start), iso(end)],
        )

    def deadline_notices(self, start: datetime, end: datetime) -> dict[str, datetime]:
        """Escalation id -> when its first deadline notice was recorded, for notices before
        ``end`` about the escalations of ``report_escalations`` (read through their threads)."""
        notices: dict[str, datetime] = {}
        for at, data in self.db.execute(
            "SELECT at, data FROM events WHERE +kind = ? AND +at < ? AND thread_id IN "
            "(SELECT thread_id FROM escalations WHERE (closed_at IS NULL OR closed_at >= ?) "
            "AND +opened_at < ?) ORDER BY at, id",
            [EventKind.ESCALATION_DEADLINE, iso(end), iso(start), iso(end)],
        ).fetchall():
            escalation = str(json.loads(data or "{}").get("escalation", ""))
            notices.setdefault(escalation, parse_iso(at))
        return notices

    def thread_handlers(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """(person, thread) for every reply by a person and every take in the window, in time
        order (a person and thread repeat when they acted more than once)."""
        rows = self.db.execute(
            "SELECT actor, thread_id FROM events WHERE kind IN (?, ?) AND at >= ? AND at < ? "
            "ORDER BY at, id",
            [EventKind.HUMAN_REPLY, EventKind.TAKE, iso(start), iso(end)],
        ).fetchall()
        return [(str(actor), str(thread)) for actor, thread in rows]

    def question_count(self) -> int:
        """How many questions the database holds (demo data goes only into an empty one)."""
        return int(self.db.execute("SELECT COUNT(*) FROM questions").fetchone()[0])

    def database_file(self) -> Path | None:
        """The file behind the main database; None for an in-memory one."""
        for _, name, file in self.db.execute("PRAGMA database_list").fetchall():
            if name == "main":
                return Path(file) if file else None
        return None


class ReportReader(ReportRows):
    """A read-only connection for the report: no migration, no writes. Open it on the thread
    that uses it (a connection belongs to the thread that opened it) and close it there."""

    def __init__(self, db: sqlite_utils.Database, name: str) -> None:
        self.db = db
        self.name = name

    @classmethod
    def open_read_only(cls, path: Path) -> ReportReader:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
        return cls(sqlite_utils.Database(conn), str(path))

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every query inside sees the database as it was at the first."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("ROLLBACK")
