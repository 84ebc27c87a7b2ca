"""The question lifecycle: its states, the one transition table, and the one function that changes
a question's state.

A thread starts ``answered`` (the bot replied from the knowledge base) or ``waiting`` (it needs a
human). Feedback, claims, escalations and resolutions move it along; ``resolved`` can be reopened.
Every change of state, from any caller, goes through ``transition``: it validates the move, writes
the row and records the event with the new state. The weekly report derives past states with
``replay`` over the same table, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from dastbot.kernel.events import EventKind
from dastbot.store import Store, iso


class QState(StrEnum):
    ANSWERED = "answered"
    WAITING = "waiting"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


ANSWERED, WAITING, CLAIMED, ESCALATED, RESOLVED = QState
STATES = tuple(QState)
OPEN_STATES = (ANSWERED, WAITING, CLAIMED, ESCALATED)

Event = Literal[
    "helped",
    "not_helped",
    "claim",
    "release",
    "escalate",
    "resolve",
    "reopen",
    "redirect",
    "no_feedback",
    "withdraw",
]

KIND_OF: dict[Event, EventKind] = {
    "helped": EventKind.FEEDBACK_HELPED,
    "not_helped": EventKind.FEEDBACK_NOT_HELPED,
    "claim": EventKind.TAKE,
    "release": EventKind.RELEASE,
    "escalate": EventKind.ESCALATION_OPENED,
    "resolve": EventKind.RESOLVE,
    "reopen": EventKind.REOPEN,
    "redirect": EventKind.REDIRECTED,
    "no_feedback": EventKind.CLOSED_NO_FEEDBACK,
    "withdraw": EventKind.ESCALATION_WITHDRAWN,
}
"""The audit-trail kind each transition is recorded as."""
EVENT_OF: dict[str, Event] = {kind.value: event for event, kind in KIND_OF.items()}
STATE_KINDS = tuple(KIND_OF.values())
"""The event kinds that can move a question (what ``replay`` reads)."""

_TRANSITIONS: dict[tuple[QState, Event], QState] = {
    (ANSWERED, "helped"): RESOLVED,
    (ANSWERED, "not_helped"): WAITING,
    (ANSWERED, "claim"): CLAIMED,
    (ANSWERED, "escalate"): ESCALATED,
    (ANSWERED, "resolve"): RESOLVED,
    (ANSWERED, "no_feedback"): RESOLVED,
    (WAITING, "helped"): RESOLVED,
    (WAITING, "claim"): CLAIMED,
    (WAITING, "escalate"): ESCALATED,
    (WAITING, "resolve"): RESOLVED,
    (WAITING, "redirect"): RESOLVED,
    (CLAIMED, "helped"): RESOLVED,
    (CLAIMED, "release"): WAITING,
    (CLAIMED, "escalate"): ESCALATED,
    (CLAIMED, "resolve"): RESOLVED,
    (ESCALATED, "helped"): RESOLVED,
    (ESCALATED, "claim"): ESCALATED,
    (ESCALATED, "escalate"): ESCALATED,
    (ESCALATED, "resolve"): RESOLVED,
    (ESCALATED, "withdraw"): CLAIMED,
    (RESOLVED, "reopen"): WAITING,
    (RESOLVED, "not_helped"): WAITING,
}

_VERBS: dict[Event, str] = {
    "helped": "marked as helped",
    "not_helped": "marked as not helped",
    "claim": "taken",
    "release": "released",
    "escalate": "escalated",
    "resolve": "resolved",
    "reopen": "reopened",
    "redirect": "sent to the help channel",
    "no_feedback": "closed for lack of feedback",
    "withdraw": "taken back from its escalation",
}


class InvalidTransition(ValueError):
    pass


def next_state(state: str, event: Event) -> QState:
    """The state after ``event``; InvalidTransition explains when the event does not apply."""
    try:
        return _TRANSITIONS[(QState(state), event)]
    except (KeyError, ValueError):
        raise InvalidTransition(f"a question that is {state} cannot be {_VERBS[event]}") from None


def is_open(state: str) -> bool:
    return state in OPEN_STATES


def initial_state(entry_id: str | None) -> QState:
    """A new question is ``answered`` when the bot answered it, else ``waiting``."""
    return ANSWERED if entry_id else WAITING


def transition(
    store: Store,
    thread_id: str,
    event: Event,
    now: datetime,
    actor: str,
    **data: Any,
) -> QState:
    """Move the question in ``thread_id`` by ``event``: validate, write the row (with the fields
    the move implies), record the audit event with the new state. Raises InvalidTransition (and
    changes nothing) when the question is unknown or the move does not apply. Call it inside the
    caller's ``store.atomic()`` when other writes must commit with it."""
    question = store.question(thread_id)
    if question is None:
        raise InvalidTransition("I do not track that thread")
    new = next_state(str(question["state"]), event)
    fields: dict[str, Any] = {"state": new}
    if event in ("claim", "withdraw"):
        fields["claimed_by"] = actor
        if not question["first_human_at"]:
            fields["first_human_at"] = iso(now)
    elif event in ("release", "reopen") or new == WAITING:
        fields["claimed_by"] = None  # a waiting question is nobody's (not its old claimer's)
    if event in ("helped", "not_helped"):
        fields["feedback"] = event
    if new == RESOLVED and question["state"] != RESOLVED:
        fields["resolved_at"] = iso(now)
    elif new != RESOLVED:
        fields["resolved_at"] = None
    store.update_question(thread_id, now, **fields)
    store.record(KIND_OF[event], now, thread_id, actor, state=new.value, **data)
    return new


def replay(entry_id: str | None, events: Iterable[Mapping[str, Any]]) -> QState:
    """The state a question reached through ``events`` (its audit trail, oldest first), by the
    same transition table ``transition`` uses. A move the table refuses leaves the state as it
    was, as it did when it was refused live."""
    state = initial_state(entry_id)
    for row in events:
        event = EVENT_OF.get(str(row["kind"]))
        if event is None:
            continue
        state = _TRANSITIONS.get((state, event), state)
    return state
