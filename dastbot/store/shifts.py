"""The shift schedule (``shifts``), its history (``shift_changes``: every change of a slot's
people, kept so that a slot counts for whoever held it at its start), swap requests (``swaps``)
and the Mattermost user ids the roster's usernames are bound to (``user_ids``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dastbot.kernel.models import Assignment
from dastbot.store.base import StoreBase, iso


class ShiftRows(StoreBase):
    def assignments(self, first: date, last: date) -> dict[tuple[date, str], Assignment]:
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM shifts WHERE day >= ? AND day <= ? ORDER BY day, slot",
            [first.isoformat(), last.isoformat()],
        )
        return {
            (date.fromisoformat(r["day"]), r["slot"]): Assignment(
                date.fromisoformat(r["day"]), r["slot"], r["shifter"] or None, r["trainee"] or None
            )
            for r in rows
        }

    def assignment(self, day: date, slot: str) -> Assignment | None:
        return self.assignments(day, day).get((day, slot))

    def set_assignment(self, assignment: Assignment, actor: str, now: datetime) -> None:
        """Store a slot's people; a slot with neither shifter nor trainee is removed. A change of
        its people is appended to the slot's history."""
        key = [assignment.day.isoformat(), assignment.slot]
        before = self.assignment(assignment.day, assignment.slot)
        if (before.shifter if before else None, before.trainee if before else None) != (
            assignment.shifter,
            assignment.trainee,
        ):
            self.db.table("shift_changes").insert(
                {
                    "day": key[0],
                    "slot": key[1],
                    "shifter": assignment.shifter,
                    "trainee": assignment.trainee,
                    "at": iso(now),
                    "actor": actor,
                }
            )
        if not assignment.shifter and not assignment.trainee:
            self.db.execute("DELETE FROM shifts WHERE day = ? AND slot = ?", key)
            return
        self.db.table("shifts").upsert(
            {
                "day": key[0],
                "slot": key[1],
                "shifter": assignment.shifter,
                "trainee": assignment.trainee,
                "updated_at": iso(now),
                "updated_by": actor,
            },
            pk=("day", "slot"),
        )

    def shift_changes(self, first: date, last: date) -> list[dict[str, Any]]:
        """Every recorded change of the slots of days ``first`` to ``last``, oldest first:
        ``day``, ``slot``, ``shifter``, ``trainee`` (None when empty), ``at`` (UTC), ``actor``."""
        return self.db.execute_returning_dicts(
            "SELECT day, slot, shifter, trainee, at, actor FROM shift_changes "
            "WHERE day >= ? AND day <= ? ORDER BY at, id",
            [first.isoformat(), last.isoformat()],
        )

    def add_swap(self, day: date, slot: str, from_user: str, to_user: str, now: datetime) -> int:
        table = self.db.table("swaps").insert(
            {
                "day": day.isoformat(),
                "slot": slot,
                "from_user": from_user,
                "to_user": to_user,
                "state": "pending",
                "requested_at": iso(now),
            }
        )
        assert table.last_pk is not None
        return int(table.last_pk)

    def swap(self, swap_id: int) -> dict[str, Any] | None:
        rows = self.db.execute_returning_dicts("SELECT * FROM swaps WHERE id = ?", [swap_id])
        return rows[0] if rows else None

    def pending_swaps(self) -> list[dict[str, Any]]:
        return self.db.execute_returning_dicts(
            "SELECT * FROM swaps WHERE state = 'pending' ORDER BY id"
        )

    def decide_swap(self, swap_id: int, state: str, actor: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE swaps SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
            [state, actor, iso(now), swap_id],
        )

    def user_ids(self) -> dict[str, str]:
        """Roster username -> the Mattermost user id it was bound to."""
        rows = self.db.execute_returning_dicts("SELECT username, user_id FROM user_ids")
        return {r["username"]: r["user_id"] for r in rows}

    def bind_user_id(self, username: str, user_id: str, now: datetime) -> None:
        self.db.table("user_ids").upsert(
            {"username": username, "user_id": user_id, "bound_at": iso(now)}, pk="username"
        )

    def forget_user_id(self, username: str) -> bool:
        """Drop the binding of ``username``; False when it had none."""
        cursor = self.db.execute("DELETE FROM user_ids WHERE username = ?", [username])
        return cursor.rowcount == 1

    def notice_once(self, key: str, now: datetime) -> bool:
        """True the first time ``key`` is noticed, False ever after."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO notices (key, at) VALUES (?, ?)", [key, iso(now)]
        )
        return cursor.rowcount == 1
