"""The schema: every table's creation and change as a numbered migration, applied in order.

Tables: ``questions`` (one row per thread the bot tracks), ``events`` (append-only audit trail),
``seen_posts`` (incoming post ids already handled), ``outbox`` (messages recorded before sending and
marked after), ``job_runs`` (when each scheduled job last ran), ``meta``, ``notices``, ``shifts``,
``swaps``, ``escalations``, the mail archive's (``archive``), the schedule's history
(``shift_changes``), the roster as last seen and its changes (``roster_seen``,
``roster_changes``) and onboarding checklists (``onboarding``,
``onboarding_items``). A migration never changes after release; add a new one instead.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from dastbot.store import archive


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


def _m7_outbox_dead_letters(db: sqlite_utils.Database) -> None:
    outbox = db.table("outbox")
    for column in ("next_attempt_at", "dead_at", "dropped_at", "error"):
        outbox.add_column(column, str)
    outbox.create_index(["post_id"])
    db.execute(
        "CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL AND dead_at IS NULL"
    )


def _m8_lease(db: sqlite_utils.Database) -> None:
    db.table("lease").create(
        {
            "id": int,
            "holder": str,
            "host": str,
            "pid": int,
            "started_at": str,
            "heartbeat_at": str,
        },
        pk="id",
    )


def _m9_waiting_since(db: sqlite_utils.Database) -> None:
    db.table("questions").add_column("waiting_since", str)


def _m11_pings(db: sqlite_utils.Database) -> None:
    db.table("pings").create(
        {"thread_id": str, "user": str, "at": str},
        pk=("thread_id", "user"),
        not_null={"at"},
    )


def _m12_user_ids(db: sqlite_utils.Database) -> None:
    db.table("user_ids").create(
        {"username": str, "user_id": str, "bound_at": str},
        pk="username",
        not_null={"user_id", "bound_at"},
    )


def _m13_team(db: sqlite_utils.Database) -> None:
    """The schedule's history (who held a slot when: shift credit counts the holder at the slot's
    start), the roster as last seen and its changes, and onboarding checklists."""
    db.table("shift_changes").create(
        {
            "id": int,
            "day": str,
            "slot": str,
            "shifter": str,
            "trainee": str,
            "at": str,
            "actor": str,
        },
        pk="id",
        not_null={"day", "slot", "at"},
    )
    db.table("shift_changes").create_index(["day", "slot", "at"])
    db.execute(
        "INSERT INTO shift_changes (day, slot, shifter, trainee, at, actor) "
        "SELECT day, slot, shifter, trainee, COALESCE(updated_at, ''), COALESCE(updated_by, '') "
        "FROM shifts ORDER BY day, slot"
    )
    db.table("roster_seen").create(
        {"user": str, "zone": str, "level": str, "first_seen_at": str}, pk="user"
    )
    db.table("roster_changes").create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "user": str,
            "change": str,
            "zone": str,
            "level": str,
            "detail": str,
        },
        pk="id",
        not_null={"at", "user", "change"},
    )
    db.table("roster_changes").create_index(["user"])
    db.table("onboarding").create(
        {
            "user": str,
            "zone": str,
            "coordinator": str,
            "opened_at": str,
            "reminded_at": str,
            "closed_at": str,
        },
        pk="user",
    )
    db.table("onboarding_items").create(
        {"user": str, "position": int, "item": str, "done_at": str, "done_by": str},
        pk=("user", "position"),
    )


def _m14_history_indexes(db: sqlite_utils.Database) -> None:
    """Indexes that keep the report, the sweep and the per-event lookups on the rows of their
    window or thread, however many years the database holds."""
    questions = db.table("questions")
    questions.create_index(["created_at"])
    questions.create_index(["updated_at"])
    questions.create_index(["first_human_at"])
    db.table("escalations").create_index(["closed_at"])


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _m1_initial,
    _m2_meta,
    _m3_shifts,
    _m4_escalations,
    _m5_outbox_files,
    _m6_channel_type,
    _m7_outbox_dead_letters,
    _m8_lease,
    _m9_waiting_since,
    archive.migrate,
    _m11_pings,
    _m12_user_ids,
    _m13_team,
    _m14_history_indexes,
)
