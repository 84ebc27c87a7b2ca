"""Persistent state in SQLite through sqlite-utils: schema migrations and intention-named methods.

Tables: ``questions`` (one row per thread the bot tracks), ``events`` (append-only audit trail),
``seen_posts`` (incoming post ids already handled, so nothing is answered twice), ``outbox``
(messages the bot decided to send, recorded before sending and marked after), ``job_runs`` (when
each scheduled job last ran, so a restart fires what was missed once). Times are UTC ISO-8601.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from dastbot.escalations.model import Escalation
from dastbot.kernel.models import Button, OutMessage
from dastbot.shifts.rota import Assignment


def iso(instant: datetime) -> str:
    """UTC ISO-8601 with milliseconds: sortable as text."""
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.table("questions").create(
        {
            "thread_id": str,
            "channel_id": str,
            "author_id": str,
            "author_name": str,
            "text": str,
            "entry_id": str,
            "score": float,
            "state": str,
            "created_at": str,
            "updated_at": str,
            "answered_at": str,
            "first_human_at": str,
            "resolved_at": str,
            "claimed_by": str,
            "feedback": str,
        },
        pk="thread_id",
        not_null={"channel_id", "author_id", "state", "created_at", "updated_at"},
    )
    db.table("questions").create_index(["state", "created_at"])
    db.table("events").create(
        {
            "id": int,
            "at": str,
            "kind": str,
            "thread_id": str,
            "actor": str,
            "data": str,
        },
        pk="id",
        not_null={"at", "kind"},
    )
    db.table("events").create_index(["thread_id"])
    db.table("events").create_index(["kind", "at"])
    db.table("seen_posts").create({"post_id": str, "at": str}, pk="post_id")
    db.table("outbox").create(
        {
            "id": int,
            "key": str,
            "channel_id": str,
            "root_id": str,
            "message": str,
            "buttons": str,
            "created_at": str,
            "sent_at": str,
            "post_id": str,
            "attempts": int,
        },
        pk="id",
        not_null={"key", "channel_id", "message", "created_at"},
    )
    db.table("outbox").create_index(["key"], unique=True)
    db.table("outbox").create_index(["sent_at"])
    db.table("job_runs").create({"job_id": str, "last_due": str, "ran_at": str}, pk="job_id")


def _m2_meta(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")


def _m3_shifts(db: sqlite_utils.Database) -> None:
    db.table("shifts").create(
        {
            "day": str,
            "slot": str,
            "shifter": str,
            "trainee": str,
            "updated_at": str,
            "updated_by": str,
        },
        pk=("day", "slot"),
    )
    db.table("swaps").create(
        {
            "id": int,
            "day": str,
            "slot": str,
            "from_user": str,
            "to_user": str,
            "state": str,
            "requested_at": str,
            "decided_by": str,
            "decided_at": str,
        },
        pk="id",
    )
    db.table("notices").create({"key": str, "at": str}, pk="key")
    questions = db.table("questions")
    for column in ("pinged_at", "reping_due", "repinged_at", "coordinator_due", "coordinator_at"):
        questions.add_column(column, str)
    questions.add_column("waiting_for", str)


def _m4_escalations(db: sqlite_utils.Database) -> None:
    db.table("escalations").create(
        {
            "id": str,
            "thread_id": str,
            "target_id": str,
            "state": str,
            "opened_at": str,
            "opened_by": str,
            "reason": str,
            "ticket": str,
            "reminders_sent": int,
            "last_reminder_at": str,
            "deadline_notified": int,
            "replied_at": str,
            "closed_at": str,
            "channel": str,
        },
        pk="id",
        not_null={"thread_id", "target_id", "state", "opened_at"},
    )
    db.table("escalations").create_index(["state", "opened_at"])
    db.table("escalations").create_index(["thread_id"])


def _m5_outbox_files(db: sqlite_utils.Database) -> None:
    db.table("outbox").add_column("files", str)


def _m6_channel_type(db: sqlite_utils.Database) -> None:
    db.table("questions").add_column("channel_type", str)


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _m1_initial,
    _m2_meta,
    _m3_shifts,
    _m4_escalations,
    _m5_outbox_files,
    _m6_channel_type,
)


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


class Store:
    """All reads and writes of the bot's state."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.migrate()

    @classmethod
    def open(cls, path: str | Path) -> Store:
        if str(path) == ":memory:":
            return cls.memory()
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return cls(db)

    @classmethod
    def memory(cls) -> Store:
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
        for version, step in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.db.atomic():
                step(self.db)
                self.db.table("_migrations").insert(
                    {"version": version, "applied_at": iso(datetime.now(UTC))}
                )

    def writable(self) -> bool:
        try:
            with self.db.atomic():
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS _probe (x)")
                self.db.execute("INSERT INTO _probe VALUES (1)")
                self.db.execute("DELETE FROM _probe")
            self.db.execute("PRAGMA quick_check(1)").fetchone()
            return True
        except sqlite3.Error:
            return False

    @property
    def atomic(self) -> Callable[[], Any]:
        return self.db.atomic

    # incoming posts ---------------------------------------------------------------------------

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

    # audit trail ------------------------------------------------------------------------------

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

    # questions --------------------------------------------------------------------------------

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

    def questions(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        if states:
            marks = ",".join("?" for _ in states)
            return self.db.execute_returning_dicts(
                f"SELECT * FROM questions WHERE state IN ({marks}) ORDER BY created_at",
                list(states),
            )
        return self.db.execute_returning_dicts("SELECT * FROM questions ORDER BY created_at")

    # outbox -----------------------------------------------------------------------------------

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

    # shift schedule ---------------------------------------------------------------------------

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
        """Store a slot's people; a slot with neither shifter nor trainee is removed."""
        key = [assignment.day.isoformat(), assignment.slot]
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

    def notice_once(self, key: str, now: datetime) -> bool:
        """True the first time ``key`` is noticed, False ever after."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO notices (key, at) VALUES (?, ?)", [key, iso(now)]
        )
        return cursor.rowcount == 1

    # escalations ------------------------------------------------------------------------------

    def next_escalation_id(self) -> str:
        row = self.db.execute("SELECT COUNT(*) FROM escalations").fetchone()
        return f"E{int(row[0]) + 1}"

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

    def escalations_of(self, thread_id: str) -> list[Escalation]:
        return self._escalations("thread_id = ?", [thread_id])

    def escalation_channel(self, esc_id: str) -> str | None:
        row = self.db.execute("SELECT channel FROM escalations WHERE id = ?", [esc_id]).fetchone()
        return None if row is None else row[0]

    def escalation_by_post(self, post_id: str) -> Escalation | None:
        """The escalation whose post (in the target's channel or a contact's DM) is ``post_id``."""
        key = self.key_of_post(post_id)
        parts = key.split(":") if key else []
        return self.escalation(parts[1]) if parts[:1] == ["escalation"] else None

    # named values -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    # scheduled jobs ---------------------------------------------------------------------------

    def last_due(self, job_id: str) -> datetime | None:
        row = self.db.execute("SELECT last_due FROM job_runs WHERE job_id = ?", [job_id]).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def mark_job_ran(self, job_id: str, due: datetime, now: datetime) -> None:
        self.db.table("job_runs").upsert(
            {"job_id": job_id, "last_due": iso(due), "ran_at": iso(now)}, pk="job_id"
        )
