"""The escalation life cycle: its events, the one transition table, and the one function through
which every escalation record changes.

This module owns ``Event``, ``EVENTS``, ``KIND_OF``, ``next_state`` and ``TransitionError``
(the states are the kernel's), the pure update of a record (``record_event``, and
``record_sent`` for a posted ``Action``), ``transition`` (validate against the stored record,
save it through the store, record the audit event) and ``open_escalation`` (save the new record;
the question's own move to ``escalated`` goes through ``dastbot.questions.lifecycle``). No other
module in the bot writes an escalation record.

The life cycle (small on purpose)::

    open --reply--> replied --close--> closed
    open --close--> closed           (solved without the target, e.g. by DAST)
    open | replied --cancel--> cancelled
    replied --reply--> replied       (further replies are recorded, nothing changes)
    open --remind--> open            (a reminder was posted; counts it)
    open --deadline--> open          (DAST was told the deadline passed; once)

``closed`` and ``cancelled`` are final. There is no "reopen": if the reply did not help, DAST
opens a new escalation, which gets a fresh schedule (the old one stays as history).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, get_args

from dastbot.escalations.reminders import Action, Reminder
from dastbot.kernel.events import EventKind
from dastbot.kernel.models import ESCALATION_STATES, Escalation, EscalationState, as_utc
from dastbot.questions import lifecycle as q
from dastbot.store import Store

__all__ = [
    "EVENTS",
    "KIND_OF",
    "Event",
    "TransitionError",
    "next_state",
    "open_escalation",
    "record_event",
    "record_sent",
    "transition",
]

Event = Literal["reply", "close", "cancel", "remind", "deadline"]
EVENTS: tuple[Event, ...] = get_args(Event)
PEOPLE_EVENTS: tuple[Event, ...] = ("reply", "close", "cancel")
"""What the target or DAST does (a detected reply, or by hand); the rest are the bot's posts."""

KIND_OF: dict[Event, EventKind] = {
    "reply": EventKind.ESCALATION_REPLIED,
    "close": EventKind.ESCALATION_CLOSED,
    "cancel": EventKind.ESCALATION_CANCELLED,
    "remind": EventKind.ESCALATION_REMINDED,
    "deadline": EventKind.ESCALATION_DEADLINE,
}
"""The audit-trail kind each event is recorded as."""

_FINAL: tuple[EscalationState, ...] = ("closed", "cancelled")
_TRANSITIONS: dict[tuple[EscalationState, Event], EscalationState] = {
    ("open", "reply"): "replied",
    ("open", "close"): "closed",
    ("open", "cancel"): "cancelled",
    ("open", "remind"): "open",
    ("open", "deadline"): "open",
    ("replied", "reply"): "replied",
    ("replied", "close"): "closed",
    ("replied", "cancel"): "cancelled",
}


class TransitionError(ValueError):
    """An event that the escalation's state does not allow."""

    def __init__(self, state: str, event: str) -> None:
        allowed = [e for (s, e) in _TRANSITIONS if s == state]
        hint = f"allowed: {', '.join(allowed)}" if allowed else f"'{state}' is final"
        if state not in ESCALATION_STATES:
            message = f"unknown escalation state {state!r} (one of {', '.join(ESCALATION_STATES)})"
        elif event not in EVENTS:
            message = f"unknown escalation event {event!r} (one of {', '.join(EVENTS)})"
        else:
            message = f"cannot {event} an escalation that is {state} ({hint})"
        super().__init__(message)
        self.state = state
        self.event = event


def next_state(state: str, event: str) -> EscalationState:
    """The state after ``event``; ``TransitionError`` when the event is not allowed."""
    for (before, on), after in _TRANSITIONS.items():
        if before == state and on == event:
            return after
    raise TransitionError(state, event)


def record_event(
    esc: Escalation, event: str, at: datetime, number: int | None = None
) -> Escalation:
    """``esc`` after ``event`` at ``at`` (pure). The first reply sets ``replied_at``; reminder
    ``number`` counts every reminder up to it (missed ones included) and sets
    ``last_reminder_at``; the deadline sets ``deadline_notified``."""
    state = next_state(esc.state, event)
    at = as_utc(at, "at")
    if event == "remind":
        if number is None or number < 1:
            raise ValueError(f"a reminder needs its number (1 or more), not {number!r}")
        return replace(
            esc, state=state, reminders_sent=max(esc.reminders_sent, number), last_reminder_at=at
        )
    if event == "deadline":
        return replace(esc, state=state, deadline_notified=True)
    replied_at = esc.replied_at
    if event == "reply" and replied_at is None:
        replied_at = at
    return replace(esc, state=state, replied_at=replied_at)


def record_sent(esc: Escalation, action: Action, at: datetime) -> Escalation:
    """``esc`` after ``action`` was posted at ``at`` (a reminder also covers skipped ones)."""
    if action.escalation_id != esc.id:
        raise ValueError(f"action for {action.escalation_id!r} applied to escalation {esc.id!r}")
    if isinstance(action, Reminder):
        return record_event(esc, "remind", at, action.number)
    return record_event(esc, "deadline", at)


def transition(
    store: Store,
    esc_id: str,
    event: Event,
    now: datetime,
    actor: str,
    *,
    number: int | None = None,
) -> Escalation:
    """Move escalation ``esc_id`` by ``event``: validate it against the stored record, save the
    record (with ``closed_at`` when it ends), and record the audit event. Raises
    ``TransitionError`` (and changes nothing) when the move does not apply, ``LookupError`` when
    there is no such escalation. Call it inside the caller's ``store.atomic()`` when other
    writes (the post it goes with) must commit with it."""
    esc = store.escalation(esc_id)
    if esc is None:
        raise LookupError(f"there is no escalation {esc_id}")
    updated = record_event(esc, event, now, number)
    store.save_escalation(updated)
    if updated.state in _FINAL:
        store.set_escalation_closed(esc.id, now)
    data: dict[str, Any] = {"escalation": esc.id}
    if event in PEOPLE_EVENTS:
        data["event"] = event
    elif event == "remind":
        data["number"] = number
    store.record(KIND_OF[event], now, esc.thread_id, actor, **data)
    return updated


def open_escalation(
    store: Store, esc: Escalation, channel: str, question_state: str, now: datetime
) -> None:
    """Save the new escalation ``esc`` (posted to ``channel``) and record its opening: an open
    question moves to ``escalated`` (its own lifecycle records the event); a resolved one only
    gets the event."""
    if esc.state != "open" or esc.reminders_sent or esc.deadline_notified:
        raise ValueError(f"a new escalation starts open, with nothing sent: {esc!r}")
    store.save_escalation(esc, channel=channel)
    facts: dict[str, Any] = {
        "escalation": esc.id,
        "target": esc.target_id,
        "reason": esc.reason,
        "ticket": esc.ticket,
    }
    if q.is_open(question_state):
        q.transition(store, esc.thread_id, "escalate", now, esc.opened_by, **facts)
    else:
        store.record(EventKind.ESCALATION_OPENED, now, esc.thread_id, esc.opened_by, **facts)
