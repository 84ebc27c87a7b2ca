"""The ``questions`` table, the ``events`` audit trail, and ``pings`` (who was mentioned in a
question's thread to take it, and when)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dastbot.store.base import StoreBase, iso, parse_iso


class QuestionRows(StoreBase):
    def record(
        self,
        kind: str,
        now: datetime,
        thread_id: str = "",
        actor: str = "",
        **data: Any,
    ) -> None:
        self.db.table("events").insert(
            {
                "at": iso(now),
                "kind": kind,
                "thread_id": thread_id,
                "actor": actor,
                "data": json.dumps(data, sort_keys=True, default=str),
            }
        )

    def events(self, thread_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        where: list[str] = []
        args: list[str] = []
        if thread_id is not None:
            where.append("thread_id = ?")
            args.append(thread_id)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        clause = " AND ".join(where) or "1"
        rows = self.db.execute_returning_dicts(
            f"SELECT * FROM events WHERE {clause} ORDER BY id", args
        )
        for row in rows:
            row["data"] = json.loads(row["data"] or "{}")
        return rows

    def add_question(
        self,
        *,
        thread_id: str,
        channel_id: str,
        author_id: str,
        author_name: str,
        text: str,
        now: datetime,
        entry_id: str | None,
        score: float | None,
        state: str,
        channel_type: str = "O",
    ) -> None:
        stamp = iso(now)
        self.db.table("questions").insert(
            {
                "thread_id": thread_id,
                "channel_id": channel_id,
                "author_id": author_id,
                "author_name": author_name,
                "text": text,
                "entry_id": entry_id,
                "score": score,
                "state": state,
                "created_at": stamp,
                "updated_at": stamp,
                "answered_at": stamp if entry_id else None,
                "channel_type": channel_type,
            },
            ignore=True,
        )

    def question(self, thread_id: str) -> dict[str, Any] | None:
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM questions WHERE thread_id = ?", [thread_id]
        )
        return rows[0] if rows else None

    def update_question(self, thread_id: str, now: datetime, **fields: Any) -> None:
        self.db.table("questions").update(thread_id, {**fields, "updated_at": iso(now)})

    def pinged_since(self, thread_id: str, users: Sequence[str], since: datetime) -> set[str]:
        """Which of ``users`` were mentioned in ``thread_id`` to take it at or after ``since``."""
        rows = self.db.execute_returning_dicts(
            "SELECT user, at FROM pings WHERE thread_id = ?", [thread_id]
        )
        return {r["user"] for r in rows if r["user"] in users and r["at"] >= iso(since)}

    def record_pings(self, thread_id: str, users: Sequence[str], now: datetime) -> None:
        self.db.table("pings").upsert_all(
            [{"thread_id": thread_id, "user": u, "at": iso(now)} for u in users],
            pk=("thread_id", "user"),
        )

    def questions(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        if states:
            marks = ",".join("?" for _ in states)
            return self.db.execute_returning_dicts(
                f"SELECT * FROM questions WHERE state IN ({marks}) ORDER BY created_at",
                list(states),
            )
        return self.db.execute_returning_dicts("SELECT * FROM questions ORDER BY created_at")

    def count_questions(self, states: Sequence[str]) -> int:
        """How many questions are in ``states`` (counted on the state index)."""
        marks = ",".join("?" for _ in states)
        row = self.db.execute(
            f"SELECT COUNT(*) FROM questions WHERE state IN ({marks})", list(states)
        ).fetchone()
        return int(row[0])

    def questions_in_state_since(
        self, state: str, before: datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Questions in ``state`` created before ``before``, oldest first."""
        return self.db.execute_returning_dicts(
            "SELECT * FROM questions WHERE state = ? AND created_at < ? "
            "ORDER BY created_at LIMIT ?",
            [state, iso(before), limit],
        )

    def oldest_in_state(self, state: str) -> datetime | None:
        row = self.db.execute(
            "SELECT MIN(created_at) FROM questions WHERE state = ?", [state]
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def questions_awaiting_no_reply_step(self, open_states: Sequence[str]) -> list[dict[str, Any]]:
        """Questions in ``open_states`` that no person has replied to since they started waiting
        (a reply before a reopening does not count) or claimed, with a no-reply step still to
        take: a re-ping not yet sent, or the coordinator not yet told. Whether the step is due
        yet is for the caller to decide from ``reping_due``/``coordinator_due``."""
        marks = ",".join("?" for _ in open_states)
        return self.db.execute_returning_dicts(
            # the + keeps SQLite on the state index: the rows without a first human reply are
            # all the bot's answers ever
            f"SELECT * FROM questions WHERE state IN ({marks}) AND (+first_human_at IS NULL "
            "OR first_human_at < waiting_since) "
            "AND claimed_by IS NULL AND ((reping_due IS NOT NULL AND repinged_at IS NULL) "
            "OR (coordinator_due IS NOT NULL AND coordinator_at IS NULL)) ORDER BY created_at",
            list(open_states),
        )
