"""The roster as the database knows it and the team's counts: ``roster_seen`` (the bot.yaml
roster at the last start, to tell who is new), ``roster_changes`` (every change with who, when
and what: joined, left, added, promoted), onboarding checklists (``onboarding``,
``onboarding_items``), and the per-person counts of the credit ledger read from the audit trail
and the escalations."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from dastbot.kernel.events import EventKind
from dastbot.store.base import StoreBase, iso


class RosterRows(StoreBase):
    # the roster as last seen -----------------------------------------------------------------

    def roster_seen(self) -> dict[str, dict[str, Any]]:
        rows = self.db.execute_returning_dicts("SELECT * FROM roster_seen ORDER BY user")
        return {r["user"]: r for r in rows}

    def see_member(self, user: str, zone: str, level: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO roster_seen (user, zone, level, first_seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user) DO UPDATE SET zone = excluded.zone, level = excluded.level",
            [user, zone, level, iso(now)],
        )

    def forget_member(self, user: str) -> None:
        self.db.execute("DELETE FROM roster_seen WHERE user = ?", [user])

    # changes ----------------------------------------------------------------------------------

    def add_roster_change(
        self,
        user: str,
        change: str,
        actor: str,
        now: datetime,
        zone: str = "",
        level: str = "",
        **detail: Any,
    ) -> None:
        self.db.table("roster_changes").insert(
            {
                "at": iso(now),
                "actor": actor,
                "user": user,
                "change": change,
                "zone": zone,
                "level": level,
                "detail": json.dumps(detail, sort_keys=True, default=str),
            }
        )

    def roster_changes(self, user: str | None = None) -> list[dict[str, Any]]:
        """Changes oldest first, of ``user`` or everyone; ``detail`` decoded."""
        where, args = ("WHERE user = ?", [user]) if user is not None else ("", [])
        rows = self.db.execute_returning_dicts(
            f"SELECT * FROM roster_changes {where} ORDER BY id", args
        )
        for row in rows:
            row["detail"] = json.loads(row["detail"] or "{}")
        return rows

    # onboarding -------------------------------------------------------------------------------

    def open_checklist(
        self, user: str, zone: str, coordinator: str, items: Sequence[str], now: datetime
    ) -> bool:
        """A checklist for ``user``; False (and nothing changes) when they already had one."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO onboarding (user, zone, coordinator, opened_at, reminded_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [user, zone, coordinator, iso(now), iso(now)],
        )
        if cursor.rowcount != 1:
            return False
        self.db.table("onboarding_items").insert_all(
            {"user": user, "position": i, "item": item} for i, item in enumerate(items, start=1)
        )
        return True

    def checklist(self, user: str) -> dict[str, Any] | None:
        """The checklist of ``user`` with its ``items`` (position, item, done_at, done_by)."""
        rows = self.db.execute_returning_dicts("SELECT * FROM onboarding WHERE user = ?", [user])
        if not rows:
            return None
        row = rows[0]
        row["items"] = self.db.execute_returning_dicts(
            "SELECT position, item, done_at, done_by FROM onboarding_items WHERE user = ? "
            "ORDER BY position",
            [user],
        )
        return row

    def open_checklists(self) -> list[dict[str, Any]]:
        """Checklists with an item not done, oldest first (each with its ``items``)."""
        users = [
            r[0]
            for r in self.db.execute(
                "SELECT user FROM onboarding WHERE closed_at IS NULL ORDER BY opened_at, user"
            ).fetchall()
        ]
        return [c for c in (self.checklist(u) for u in users) if c is not None]

    def tick_item(self, user: str, position: int, actor: str, now: datetime) -> bool:
        """Mark an item done; False when it does not exist or was done already. The checklist
        closes when its last item is done."""
        cursor = self.db.execute(
            "UPDATE onboarding_items SET done_at = ?, done_by = ? "
            "WHERE user = ? AND position = ? AND done_at IS NULL",
            [iso(now), actor, user, position],
        )
        if cursor.rowcount != 1:
            return False
        left = self.db.execute(
            "SELECT COUNT(*) FROM onboarding_items WHERE user = ? AND done_at IS NULL", [user]
        ).fetchone()[0]
        if not left:
            self.db.execute("UPDATE onboarding SET closed_at = ? WHERE user = ?", [iso(now), user])
        return True

    def checklist_reminded(self, user: str, now: datetime) -> None:
        self.db.execute("UPDATE onboarding SET reminded_at = ? WHERE user = ?", [iso(now), user])

    # the credit ledger's counts ---------------------------------------------------------------

    def _actors(self, kind: str, start: datetime, end: datetime) -> Counter[str]:
        rows = self.db.execute(
            "SELECT actor, COUNT(DISTINCT thread_id) FROM events WHERE kind = ? AND at >= ? "
            "AND at < ? GROUP BY actor",
            [kind, iso(start), iso(end)],
        ).fetchall()
        return Counter({str(actor): int(n) for actor, n in rows})

    def questions_taken(self, start: datetime, end: datetime) -> Counter[str]:
        """Per person, the threads they took in ``[start, end)``."""
        return self._actors(EventKind.TAKE, start, end)

    def questions_resolved(self, start: datetime, end: datetime) -> Counter[str]:
        """Per person, the threads they resolved in ``[start, end)``."""
        return self._actors(EventKind.RESOLVE, start, end)

    def escalations_opened_by(self, start: datetime, end: datetime) -> Counter[str]:
        """Per person, the escalations they opened in ``[start, end)``."""
        rows = self.db.execute(
            "SELECT opened_by, COUNT(*) FROM escalations WHERE opened_at >= ? AND opened_at < ? "
            "GROUP BY opened_by",
            [iso(start), iso(end)],
        ).fetchall()
        return Counter({str(user): int(n) for user, n in rows if user})

    def threads_handled(self, users: Iterable[str]) -> Counter[str]:
        """Per person of ``users``, the distinct threads they ever replied in or took."""
        names = list(users)
        if not names:
            return Counter()
        marks = ", ".join("?" for _ in names)
        rows = self.db.execute(
            "SELECT actor, COUNT(DISTINCT thread_id) FROM events WHERE kind IN (?, ?) "
            f"AND actor IN ({marks}) GROUP BY actor",
            [EventKind.HUMAN_REPLY, EventKind.TAKE, *names],
        ).fetchall()
        return Counter({str(actor): int(n) for actor, n in rows})

    def escalations_opened_in_all(self, users: Iterable[str]) -> Counter[str]:
        """Per person of ``users``, every escalation they ever opened."""
        names = list(users)
        if not names:
            return Counter()
        marks = ", ".join("?" for _ in names)
        rows = self.db.execute(
            f"SELECT opened_by, COUNT(*) FROM escalations WHERE opened_by IN ({marks}) "
            "GROUP BY opened_by",
            names,
        ).fetchall()
        return Counter({str(user): int(n) for user, n in rows})
