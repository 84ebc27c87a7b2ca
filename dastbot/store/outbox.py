"""The ``outbox``: messages recorded before sending, marked sent after."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dastbot.kernel.models import Button, OutMessage
from dastbot.store.base import StoreBase, iso, parse_iso


@dataclass(frozen=True)
class Pending:
    """An outbox row not yet confirmed sent."""

    id: int
    message: OutMessage
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None


def _buttons_json(buttons: tuple[Button, ...]) -> str:
    return json.dumps(
        [
            {"id": b.id, "name": b.name, "context": dict(b.context), "style": b.style}
            for b in buttons
        ]
    )


def _buttons_from(text: str | None) -> tuple[Button, ...]:
    if not text:
        return ()
    return tuple(
        Button(id=b["id"], name=b["name"], context=b.get("context", {}), style=b.get("style", ""))
        for b in json.loads(text)
    )


def _files_json(files: tuple[tuple[str, bytes], ...]) -> str | None:
    if not files:
        return None
    return json.dumps([{"name": n, "data": base64.b64encode(d).decode()} for n, d in files])


def _files_from(text: str | None) -> tuple[tuple[str, bytes], ...]:
    if not text:
        return ()
    return tuple((f["name"], base64.b64decode(f["data"])) for f in json.loads(text))


HELD = "9999-12-31T00:00:00.000+00:00"
"""``next_attempt_at`` of a message its caller is posting itself (never due for the sender)."""


@dataclass(frozen=True)
class DeadLetter:
    """A message the bot gave up sending, with the last reason."""

    pending: Pending
    error: str
    dead_at: datetime


def _pending(row: dict[str, Any]) -> Pending:
    return Pending(
        id=row["id"],
        message=OutMessage(
            channel_id=row["channel_id"],
            message=row["message"],
            root_id=row["root_id"] or "",
            key=row["key"],
            buttons=_buttons_from(row["buttons"]),
            files=_files_from(row["files"]),
        ),
        attempts=row["attempts"] or 0,
        created_at=parse_iso(row["created_at"]),
        next_attempt_at=parse_iso(row["next_attempt_at"]) if row.get("next_attempt_at") else None,
    )


class OutboxRows(StoreBase):
    def enqueue(self, msg: OutMessage, now: datetime) -> int:
        """Record the intent to send; the same key is recorded once (its id is returned)."""
        if not msg.key:
            raise ValueError("an outbox message needs a key")
        self.db.execute(
            "INSERT OR IGNORE INTO outbox (key, channel_id, root_id, message, buttons, files, "
            "created_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            [
                msg.key,
                msg.channel_id,
                msg.root_id,
                msg.message,
                _buttons_json(msg.buttons),
                _files_json(msg.files),
                iso(now),
            ],
        )
        row = self.db.execute("SELECT id FROM outbox WHERE key = ?", [msg.key]).fetchone()
        return int(row[0])

    def pending(self, due_at: datetime | None = None) -> list[Pending]:
        """Messages neither sent nor dead-lettered, oldest first; with ``due_at``, only those
        whose next attempt is due by then."""
        where = "sent_at IS NULL AND dead_at IS NULL"
        args: list[str] = []
        if due_at is not None:
            where += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            args.append(iso(due_at))
        rows = self.db.execute_returning_dicts(
            f"SELECT * FROM outbox INDEXED BY outbox_unsent WHERE {where} ORDER BY id", args
        )
        return [_pending(row) for row in rows]

    def note_attempt(self, outbox_id: int) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id])

    def note_failure(self, outbox_id: int, error: str, next_attempt_at: datetime) -> None:
        """A failed attempt: why, and when to try again."""
        self.db.execute(
            "UPDATE outbox SET error = ?, next_attempt_at = ? WHERE id = ?",
            [error, iso(next_attempt_at), outbox_id],
        )

    def dead_letter(self, outbox_id: int, error: str, now: datetime) -> None:
        """Give up on a message: it is kept, listed and can be retried by hand."""
        self.db.execute(
            "UPDATE outbox SET dead_at = ?, error = ? WHERE id = ?", [iso(now), error, outbox_id]
        )

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        """Dead-lettered messages not dropped, newest first."""
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM outbox WHERE dead_at IS NOT NULL AND dropped_at IS NULL "
            "AND sent_at IS NULL ORDER BY dead_at DESC, id DESC LIMIT ?",
            [limit],
        )
        return [
            DeadLetter(_pending(r), str(r["error"] or ""), parse_iso(r["dead_at"])) for r in rows
        ]

    def count_dead_letters(self) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND dropped_at IS NULL "
            "AND sent_at IS NULL"
        ).fetchone()
        return int(row[0])

    def retry_dead_letter(self, outbox_id: int) -> bool:
        """Put a dead-lettered message back in the queue with fresh attempts."""
        cursor = self.db.execute(
            "UPDATE outbox SET dead_at = NULL, next_attempt_at = NULL, attempts = 0 "
            "WHERE id = ? AND dead_at IS NOT NULL AND dropped_at IS NULL AND sent_at IS NULL",
            [outbox_id],
        )
        return cursor.rowcount == 1

    def drop_dead_letter(self, outbox_id: int, now: datetime) -> bool:
        """Stop listing a dead-lettered message (it stays in the table for the record)."""
        cursor = self.db.execute(
            "UPDATE outbox SET dropped_at = ? "
            "WHERE id = ? AND dead_at IS NOT NULL AND dropped_at IS NULL AND sent_at IS NULL",
            [iso(now), outbox_id],
        )
        return cursor.rowcount == 1

    def hold(self, key: str) -> None:
        """Keep a recorded message from the sender: its caller posts it itself."""
        self.db.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE key = ? AND sent_at IS NULL",
            [HELD, key],
        )

    def release(self, key: str) -> None:
        """Hand a held message to the sender after all."""
        self.db.execute(
            "UPDATE outbox SET next_attempt_at = NULL WHERE key = ? AND next_attempt_at = ?",
            [key, HELD],
        )

    def forget(self, key: str) -> None:
        """Remove a held message that was never posted."""
        self.db.execute(
            "DELETE FROM outbox WHERE key = ? AND sent_at IS NULL AND next_attempt_at = ?",
            [key, HELD],
        )

    def held(self, prefix: str) -> list[Pending]:
        """Held messages whose key starts with ``prefix`` (a crash interrupted their posting)."""
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM outbox INDEXED BY outbox_unsent WHERE sent_at IS NULL "
            "AND dead_at IS NULL AND next_attempt_at = ? AND key LIKE ? ORDER BY id",
            [HELD, prefix.replace("%", "") + "%"],
        )
        return [_pending(r) for r in rows]

    def oldest_unsent(self) -> datetime | None:
        """When the oldest message still waiting to be sent was recorded (held ones aside)."""
        row = self.db.execute(
            "SELECT MIN(created_at) FROM outbox INDEXED BY outbox_unsent "
            "WHERE sent_at IS NULL AND dead_at IS NULL AND "
            "(next_attempt_at IS NULL OR next_attempt_at < ?)",
            [HELD],
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def mark_sent(self, outbox_id: int, post_id: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE outbox SET sent_at = ?, post_id = ? WHERE id = ?",
            [iso(now), post_id, outbox_id],
        )

    def sent(self, key: str) -> dict[str, Any] | None:
        rows = self.db.execute_returning_dicts("SELECT * FROM outbox WHERE key = ?", [key])
        return rows[0] if rows else None

    def key_of_post(self, post_id: str) -> str | None:
        """The outbox key of the bot's post ``post_id`` (what the bot meant by it)."""
        row = self.db.execute("SELECT key FROM outbox WHERE post_id = ?", [post_id]).fetchone()
        return None if row is None else str(row[0])

    def outbox_keys(self) -> Iterator[str]:
        for row in self.db.execute("SELECT key FROM outbox ORDER BY id"):
            yield row[0]
