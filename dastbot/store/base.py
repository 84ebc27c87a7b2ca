"""The connection, migrations and the small tables every feature uses: seen posts, named
values (``meta``), one-time notices and scheduled job runs. ``iso``/``parse_iso`` are the one
time format."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from dastbot.store.schema import MIGRATIONS


def iso(instant: datetime) -> str:
    """UTC ISO-8601 with milliseconds: sortable as text."""
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def integrity_problems(path: Path, most: int = 10) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong in the database file at ``path`` (read-only; a
    full pass over every page, so for ``dastbot check``, never for the health probe)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
        try:
            rows = conn.execute(f"PRAGMA quick_check({int(most)})").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [str(exc)]
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found


class SchemaTooNew(Exception):
    """The database was written by a newer dastbot: this one would lose data in it."""


class StoreBase:
    """All reads and writes of the bot's state."""

    def __init__(self, db: sqlite_utils.Database, name: str = ":memory:") -> None:
        self.db = db
        self.name = name
        self.migrate()

    @classmethod
    def open(cls, path: str | Path) -> Self:
        if str(path) == ":memory:":
            return cls.memory()
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return cls(db, str(path))

    @classmethod
    def memory(cls) -> Self:
        return cls(sqlite_utils.Database(memory=True))

    def close(self) -> None:
        self.db.close()

    # schema -----------------------------------------------------------------------------------

    def schema_version(self) -> int:
        if "_migrations" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT MAX(version) FROM _migrations").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> None:
        if "_migrations" not in self.db.table_names():
            self.db.table("_migrations").create({"version": int, "applied_at": str}, pk="version")
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise SchemaTooNew(
                f"{self.name}: the database has schema version {current}, written by a newer "
                f"dastbot; this one knows versions up to {len(MIGRATIONS)}. Run the newer "
                "version, or restore a backup made before the upgrade."
            )
        for version, step in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.db.atomic():
                step(self.db)
                self.db.table("_migrations").insert(
                    {"version": version, "applied_at": iso(datetime.now(UTC))}
                )

    def writable(self) -> bool:
        """A real write to the database file (its write-ahead log): False when the disk is
        full, the file read-only or the database broken. Costs well under a millisecond."""
        try:
            with self.db.atomic():
                self.db.execute(
                    "INSERT INTO meta (key, value) VALUES ('health.probe', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [iso(datetime.now(UTC))],
                )
            return True
        except sqlite3.Error:
            return False

    @property
    def atomic(self) -> Callable[[], Any]:
        return self.db.atomic

    def claim_post(self, post_id: str, now: datetime) -> bool:
        """Mark an incoming post as handled; False when it already was (a replay)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO seen_posts (post_id, at) VALUES (?, ?)", [post_id, iso(now)]
        )
        return cursor.rowcount == 1

    def seen(self, post_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM seen_posts WHERE post_id = ?", [post_id]).fetchone()
        return row is not None

    def last_seen_at(self) -> datetime | None:
        row = self.db.execute("SELECT MAX(at) FROM seen_posts").fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def last_due(self, job_id: str) -> datetime | None:
        row = self.db.execute("SELECT last_due FROM job_runs WHERE job_id = ?", [job_id]).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def mark_job_ran(self, job_id: str, due: datetime, now: datetime) -> None:
        self.db.table("job_runs").upsert(
            {"job_id": job_id, "last_due": iso(due), "ran_at": iso(now)}, pk="job_id"
        )
