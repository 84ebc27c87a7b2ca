"""What every table and column of the bot's database means, and the Datasette metadata built
from it, so coordinators can browse the database read-only (``datasette dastbot.db -m ...``)."""

from __future__ import annotations

from typing import Any

from dastbot.store.archive import TABLE_DOCS as ARCHIVE_TABLE_DOCS

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "questions": (
        "One row per question thread the bot tracks.",
        {
            "thread_id": "Mattermost post id of the question (the thread root)",
            "channel_id": "channel the question was asked in",
            "channel_type": "O/P for a channel, D for a direct message to the bot",
            "author_id": "Mattermost user id of the asker",
            "author_name": "username of the asker",
            "text": "the question as posted",
            "entry_id": "knowledge-base entry the bot answered with (empty: it abstained)",
            "score": "match confidence of the best entry, 0..1",
            "state": "answered, waiting, claimed, escalated or resolved",
            "created_at": "when it was asked (UTC ISO-8601)",
            "updated_at": "last change (UTC)",
            "answered_at": "when the bot answered from the knowledge base (UTC)",
            "first_human_at": "first reply by a person other than the asker (UTC)",
            "resolved_at": "when it was resolved (UTC)",
            "claimed_by": "shifter who took it",
            "feedback": "helped or not_helped, from the asker",
            "pinged_at": "when the on-duty shifter was pinged (UTC)",
            "reping_due": "when the no-reply rule pings again, as first computed (UTC)",
            "repinged_at": "when it was pinged again (UTC)",
            "coordinator_due": "when the no-reply rule tells the coordinator (UTC)",
            "coordinator_at": "when the coordinator was told (UTC)",
            "waiting_for": "start of the staffed shift the question waits for (UTC)",
            "waiting_since": "when it started to need a person; the no-reply deadlines are "
            "counted from here in the schedule as it is when they fall due (UTC)",
        },
    ),
    "events": (
        "Append-only audit trail: every decision and transition, with who and when.",
        {
            "id": "sequence number",
            "at": "when (UTC)",
            "kind": "what happened (answered, abstained, take, escalation_opened, …)",
            "thread_id": "the question thread it concerns",
            "actor": "who did it (a username, or the bot)",
            "data": "details as JSON",
        },
    ),
    "escalations": (
        "Escalations to clouds, site support and expert groups.",
        {
            "id": "escalation id (E1, E2, …)",
            "thread_id": "the user's question thread",
            "target_id": "contact target (cloud-de, panda-experts, …)",
            "state": "open, replied, closed or cancelled",
            "opened_at": "when it was opened (UTC)",
            "opened_by": "shifter who escalated",
            "reason": "why, as given",
            "ticket": "external ticket (GGUS-…)",
            "reminders_sent": "reminders posted so far",
            "last_reminder_at": "last reminder (UTC)",
            "deadline_notified": "1 once the coordinator was told about the deadline",
            "replied_at": "first reply of the target (UTC)",
            "closed_at": "when closed or cancelled (UTC)",
            "channel": "where the escalation was posted (channel name or @user)",
        },
    ),
    "shifts": (
        "The shift schedule: who holds each slot of each day.",
        {
            "day": "local date (Europe/Zurich)",
            "slot": "slot name (EU, NA)",
            "shifter": "1st-level shifter (100% credit)",
            "trainee": "trainee (50% credit)",
            "updated_at": "last change (UTC)",
            "updated_by": "who changed it",
        },
    ),
    "shift_changes": (
        "The schedule's history: every change of a slot's people, so that shift credit counts "
        "whoever held a slot at its start.",
        {
            "id": "sequence number",
            "day": "local date of the slot",
            "slot": "slot name",
            "shifter": "1st-level shifter after the change (empty: none)",
            "trainee": "trainee after the change (empty: none)",
            "at": "when it changed (UTC; empty for rows from before the history was kept)",
            "actor": "who changed it (a username, import, or the bot)",
        },
    ),
    "roster_seen": (
        "The roster the database last saw, to tell who joined since the last start.",
        {
            "user": "Mattermost username",
            "zone": "zone (EU, NA)",
            "level": "shifter or trainee",
            "first_seen_at": "when the bot first saw them on the roster (UTC)",
        },
    ),
    "roster_changes": (
        "Every change of the roster, with who, when and what.",
        {
            "id": "sequence number",
            "at": "when (UTC)",
            "actor": "who made the change (a coordinator, or the bot for bot.yaml changes)",
            "user": "the person changed",
            "change": "joined or left (bot.yaml), added or promoted (commands)",
            "zone": "their zone",
            "level": "their level after the change",
            "detail": "JSON: more about the change (e.g. the level before)",
        },
    ),
    "onboarding": (
        "One onboarding checklist per person who joined the roster.",
        {
            "user": "the new roster member",
            "zone": "their zone",
            "coordinator": "the zone's coordinator the checklist went to (empty: the channel)",
            "opened_at": "when the checklist was sent (UTC)",
            "reminded_at": "when it was last sent or reminded (UTC)",
            "closed_at": "when its last item was ticked (UTC)",
        },
    ),
    "onboarding_items": (
        "The items of each onboarding checklist.",
        {
            "user": "the new roster member",
            "position": "item number, from 1",
            "item": "what to do (people.onboarding in bot.yaml)",
            "done_at": "when it was ticked (UTC)",
            "done_by": "who ticked it",
        },
    ),
    "swaps": (
        "Shift swap requests and their approval.",
        {
            "id": "request number",
            "day": "local date of the shift",
            "slot": "slot name",
            "from_user": "current holder",
            "to_user": "proposed holder",
            "state": "pending, approved or stale",
            "requested_at": "when (UTC)",
            "decided_by": "coordinator who decided",
            "decided_at": "when (UTC)",
        },
    ),
    "outbox": (
        "Every message the bot decided to send, recorded before sending, marked after.",
        {
            "id": "sequence number",
            "key": "idempotency key (answer:<thread>, reminder:E3:2, …)",
            "channel_id": "channel id, channel name or @user",
            "root_id": "thread root, when it is a reply",
            "message": "the text",
            "buttons": "buttons as JSON",
            "files": "attachments (base64) as JSON",
            "created_at": "when decided (UTC)",
            "sent_at": "when sent (UTC); empty while pending",
            "post_id": "Mattermost id of the sent post",
            "attempts": "send attempts",
            "next_attempt_at": "when the next attempt is due after a failure (UTC)",
            "dead_at": "when the bot gave up sending it (UTC); listed by /dast outbox",
            "dropped_at": "when a coordinator dropped it from the dead letters (UTC)",
            "error": "why the last attempt failed",
        },
    ),
    "lease": (
        "The one process allowed to run the bot on this database, renewed every few seconds.",
        {
            "id": "always 1",
            "holder": "random id of the holding process",
            "host": "host name of the holder",
            "pid": "process id of the holder",
            "started_at": "when it took the lease (UTC)",
            "heartbeat_at": "when it last renewed it (UTC)",
        },
    ),
    "seen_posts": (
        "Incoming posts (and feedback events) already handled: nothing is handled twice.",
        {"post_id": "post id or feedback key", "at": "when handled (UTC)"},
    ),
    "pings": (
        "The last time each person was mentioned in a question's thread to take it, so that one "
        "is paged at most once per shifts.ping_quiet_minutes.",
        {
            "thread_id": "the question's thread",
            "user": "username of the person mentioned",
            "at": "when (UTC)",
        },
    ),
    "user_ids": (
        "The Mattermost user id each roster username had when first resolved: roles go to that id, "
        "never to whoever holds the username later.",
        {
            "username": "username from the roster",
            "user_id": "Mattermost user id it was bound to",
            "bound_at": "when it was bound (UTC)",
        },
    ),
    "notices": (
        "Things told once, such as a coverage gap.",
        {"key": "what was told", "at": "when (UTC)"},
    ),
    "job_runs": (
        "Scheduled jobs and the last due time each handled.",
        {"job_id": "job", "last_due": "last due time handled (UTC)", "ran_at": "when (UTC)"},
    ),
    "meta": ("Small named values (the chat catch-up cursor).", {"key": "name", "value": "value"}),
    "_migrations": (
        "Schema migrations applied.",
        {"version": "migration number", "applied_at": "when (UTC)"},
    ),
}
TABLES.update(ARCHIVE_TABLE_DOCS)


def datasette_metadata(database: str = "dastbot") -> dict[str, Any]:
    """Datasette metadata (``--metadata``) describing every table and column."""
    return {
        "title": "dastbot database",
        "description": "Questions, escalations, shifts and the audit trail of the DAST bot. "
        "Times are UTC. Read-only browsing: Datasette runs only SELECT queries.",
        "databases": {
            database: {
                "tables": {
                    name: {"description": description, "columns": columns}
                    for name, (description, columns) in TABLES.items()
                }
            }
        },
    }
