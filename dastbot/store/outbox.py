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

    def pending(self) -> list[Pending]:
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY id"
        )
        return [
            Pending(
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
            )
            for row in rows
        ]

    def note_attempt(self, outbox_id: int) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id])

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
