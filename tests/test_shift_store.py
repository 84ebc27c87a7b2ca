"""The store's side of the no-reply rule: which questions still have a re-ping or a coordinator
notice to come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dastbot.questions.lifecycle import OPEN_STATES
from dastbot.store import Store, iso

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATER = iso(NOW + timedelta(hours=1))


def ask(store: Store, thread: str, state: str, minutes: int, **fields: object) -> None:
    store.add_question(
        thread_id=thread,
        channel_id="c",
        author_id="u",
        author_name="alice",
        text="q",
        now=NOW + timedelta(minutes=minutes),
        entry_id=None,
        score=None,
        state=state,
    )
    if fields:
        store.update_question(thread, NOW, **fields)


def test_only_unanswered_unclaimed_open_questions_with_a_step_left_are_pending(
    store: Store,
) -> None:
    ask(store, "reping-left", "waiting", 0, reping_due=LATER)
    ask(
        store,
        "coordinator-left",
        "answered",
        1,
        reping_due=LATER,
        repinged_at=LATER,
        coordinator_due=LATER,
    )
    ask(
        store,
        "both-done",
        "waiting",
        2,
        reping_due=LATER,
        repinged_at=LATER,
        coordinator_due=LATER,
        coordinator_at=LATER,
    )
    ask(store, "no-deadlines", "waiting", 3)
    ask(store, "a-person-replied", "waiting", 4, reping_due=LATER, first_human_at=LATER)
    ask(store, "taken", "claimed", 5, reping_due=LATER, claimed_by="sam")
    ask(store, "resolved", "resolved", 6, reping_due=LATER)
    ask(store, "escalated", "escalated", 7, coordinator_due=LATER)

    pending = store.questions_awaiting_no_reply_step(OPEN_STATES)

    assert [row["thread_id"] for row in pending] == ["reping-left", "coordinator-left", "escalated"]
