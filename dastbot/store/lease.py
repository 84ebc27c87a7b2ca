"""The ``lease`` table: which process may run the bot on this database (one row at most)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dastbot.store.base import StoreBase, iso, parse_iso


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


class LeaseRows(StoreBase):
    def lease(self) -> LeaseHolder | None:
        row = self.db.execute(
            "SELECT holder, host, pid, started_at, heartbeat_at FROM lease WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        return LeaseHolder(row[0], row[1], int(row[2]), parse_iso(row[3]), parse_iso(row[4]))

    def take_lease(
        self,
        holder: str,
        host: str,
        pid: int,
        now: datetime,
        stale_after: timedelta,
        dead: bool = False,
    ) -> LeaseHolder | None:
        """Take the lease unless another holder renewed it within ``stale_after`` (and is not
        known to be ``dead``); returns that other holder when it is refused."""
        with self.db.atomic():
            current = self.lease()
            if (
                current is not None
                and current.holder != holder
                and not dead
                and now - current.heartbeat_at < stale_after
            ):
                return current
            self.db.execute(
                "INSERT INTO lease (id, holder, host, pid, started_at, heartbeat_at) "
                "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, "
                "host = excluded.host, pid = excluded.pid, started_at = excluded.started_at, "
                "heartbeat_at = excluded.heartbeat_at",
                [holder, host, pid, iso(now), iso(now)],
            )
        return None

    def renew_lease(self, holder: str, now: datetime) -> bool:
        """Renew our lease; False when another process holds it now."""
        cursor = self.db.execute(
            "UPDATE lease SET heartbeat_at = ? WHERE id = 1 AND holder = ?", [iso(now), holder]
        )
        return cursor.rowcount == 1

    def release_lease(self, holder: str) -> None:
        self.db.execute("DELETE FROM lease WHERE id = 1 AND holder = ?", [holder])
