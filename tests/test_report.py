"""The weekly report on a small hand-built history with known answers: every section, the deltas
against the week before, the JSON keys, the CSV rows, the markdown post and the chart.

The scenario (times UTC; Zurich is UTC+1 in these weeks; EU slot 07:00-15:00Z, NA 15:00-23:00Z):

Week 2026-W10 (2026-03-01T23:00Z to 2026-03-08T23:00Z). Schedule: Mon EU sam + trainee tina, NA
nick; Tue EU sam, NA empty; Wed EU cora, NA trainee tina only; Thu EU sam, NA nick; Fri EU
empty, NA nick. Questions:

* q1 Mon 09:00 bot answer (e-exhausted), helped 09:10.
* q2 Mon 10:00 bot answer (e-exhausted), not helped 10:05; sam replies 10:25 (20 staffed min),
  resolves 11:00.
* q3 Tue 14:50 abstained (meeting room); Tue NA empty; cora takes Wed 07:30 (10 + 30 = 40
  staffed min) and replies; escalates E3 to cloud-de Wed 08:00, which replies Wed 12:00.
* q9 Wed 08:00 abstained; the asker says it helped at 08:30 (resolved without a reply).
* q4 Wed 20:00 abstained (meeting room) in the trainee-only NA slot, i.e. off duty; sam replies
  Thu 07:15 (675 wall-clock minutes) and resolves 08:00.
* q5 Thu 12:00 bot answer (e-proxy), no feedback.
* q6 Fri 09:00 abstained in the empty EU slot (off duty); nick replies 15:30 (390 min) and
  escalates E1 to cloud-us 15:40 (no reply).
* q7 Sat 10:00 abstained (weather); nobody.
* q8 Sun 22:30 abstained (meeting room); replied Mon 9 Mar 07:20, after the week.

Week 2026-W09: EU sam Mon-Fri, NA empty. q-1 Tue 24 Feb 09:00 abstained, sam replies 09:30 (30
min) and resolves 10:00; E2 to panda-experts opened Wed 25 Feb 10:00, deadline notice Fri 27 Feb
10:00, reply Mon 2 Mar 10:00 (120 h), closed Tue 3 Mar 09:00. q0 Fri 27 Feb 14:00 abstained; sam
replies Mon 2 Mar 07:10 (60 + 10 = 70 staffed min, counted in W10); E4 to cloud-us opened Thu 5
Mar 09:00, deadline notice Sun 8 Mar 09:00, no reply.

Next weeks: Mon 9 Mar EU sam; Tue 10 Mar NA trainee tina only; nothing else (Good Friday 3 Apr
is a holiday).
"""

from __future__ import annotations

import csv
import io
import json
import struct
from datetime import UTC, date, datetime

import pytest

from dastbot.answering.gaps import CLUSTER_THRESHOLD, cluster_texts
from dastbot.kernel.models import Assignment, Escalation
from dastbot.kernel.settings import Person
from dastbot.report.chart import chart_png
from dastbot.report.export import to_csv, to_json
from dastbot.report.render import to_markdown, with_delta
from dastbot.report.stats import build_report, quantile
from dastbot.report.values import OTHERS, WeekReport
from dastbot.report.weeks import (
    WeekError,
    last_complete_week,
    parse_week,
    previous_week,
    week_bounds,
)
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store, iso

CAL = Calendar()
ROSTER = [
    Person(user="sam", zone="EU"),
    Person(user="tina", zone="EU", level="trainee"),
    Person(user="nick", zone="NA"),
    Person(user="cora", zone="EU", roles=["coordinator"]),
    Person(user="nora", zone="NA", roles=["coordinator"]),
]
TITLES = {"e-exhausted": "Task is exhausted", "e-proxy": "Proxy expired"}


def z(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def book(
    store: Store, day: str, slot: str, shifter: str | None, trainee: str | None = None
) -> None:
    store.set_assignment(
        Assignment(date.fromisoformat(day), slot, shifter, trainee), "test", z(2, 1, 0)
    )


def ask(store: Store, thread: str, at: datetime, text: str, entry: str | None = None) -> None:
    store.add_question(
        thread_id=thread,
        channel_id="help",
        author_id=f"a-{thread}",
        author_name=f"asker-{thread}",
        text=text,
        now=at,
        entry_id=entry,
        score=0.8 if entry else 0.2,
        state="answered" if entry else "waiting",
    )
    if entry:
        store.record("answered", at, thread, "dastbot", entry=entry, score=0.8)
    else:
        store.record("abstained", at, thread, "dastbot", reason="below threshold", top=[])
        store.record("needs_human", at, thread, "dastbot", reason="abstained")


def feedback(store: Store, thread: str, at: datetime, helped: bool) -> None:
    state = "resolved" if helped else "waiting"
    kind = "helped" if helped else "not_helped"
    store.update_question(thread, at, state=state, feedback=kind)
    store.record(f"feedback_{kind}", at, thread, f"asker-{thread}", state=state)
    if helped:
        store.update_question(thread, at, resolved_at=iso(at))
        store.record("resolved", at, thread, f"asker-{thread}", via="feedback")
    else:
        store.record("needs_human", at, thread, "dastbot", reason="not_helped")


def first_human(store: Store, thread: str, at: datetime) -> None:
    row = store.question(thread)
    assert row is not None
    if not row["first_human_at"]:
        store.update_question(thread, at, first_human_at=iso(at))


def reply(store: Store, thread: str, at: datetime, who: str) -> None:
    store.record("human_reply", at, thread, who, post_id=f"p-{thread}-{who}", text="try this")
    first_human(store, thread, at)


def take(store: Store, thread: str, at: datetime, who: str) -> None:
    store.update_question(thread, at, state="claimed", claimed_by=who)
    store.record("take", at, thread, who, state="claimed")
    first_human(store, thread, at)


def resolve(store: Store, thread: str, at: datetime, who: str) -> None:
    store.update_question(thread, at, state="resolved", resolved_at=iso(at))
    store.record("resolve", at, thread, who, state="resolved")


def escalate(
    store: Store,
    esc_id: str,
    thread: str,
    target: str,
    opened: datetime,
    who: str,
    replied: datetime | None = None,
    closed: datetime | None = None,
    deadline: datetime | None = None,
) -> None:
    store.save_escalation(
        Escalation(esc_id, thread, target, "open", opened, who, "needs the site"), "chan"
    )
    store.record("escalation_opened", opened, thread, who, escalation=esc_id, target=target)
    if deadline is not None:
        store.record("escalation_deadline", deadline, thread, "dastbot", escalation=esc_id)
    state = "open"
    if replied is not None:
        state = "replied"
        store.record("escalation_replied", replied, thread, "site", escalation=esc_id)
    if closed is not None:
        state = "closed"
        store.set_escalation_closed(esc_id, closed)
        store.record("escalation_closed", closed, thread, who, escalation=esc_id)
    store.save_escalation(
        Escalation(
            esc_id,
            thread,
            target,
            state,  # type: ignore[arg-type]
            opened,
            who,
            "needs the site",
            deadline_notified=deadline is not None,
            replied_at=replied,
        )
    )


ROOM_40 = "How do I book a meeting room in building 40?"
ROOM_513 = "How can I book a meeting room in building 513 tomorrow?"
ROOM_NEXT = "How do I book a meeting room in building 40 for next week?"
CERT = "my grid certificate expired yesterday"
BNL = "proxy and rucio both broken at BNL since this morning"
WEATHER = "what is the weather in Geneva tomorrow"


def history(store: Store) -> None:
    """The scenario of the module docstring, in the order the bot would write it."""
    for day in ("2026-02-23", "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27"):
        book(store, day, "EU", "sam")
    book(store, "2026-03-02", "EU", "sam", "tina")
    book(store, "2026-03-02", "NA", "nick")
    book(store, "2026-03-03", "EU", "sam")
    book(store, "2026-03-04", "EU", "cora")
    book(store, "2026-03-04", "NA", None, "tina")
    book(store, "2026-03-05", "EU", "sam")
    book(store, "2026-03-05", "NA", "nick")
    book(store, "2026-03-06", "NA", "nick")
    book(store, "2026-03-09", "EU", "sam")
    book(store, "2026-03-10", "NA", None, "tina")

    ask(store, "qm1", z(2, 24, 9), "my pasta recipe needs a grid site")
    reply(store, "qm1", z(2, 24, 9, 30), "sam")
    resolve(store, "qm1", z(2, 24, 10), "sam")
    escalate(
        store, "E2", "qm1", "panda-experts", z(2, 25, 10), "sam",
        replied=z(3, 2, 10), closed=z(3, 3, 9), deadline=z(2, 27, 10),
    )  # fmt: skip
    ask(store, "q0", z(2, 27, 14), "where do I find the DAST pasta")
    reply(store, "q0", z(3, 2, 7, 10), "sam")

    ask(store, "q1", z(3, 2, 9), "my task is exhausted", "e-exhausted")
    feedback(store, "q1", z(3, 2, 9, 10), helped=True)
    ask(store, "q2", z(3, 2, 10), "task exhausted again", "e-exhausted")
    feedback(store, "q2", z(3, 2, 10, 5), helped=False)
    reply(store, "q2", z(3, 2, 10, 25), "sam")
    resolve(store, "q2", z(3, 2, 11), "sam")
    ask(store, "q3", z(3, 3, 14, 50), ROOM_40)
    take(store, "q3", z(3, 4, 7, 30), "cora")
    reply(store, "q3", z(3, 4, 7, 35), "cora")
    escalate(store, "E3", "q3", "cloud-de", z(3, 4, 8), "cora", replied=z(3, 4, 12))
    ask(store, "q9", z(3, 4, 8), CERT)
    feedback(store, "q9", z(3, 4, 8, 30), helped=True)
    ask(store, "q4", z(3, 4, 20), ROOM_513)
    reply(store, "q4", z(3, 5, 7, 15), "sam")
    resolve(store, "q4", z(3, 5, 8), "sam")
    escalate(store, "E4", "q0", "cloud-us", z(3, 5, 9), "sam", deadline=z(3, 8, 9))
    ask(store, "q5", z(3, 5, 12), "voms proxy expired", "e-proxy")
    ask(store, "q6", z(3, 6, 9), BNL)
    reply(store, "q6", z(3, 6, 15, 30), "nick")
    escalate(store, "E1", "q6", "cloud-us", z(3, 6, 15, 40), "nick")
    ask(store, "q7", z(3, 7, 10), WEATHER)
    ask(store, "q8", z(3, 8, 22, 30), ROOM_NEXT)
    reply(store, "q8", z(3, 9, 7, 20), "sam")


@pytest.fixture
def report() -> WeekReport:
    store = Store.memory()
    history(store)
    return build_report(store, "2026-W10", CAL, ROSTER, TITLES)


# --- weeks -----------------------------------------------------------------------------------


def test_weeks_are_local_monday_to_monday_in_utc_even_across_dst() -> None:
    assert week_bounds("2026-W10", CAL.zone) == (z(3, 1, 23), z(3, 8, 23))
    start, end = week_bounds("2026-W13", CAL.zone)  # summer time starts Sunday 29 March
    assert (start, end) == (z(3, 22, 23), z(3, 29, 22))
    assert (end - start).total_seconds() == 167 * 3600
    assert previous_week("2026-W01") == "2025-W52"
    assert parse_week("2026-w09") == (2026, 9)
    assert last_complete_week(z(3, 9, 8), CAL.zone) == "2026-W10"
    assert last_complete_week(z(3, 8, 22, 59), CAL.zone) == "2026-W09"  # Sunday 23:59 local


@pytest.mark.parametrize("bad", ["2026-10", "W10", "2026-W00", "2025-W53", "last week", ""])
def test_a_bad_week_is_refused(bad: str) -> None:
    with pytest.raises(WeekError):
        parse_week(bad)


def test_quantiles_interpolate_between_ranks() -> None:
    assert quantile([], 0.5) is None
    assert quantile([20, 70, 40], 0.5) == 40
    assert quantile([20, 40, 70], 0.9) == pytest.approx(64.0)
    assert quantile([390, 675], 0.5) == pytest.approx(532.5)


# --- sections --------------------------------------------------------------------------------


def test_questions_of_the_week_and_the_week_before(report: WeekReport) -> None:
    q, p = report.this.questions, report.previous.questions
    assert (q.asked, q.bot_answered, q.bot_helped, q.bot_not_helped, q.bot_no_feedback) == (
        9, 3, 1, 1, 1,
    )  # fmt: skip
    assert (q.abstained, q.handled_by_shifters, q.resolved_at_end, q.open_at_end) == (6, 4, 4, 4)
    assert q.backlog_at_end == 5  # q3 q6 q7 q8, and q0 from the week before
    assert dict(q.outcomes) == {
        "bot_helped": 1,
        "shifters": 4,
        "resolved_otherwise": 1,
        "bot_no_feedback": 1,
        "waiting": 2,
    }
    assert (p.asked, p.abstained, p.handled_by_shifters, p.open_at_end, p.backlog_at_end) == (
        2, 2, 1, 1, 1,
    )  # fmt: skip


def test_questions_per_local_day_by_outcome(report: WeekReport) -> None:
    daily = {d.day.isoformat(): {k: v for k, v in d.counts.items() if v} for d in report.this.daily}
    assert daily == {
        "2026-03-02": {"bot_helped": 1, "shifters": 1},
        "2026-03-03": {"shifters": 1},
        "2026-03-04": {"shifters": 1, "resolved_otherwise": 1},
        "2026-03-05": {"bot_no_feedback": 1},
        "2026-03-06": {"shifters": 1},
        "2026-03-07": {"waiting": 1},
        "2026-03-08": {"waiting": 1},  # Sunday 23:30 local is still in the week
    }


def test_first_human_response_in_staffed_minutes_on_duty_and_wall_clock_off_duty(
    report: WeekReport,
) -> None:
    r = report.this.first_response
    assert (r.on_duty.count, r.on_duty.median_minutes) == (3, 40.0)  # q2 20, q3 40, q0 70
    assert r.on_duty.p90_minutes == pytest.approx(64.0)
    assert (r.off_duty.count, r.off_duty.median_minutes) == (2, 532.5)  # q6 390, q4 675
    assert r.off_duty.p90_minutes == pytest.approx(646.5)
    p = report.previous.first_response
    assert (p.on_duty.count, p.on_duty.median_minutes, p.on_duty.p90_minutes) == (1, 30.0, 30.0)
    assert (p.off_duty.count, p.off_duty.median_minutes, p.off_duty.p90_minutes) == (0, None, None)


def test_escalations_per_target_with_ages_and_the_oldest_open(report: WeekReport) -> None:
    es = report.this.escalations
    assert (es.opened, es.replied, es.overdue, es.open_at_end, es.awaiting_at_end) == (
        3,
        2,
        1,
        3,
        2,
    )
    rows = {t.target: t for t in es.by_target}
    assert list(rows) == ["cloud-de", "cloud-us", "panda-experts"]
    de, us, panda = rows["cloud-de"], rows["cloud-us"], rows["panda-experts"]
    assert (de.opened, de.replied, de.overdue, de.open_at_end, de.awaiting_at_end) == (
        1,
        1,
        0,
        1,
        0,
    )
    assert (de.median_reply_hours, de.oldest_open_hours) == (4.0, 111.0)
    assert (us.opened, us.replied, us.overdue, us.open_at_end, us.awaiting_at_end) == (
        2,
        0,
        1,
        2,
        2,
    )
    assert (us.median_reply_hours, us.oldest_open_hours) == (None, 86.0)
    assert (panda.opened, panda.replied, panda.open_at_end, panda.median_reply_hours) == (
        0, 1, 0, 120.0,
    )  # fmt: skip
    oldest = es.oldest_open
    assert oldest is not None
    assert (oldest.id, oldest.target, oldest.age_hours, oldest.replied, oldest.overdue) == (
        "E3", "cloud-de", 111.0, True, False,
    )  # fmt: skip
    before = report.previous.escalations
    assert (before.opened, before.replied, before.overdue, before.awaiting_at_end) == (1, 0, 1, 1)
    assert before.oldest_open is not None
    assert (before.oldest_open.id, before.oldest_open.age_hours) == ("E2", 109.0)


def test_coverage_of_the_week_credit_and_load(report: WeekReport) -> None:
    c = report.this.coverage
    assert (c.slots, c.staffed, c.trainee_only, c.empty) == (10, 7, 1, 2)
    assert [(b.slot, b.staffed, b.slots) for b in c.by_slot] == [("EU", 4, 5), ("NA", 3, 5)]
    assert [(x.user, x.shifter_slots, x.trainee_slots, x.credit, x.threads) for x in c.people] == [
        ("cora", 1, 0, 1.0, 1),
        ("nick", 3, 0, 3.0, 1),
        ("sam", 3, 0, 3.0, 3),
        ("tina", 0, 2, 1.0, 0),
    ]
    assert dict(c.days)[date(2026, 3, 4)] == {"EU": "staffed", "NA": "trainee-only"}
    assert dict(c.days)[date(2026, 3, 7)] == {"EU": "off", "NA": "off"}
    p = report.previous.coverage
    assert (p.slots, p.staffed, p.empty) == (10, 5, 5)
    assert [(x.user, x.credit, x.threads) for x in p.people] == [("sam", 5.0, 1)]


def test_next_four_weeks_grid(report: WeekReport) -> None:
    grid = dict(report.next_weeks)
    assert len(report.next_weeks) == 28
    assert report.next_weeks[0][0] == date(2026, 3, 9)
    assert grid[date(2026, 3, 9)] == {"EU": "staffed", "NA": "empty"}
    assert grid[date(2026, 3, 10)] == {"EU": "empty", "NA": "trainee-only"}
    assert grid[date(2026, 4, 3)] == {"EU": "off", "NA": "off"}  # Good Friday


def test_knowledge_gaps_cluster_similar_abstentions(report: WeekReport) -> None:
    g = report.this.knowledge_gaps
    assert g.abstained == 6
    assert [(c.text, c.count, c.thread_ids) for c in g.clusters] == [
        (ROOM_40, 3, ("q3", "q4", "q8")),
        (CERT, 1, ("q9",)),
        (BNL, 1, ("q6",)),
        (WEATHER, 1, ("q7",)),
    ]
    assert [(m.entry_id, m.title, m.not_helped, m.answered) for m in g.unhelpful] == [
        ("e-exhausted", "Task is exhausted", 1, 2)
    ]


def test_clustering_threshold_separates_topics() -> None:
    items = [
        ("a", "How do I request a bigger EOS quota for my user area?"),
        ("b", "Is the CERN VPN down? I cannot connect from Milan"),
        ("c", "how can I request a bigger EOS quota for my user area? Thanks!"),
        ("d", "Is the CERN VPN down? I cannot connect from Tokyo?? urgent"),
        ("e", "How do I get a bigger EOS quota"),
    ]
    clusters = cluster_texts(items)
    assert [c.thread_ids for c in clusters] == [("a", "c", "e"), ("b", "d")]
    assert CLUSTER_THRESHOLD == 70


def test_people_not_on_the_roster_are_grouped() -> None:
    store = Store.memory()
    ask(store, "x1", z(3, 2, 9), "hello")
    reply(store, "x1", z(3, 2, 9, 5), "bob")
    reply(store, "x1", z(3, 2, 9, 6), "sam")
    ask(store, "x2", z(3, 2, 9), "hello again")
    reply(store, "x2", z(3, 2, 9, 5), "eve")
    people = build_report(store, "2026-W10", CAL, ROSTER).this.coverage.people
    assert [(p.user, p.threads) for p in people] == [("sam", 1), (OTHERS, 2)]
    without_roster = build_report(store, "2026-W10", CAL).this.coverage.people
    assert [(p.user, p.threads) for p in without_roster] == [("bob", 1), ("eve", 1), ("sam", 1)]


def test_an_empty_week_has_zeros_and_no_medians() -> None:
    report = build_report(Store.memory(), "2026-W10", CAL)
    assert report.this.questions.asked == 0
    assert report.this.first_response.on_duty.median_minutes is None
    assert report.this.escalations.oldest_open is None
    text = to_markdown(report)
    assert "| asked | 0 (±0) |" in text
    assert "| asked on duty (staffed time) | 0 (±0) | n/a | n/a |" in text
    assert chart_png(report).startswith(b"\x89PNG")


def test_a_report_does_not_change_after_its_week(report: WeekReport) -> None:
    store = Store.memory()
    history(store)
    reply(store, "q7", z(3, 10, 9), "sam")  # next week's events do not reach back
    resolve(store, "q3", z(3, 10, 9), "cora")
    assert build_report(store, "2026-W10", CAL, ROSTER, TITLES) == report


# --- renderers -------------------------------------------------------------------------------


def test_deltas() -> None:
    assert with_delta(42, 37) == "42 (+5)"
    assert with_delta(3, 5) == "3 (-2)"
    assert with_delta(4, 4) == "4 (±0)"
    assert with_delta(1.5, 3.0) == "1.5 (-1.5)"


def test_markdown_post(report: WeekReport) -> None:
    text = to_markdown(report)
    lines = text.splitlines()
    assert lines[0] == "#### DAST weekly report 2026-W10: Mon 2 Mar to Sun 8 Mar 2026"
    for line in (
        "| asked | 9 (+7) |",
        "| answered by the bot | 3 (+3) |",
        "| ↳ confirmed helpful | 1 (+1) |",
        "| ↳ not helpful | 1 (+1) |",
        "| handled by shifters | 4 (+3) |",
        "| still open at the week's end | 4 (+3) |",
        "| all open at the week's end | 5 (+4) |",
        "| asked on duty (staffed time) | 3 (+2) | 40 min (+10 min) | 64 min (+34 min) |",
        "| asked off duty (wall clock) | 2 (+2) | 8.9 h | 10.8 h |",
        "| cloud-us | 2 | 0 | 1 | 2 (2 awaiting) | n/a | 3.6 d |",
        "| panda-experts | 0 | 1 | 0 | 0 | 5.0 d | n/a |",
        "| sam | 3 | 0 | 3 | 3 |",
        "| tina | 0 | 2 | 1 | 0 |",
        "| W11 | EU | ✅ | ❌ | ❌ | ❌ | ❌ |",
        "|  | NA | ❌ | 🟡 | ❌ | ❌ | ❌ |",
        "| W14 | EU | ❌ | ❌ | ❌ | ❌ | · |",
        "| How do I book a meeting room in building 40? | 3 |",
        "| `e-exhausted` Task is exhausted | 1 | 2 |",
    ):
        assert line in lines, line
    assert (
        "**Escalations:** 3 (+2) opened, 2 (+2) replied, 1 (±0) overdue; 3 open at the week's "
        "end (2 awaiting a reply). Oldest: E3 to cloud-de, 4.6 d (replied)."
    ) in lines
    assert (
        "**Coverage:** 7 (+2) of 10 slots staffed (EU 4/5, NA 3/5); 1 trainee-only, 2 empty."
    ) in lines
    assert "**Knowledge gaps:** the bot could not answer 6 (+4) questions." in lines
    assert len(text) < 4000


def test_json_has_stable_documented_keys(report: WeekReport) -> None:
    data = to_json(report)
    json.dumps(data)  # serialisable as is
    assert list(data) == [
        "schema",
        "week",
        "previous_week",
        "timezone",
        "slots",
        "this_week",
        "previous_week_stats",
        "next_weeks",
    ]
    assert (data["schema"], data["week"], data["previous_week"]) == (
        "dastbot.weekly-report/1", "2026-W10", "2026-W09",
    )  # fmt: skip
    week = data["this_week"]
    assert list(week) == [
        "week",
        "start",
        "end",
        "questions",
        "daily",
        "first_response",
        "escalations",
        "coverage",
        "knowledge_gaps",
    ]
    assert (week["start"], week["end"]) == ("2026-03-01T23:00:00Z", "2026-03-08T23:00:00Z")
    assert week["questions"]["asked"] == 9
    assert week["questions"]["outcomes"]["waiting"] == 2
    assert week["first_response"]["off_duty"] == {
        "count": 2,
        "median_minutes": 532.5,
        "p90_minutes": pytest.approx(646.5),
    }
    assert week["escalations"]["oldest_open"]["id"] == "E3"
    assert week["escalations"]["oldest_open"]["opened_at"] == "2026-03-04T08:00:00Z"
    assert week["coverage"]["people"][0] == {
        "user": "cora",
        "shifter_slots": 1,
        "trainee_slots": 0,
        "credit": 1.0,
        "threads": 1,
    }
    assert week["knowledge_gaps"]["clusters"][0]["thread_ids"] == ["q3", "q4", "q8"]
    assert data["previous_week_stats"]["questions"]["asked"] == 2
    assert data["next_weeks"][1] == {
        "day": "2026-03-10",
        "slots": {"EU": "empty", "NA": "trainee-only"},
    }
    assert set(data["previous_week_stats"]) == set(week)


def test_csv_one_metric_per_row(report: WeekReport) -> None:
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert rows[0] == ["section", "metric", "this_week", "previous_week"]
    assert all(len(r) == 4 for r in rows)
    table = {(r[0], r[1]): (r[2], r[3]) for r in rows[1:]}
    assert len(table) == len(rows) - 1  # no metric twice
    assert table[("questions", "asked")] == ("9", "2")
    assert table[("questions", "backlog_at_end")] == ("5", "1")
    assert table[("outcomes", "resolved_otherwise")] == ("1", "0")
    assert table[("first_response", "on_duty_median_minutes")] == ("40", "30")
    assert table[("first_response", "on_duty_p90_minutes")] == ("64", "30")
    assert table[("first_response", "off_duty_median_minutes")] == ("532.5", "")
    assert table[("escalations", "opened")] == ("3", "1")
    assert table[("escalations", "cloud-us.opened")] == ("2", "0")
    assert table[("escalations", "panda-experts.oldest_open_hours")] == ("", "109")
    assert table[("coverage", "staffed")] == ("7", "5")
    assert table[("coverage", "NA.staffed")] == ("3", "0")
    assert table[("people", "sam.credit")] == ("3", "5")
    assert table[("people", "tina.credit")] == ("1", "0")
    assert table[("next_weeks", "2026-W11.EU.staffed")] == ("1", "")
    assert table[("next_weeks", "2026-W14.EU.slots")] == ("4", "")
    assert table[("knowledge_gaps", "abstained")] == ("6", "2")
    assert table[("knowledge_gaps", "e-exhausted.not_helped")] == ("1", "")


def test_chart_is_a_small_deterministic_png(report: WeekReport) -> None:
    png = chart_png(report)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 560)
    assert 5_000 < len(png) < 150_000
    assert b"Software" not in png and b"tIME" not in png
    assert chart_png(report) == png
