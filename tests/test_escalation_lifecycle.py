"""The escalation life cycle through the store: every change (a reply, a hand-made close or cancel,
a reminder, the deadline notice) is validated against the stored record, saved, and recorded in
the audit trail, or refused without changing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dastbot.escalations.lifecycle import TransitionError, open_escalation, transition
from dastbot.kernel.events import EventKind
from dastbot.kernel.models import Escalation
from dastbot.store import Store

OPENED = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)


def ask(store: Store, thread: str = "q1", state: str = "waiting") -> None:
    store.add_question(
        thread_id=thread,
        channel_id="dast",
        author_id="u-alice",
        author_name="alice",
        text="jobs fail at FZK-LCG2",
        now=OPENED - timedelta(hours=1),
        entry_id=None,
        score=None,
        state=state,
    )


def opened(store: Store, thread: str = "q1", question_state: str = "waiting") -> Escalation:
    esc = Escalation(
        id=store.next_escalation_id(),
        thread_id=thread,
        target_id="cloud-de",
        state="open",
        opened_at=OPENED,
        opened_by="sam",
        reason="all jobs fail there",
        ticket="GGUS-123456",
    )
    open_escalation(store, esc, "adc-cloud-de", question_state, OPENED)
    return esc


def trail(store: Store, thread: str = "q1") -> list[tuple[str, str, dict[str, object]]]:
    return [
        (e["kind"], e["actor"], e["data"])
        for e in store.events(thread)
        if e["kind"].startswith("escalation")
    ]


def test_opening_escalates_the_question_and_records_who_and_why(store: Store) -> None:
    ask(store)
    esc = opened(store)
    assert store.escalation(esc.id) == esc
    assert store.escalation_channel(esc.id) == "adc-cloud-de"
    assert store.question("q1")["state"] == "escalated"  # type: ignore[index]
    [(kind, actor, data)] = trail(store)
    assert (kind, actor) == (EventKind.ESCALATION_OPENED, "sam")
    assert data["target"] == "cloud-de" and data["ticket"] == "GGUS-123456"
    assert data["state"] == "escalated"


def test_escalating_a_resolved_question_records_the_escalation_only(store: Store) -> None:
    ask(store, state="resolved")
    opened(store, question_state="resolved")
    assert store.question("q1")["state"] == "resolved"  # type: ignore[index]
    assert [kind for kind, _, _ in trail(store)] == [EventKind.ESCALATION_OPENED]


def test_reminders_and_the_deadline_are_counted_saved_and_recorded(store: Store) -> None:
    ask(store)
    esc = opened(store)
    monday = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    after = transition(store, esc.id, "remind", monday, "dastbot", number=2)
    assert (after.state, after.reminders_sent, after.last_reminder_at) == ("open", 2, monday)
    wednesday = monday + timedelta(days=2)
    transition(store, esc.id, "deadline", wednesday, "dastbot")
    stored = store.escalation(esc.id)
    assert stored is not None
    assert (stored.reminders_sent, stored.deadline_notified) == (2, True)
    assert trail(store)[1:] == [
        (EventKind.ESCALATION_REMINDED, "dastbot", {"escalation": "E1", "number": 2}),
        (EventKind.ESCALATION_DEADLINE, "dastbot", {"escalation": "E1"}),
    ]


def test_a_reply_then_a_close_by_hand(store: Store) -> None:
    ask(store)
    esc = opened(store)
    replied_at = OPENED + timedelta(hours=3)
    transition(store, esc.id, "reply", replied_at, "gridka-admin")
    transition(store, esc.id, "reply", replied_at + timedelta(hours=1), "gridka-admin")
    closed = transition(store, esc.id, "close", replied_at + timedelta(hours=2), "sam")
    assert (closed.state, closed.replied_at) == ("closed", replied_at)
    assert store.escalation(esc.id) == closed
    row = store.db["escalations"].get(esc.id)
    assert row["closed_at"] == "2026-03-06T19:00:00.000+00:00"
    assert trail(store)[1:] == [
        (EventKind.ESCALATION_REPLIED, "gridka-admin", {"escalation": "E1", "event": "reply"}),
        (EventKind.ESCALATION_REPLIED, "gridka-admin", {"escalation": "E1", "event": "reply"}),
        (EventKind.ESCALATION_CLOSED, "sam", {"escalation": "E1", "event": "close"}),
    ]


@pytest.mark.parametrize(
    ("before", "event", "message"),
    [
        ("reply", "remind", "cannot remind an escalation that is replied"),
        ("reply", "deadline", "cannot deadline an escalation that is replied"),
        ("cancel", "reply", "'cancelled' is final"),
        ("close", "cancel", "'closed' is final"),
    ],
)
def test_a_refused_move_changes_nothing(
    store: Store, before: str, event: str, message: str
) -> None:
    ask(store)
    esc = opened(store)
    transition(store, esc.id, before, OPENED + timedelta(hours=1), "sam")  # type: ignore[arg-type]
    stored, events = store.escalation(esc.id), store.events("q1")
    with pytest.raises(TransitionError, match=message):
        transition(store, esc.id, event, OPENED + timedelta(hours=2), "sam", number=1)  # type: ignore[arg-type]
    assert store.escalation(esc.id) == stored
    assert store.events("q1") == events


def test_a_reminder_needs_its_number_and_an_escalation_must_exist(store: Store) -> None:
    ask(store)
    esc = opened(store)
    with pytest.raises(ValueError, match="a reminder needs its number"):
        transition(store, esc.id, "remind", OPENED, "dastbot")
    with pytest.raises(LookupError, match="there is no escalation E9"):
        transition(store, "E9", "close", OPENED, "sam")
    assert len(trail(store)) == 1
