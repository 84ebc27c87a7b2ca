"""The ``escalations`` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dastbot.kernel.models import Escalation
from dastbot.store.base import iso, parse_iso
from dastbot.store.outbox import OutboxRows


class EscalationRows(OutboxRows):
    def next_escalation_id(self) -> str:
        """A new escalation id, never given out before: it is reserved (committed with the
        caller's transaction) before the escalation is posted, so a crash between posting and
        recording cannot hand the same id to the next escalation."""
        with self.db.atomic():
            last = self.get_meta("escalations.last_id")
            if last is None:
                row = self.db.execute("SELECT COUNT(*) FROM escalations").fetchone()
                last = str(int(row[0]))
            number = int(last) + 1
            self.set_meta("escalations.last_id", str(number))
        return f"E{number}"

    def save_escalation(self, esc: Escalation, channel: str | None = None) -> None:
        row: dict[str, Any] = {
            "id": esc.id,
            "thread_id": esc.thread_id,
            "target_id": esc.target_id,
            "state": esc.state,
            "opened_at": iso(esc.opened_at),
            "opened_by": esc.opened_by,
            "reason": esc.reason,
            "ticket": esc.ticket,
            "reminders_sent": esc.reminders_sent,
            "last_reminder_at": iso(esc.last_reminder_at) if esc.last_reminder_at else None,
            "deadline_notified": int(esc.deadline_notified),
            "replied_at": iso(esc.replied_at) if esc.replied_at else None,
        }
        if channel is not None:
            row["channel"] = channel
        self.db.table("escalations").upsert(row, pk="id")

    def set_escalation_closed(self, esc_id: str, now: datetime) -> None:
        self.db.execute("UPDATE escalations SET closed_at = ? WHERE id = ?", [iso(now), esc_id])

    def _escalations(self, where: str, args: list[Any]) -> list[Escalation]:
        rows = self.db.execute_returning_dicts(
            f"SELECT * FROM escalations WHERE {where} ORDER BY opened_at, id", args
        )
        return [
            Escalation(
                id=r["id"],
                thread_id=r["thread_id"],
                target_id=r["target_id"],
                state=r["state"],
                opened_at=parse_iso(r["opened_at"]),
                opened_by=r["opened_by"] or "",
                reason=r["reason"] or "",
                ticket=r["ticket"],
                reminders_sent=r["reminders_sent"] or 0,
                last_reminder_at=parse_iso(r["last_reminder_at"])
                if r["last_reminder_at"]
                else None,
                deadline_notified=bool(r["deadline_notified"]),
                replied_at=parse_iso(r["replied_at"]) if r["replied_at"] else None,
            )
            for r in rows
        ]

    def escalation(self, esc_id: str) -> Escalation | None:
        found = self._escalations("id = ?", [esc_id])
        return found[0] if found else None

    def escalations(self, states: tuple[str, ...] = ("open",)) -> list[Escalation]:
        marks = ",".join("?" for _ in states)
        return self._escalations(f"state IN ({marks})", list(states))

    def count_escalations(self, states: tuple[str, ...] = ("open",)) -> int:
        marks = ",".join("?" for _ in states)
        row = self.db.execute(
            f"SELECT COUNT(*) FROM escalations WHERE state IN ({marks})", list(states)
        ).fetchone()
        return int(row[0])

    def escalations_of(self, thread_id: str) -> list[Escalation]:
        return self._escalations("thread_id = ?", [thread_id])

    def escalation_channel(self, esc_id: str) -> str | None:
        row = self.db.execute("SELECT channel FROM escalations WHERE id = ?", [esc_id]).fetchone()
        return None if row is None else row[0]

    def escalation_channels(self, states: tuple[str, ...]) -> dict[str, str]:
        """Channel -> the oldest escalation in ``states`` posted there, one per channel."""
        marks = ",".join("?" for _ in states)
        rows = self.db.execute(
            f"SELECT channel, id FROM escalations WHERE state IN ({marks}) AND channel IS NOT NULL "
            "AND channel != '' ORDER BY opened_at DESC, id DESC",
            list(states),
        ).fetchall()
        return {str(channel): str(esc_id) for channel, esc_id in rows}

    def escalation_by_post(self, post_id: str) -> Escalation | None:
        """The escalation whose post (in the target's channel or a contact's DM) is ``post_id``."""
        key = self.key_of_post(post_id)
        parts = key.split(":") if key else []
        return self.escalation(parts[1]) if parts[:1] == ["escalation"] else None
