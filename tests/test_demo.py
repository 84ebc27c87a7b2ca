"""Synthetic history: deterministic for a seed, about 12 questions per working day from many
askers (most of them once), the posts and messages a live run records, a realistic outcome mix,
NA often unstaffed, escalations (some overdue), nothing after ``end``."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import mean
from typing import Any

import pytest

from dastbot.answering.knowledge import load_knowledge
from dastbot.kernel.config import Config, load_config
from dastbot.kernel.events import EventKind
from dastbot.questions.lifecycle import STATE_KINDS, STATES, replay
from dastbot.report.demo import DemoSummary, fill_demo
from dastbot.report.stats import build_report
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store, iso, parse_iso

END = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)  # Monday 16 March 00:00 in Zurich
WEEKS = 3
SEED = 1  # a seed whose three weeks end with a question in every open state


@pytest.fixture(scope="module")
def default_config() -> Config:
    return load_config(None, {})  # the packaged knowledge base and the default shifts


@pytest.fixture(scope="module")
def filled(default_config: Config) -> tuple[Store, DemoSummary]:
    store = Store.memory()
    return store, fill_demo(store, WEEKS, END, SEED, default_config)


def dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    return {
        table: store.db.execute_returning_dicts(f"SELECT * FROM {table} ORDER BY 1, 2")
        for table in ("questions", "events", "escalations", "shifts")
    }


def test_same_seed_same_rows_other_seed_other_rows(
    default_config: Config, filled: tuple[Store, DemoSummary]
) -> None:
    again = Store.memory()
    fill_demo(again, WEEKS, END, SEED, default_config)
    assert dump(again) == dump(filled[0])
    other = Store.memory()
    fill_demo(other, WEEKS, END, 8, default_config)
    assert dump(other)["questions"] != dump(again)["questions"]


def test_about_twelve_questions_per_working_day(filled: tuple[Store, DemoSummary]) -> None:
    _, summary = filled
    calendar = Calendar()
    assert summary.first_day == date(2026, 2, 23) and summary.last_day == date(2026, 3, 15)
    working = [n for day, n in summary.per_day.items() if calendar.is_working_day(day)]
    off = [n for day, n in summary.per_day.items() if not calendar.is_working_day(day)]
    assert len(working) == 15 and len(off) == 6
    assert 9 <= mean(working) <= 15
    assert max(working) - min(working) >= 4  # daily variation
    assert mean(off) < 4
    assert summary.questions == sum(summary.per_day.values())


def test_outcome_mix(filled: tuple[Store, DemoSummary]) -> None:
    store, _ = filled
    rows = store.questions()
    answered = [r for r in rows if r["entry_id"]]
    assert 0.33 <= len(answered) / len(rows) <= 0.47
    helped = [r for r in answered if r["feedback"] == "helped"]
    not_helped = store.events(kind="feedback_not_helped")
    assert len(helped) > 2 * len(not_helped) > 0
    humans = [r for r in rows if r["first_human_at"]]
    assert 0.5 <= len(humans) / len(rows) <= 0.7
    kinds = {e["kind"] for e in store.events()}
    assert kinds >= {
        "answered",
        "abstained",
        "needs_human",
        "feedback_helped",
        "feedback_not_helped",
        "human_reply",
        "take",
        "resolve",
        "escalation_opened",
        "escalation_replied",
        "escalation_reminded",
        "escalation_deadline",
        "repinged",
    }
    assert EventKind.RESOLVED not in kinds  # the live bot stopped writing it: neither does the demo


def test_each_question_is_in_the_state_its_trail_replays_to(
    filled: tuple[Store, DemoSummary],
) -> None:
    store, _ = filled
    trails: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in store.events():
        trails[event["thread_id"]].append(event)
    rows = store.questions()
    for row in rows:
        trail = trails[row["thread_id"]]
        assert replay(row["entry_id"], trail) == row["state"], row["thread_id"]
        assert (row["resolved_at"] is not None) == (row["state"] == "resolved"), row["thread_id"]
        for event in trail:
            if event["kind"] in STATE_KINDS:
                assert event["data"]["state"] in STATES, event
    assert {r["state"] for r in rows} >= {"answered", "waiting", "escalated", "resolved"}


def test_answers_nobody_rated_are_closed_when_the_bot_would_close_them(
    default_config: Config, filled: tuple[Store, DemoSummary]
) -> None:
    store, _ = filled
    after = timedelta(hours=default_config.questions.close_unrated_after_hours)
    unrated = [r for r in store.questions() if r["entry_id"] and not r["feedback"]]
    still_answered = [r for r in unrated if r["state"] == "answered"]
    assert still_answered and all(parse_iso(r["created_at"]) >= END - after for r in still_answered)
    closed = store.events(kind=EventKind.CLOSED_NO_FEEDBACK)
    assert len(closed) == len(unrated) - len(still_answered) > 5
    for event in closed:
        question = store.question(event["thread_id"])
        assert question is not None and question["state"] == "resolved"
        assert parse_iso(event["at"]) == parse_iso(question["created_at"]) + after


def test_texts_come_from_the_knowledge_base_and_out_of_scope_topics(
    default_config: Config, filled: tuple[Store, DemoSummary]
) -> None:
    from dastbot.kernel.paths import knowledge_path

    store, _ = filled
    kb = load_knowledge(knowledge_path(default_config))
    rows = store.questions()
    for row in rows:
        if row["entry_id"]:
            entry = kb.get(row["entry_id"])
            assert entry is not None
            assert any(p in row["text"] for p in entry.patterns)
    assert any("meeting room" in (r["text"] or "") for r in rows if not r["entry_id"])


def test_schedule_has_na_gaps_and_runs_four_weeks_ahead(
    filled: tuple[Store, DemoSummary],
) -> None:
    store, _ = filled
    calendar = Calendar()
    shifts = store.assignments(date(2026, 2, 23), date(2026, 4, 12))
    days = [d for d in (date(2026, 2, 23) + timedelta(n) for n in range(49))]
    working = [d for d in days if calendar.is_working_day(d)]

    def staffed(slot: str) -> float:
        hits = [d for d in working if (a := shifts.get((d, slot))) and a.shifter]
        return len(hits) / len(working)

    assert staffed("EU") >= 0.75
    assert 0.2 <= staffed("NA") <= 0.7
    assert max(d for d, _ in shifts) >= date(2026, 4, 6)
    assert any(a.trainee and not a.shifter for a in shifts.values())


def test_escalations_with_replies_and_some_overdue(filled: tuple[Store, DemoSummary]) -> None:
    store, summary = filled
    escalations = store.db.execute_returning_dicts("SELECT * FROM escalations")
    assert summary.escalations == len(escalations) >= 5
    replied = [e for e in escalations if e["replied_at"]]
    assert len(replied) >= len(escalations) / 2
    assert len({e["target_id"] for e in escalations}) >= 3
    assert len(store.events(kind="escalation_deadline")) >= 1
    assert all(e["thread_id"] for e in escalations)


def test_a_live_run_s_posts_and_messages_are_recorded(filled: tuple[Store, DemoSummary]) -> None:
    """Every question and every reply a person wrote is a seen post; the bot's answers, pings
    and escalation posts are in the outbox, sent; people reply more than once in some threads."""
    store, _ = filled
    questions = store.questions()
    replies = store.events(kind="human_reply") + store.events(kind="asker_reply")
    assert all(store.seen(q["thread_id"]) for q in questions)
    assert all(store.seen(e["data"]["post_id"]) for e in replies)
    seen = store.db.execute("SELECT COUNT(*) FROM seen_posts").fetchone()[0]
    assert 2.5 * len(questions) <= seen <= 4 * len(questions)  # about 10,000 messages a year
    assert store.pending() == []
    keys = list(store.outbox_keys())
    answered = [q for q in questions if q["entry_id"]]
    assert sum(k.startswith("answer:") for k in keys) == len(answered)
    assert sum(k.startswith("abstain:") for k in keys) == len(questions) - len(answered)
    assert {k.split(":")[0] for k in keys} >= {"escalation", "reminder", "reply", "reping"}
    assert store.key_of_post(str(store.sent(keys[0])["post_id"])) == keys[0]  # type: ignore[index]


def test_many_ask_once_and_a_few_ask_often(filled: tuple[Store, DemoSummary]) -> None:
    store, _ = filled
    asked = Counter(q["author_name"] for q in store.questions())
    once = [name for name, n in asked.items() if n == 1]
    assert len(once) >= len(asked) / 2
    assert max(asked.values()) >= 3


def test_nothing_is_written_after_the_end(filled: tuple[Store, DemoSummary]) -> None:
    store, _ = filled
    end = iso(END)
    for table, column in (
        ("questions", "created_at"),
        ("questions", "first_human_at"),
        ("questions", "resolved_at"),
        ("events", "at"),
        ("escalations", "opened_at"),
        ("escalations", "replied_at"),
        ("escalations", "closed_at"),
    ):
        latest = store.db.execute(f"SELECT MAX({column}) FROM {table}").fetchone()[0]
        assert latest < end, (table, column)


def test_the_report_of_demo_data_has_every_section(filled: tuple[Store, DemoSummary]) -> None:
    store, _ = filled
    report = build_report(store, "2026-W10", Calendar())
    assert 45 <= report.this.questions.asked <= 100
    assert report.this.first_response.on_duty.count > 10
    assert report.this.first_response.off_duty.count > 2
    assert report.this.coverage.empty >= 1
    assert report.this.knowledge_gaps.clusters[0].count >= 2
    assert report.previous.questions.asked > 0
