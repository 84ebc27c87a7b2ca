"""The weekly report's computation: one ISO week's statistics from the store's rows, and the
report of a week against the one before with the coverage of the next four weeks.

Pure: it reads the rows it is given (``week_stats``) or a store passed in (``build_report``), never
the wall clock, and writes nothing. ``build_report_in_thread`` computes on a worker thread over its
own read-only connection, so the bot's event loop keeps running meanwhile.

Definitions. "As known at the week's end" means: only events and column values before the week's
end count, so a week's report does not change once the week is over.

* Questions of the week: threads created in the week. For each, as known at the week's end:
  *answered by the bot* (the bot answered from the knowledge base: ``entry_id`` set); its first
  feedback (``feedback_helped`` / ``feedback_not_helped`` event) decides *confirmed helpful* /
  *not helpful* (a later "that worked" after a shifter's help does not make the bot helpful);
  *handled by shifters*: a person replied in the thread or took it (``first_human_at`` before the
  week's end); *still open*: its state at the week's end (replayed from the audit trail) is
  waiting, claimed or escalated, i.e. it waits for a person (a bot answer without feedback is
  not open: it is counted as ``bot_no_feedback``). The *backlog* is the same for every thread
  created before the week's end, whenever asked; a thread asked before the week and unchanged
  since before its end is counted by its stored state (the same, as every change goes through
  ``lifecycle.transition``), so an old week's report reads only the threads changed since.
* Outcomes (exclusive, for the daily chart), the first that applies: ``bot_helped``,
  ``shifters``, ``bot_no_feedback`` (a bot answer nobody rated, open or closed for lack of
  feedback), ``resolved_otherwise`` (resolved without a person's reply or a helpful answer),
  ``waiting`` (needs a person, nobody replied yet).
* First human response: the threads whose first human response (a reply by someone other than
  the asker, or a take; ``first_human_at``) falls inside the week, whenever they were asked. The
  clock starts when the thread first needed a person (its first ``needs_human`` event: an
  abstention, or "not helped" feedback) or, when a person stepped in before that, when it was
  asked. Threads whose clock started inside a staffed slot (a slot with a 1st-level shifter) are
  *asked on duty*: their time counts only staffed minutes (``shifts.staffed_minutes_between``
  with the schedule in the store). The others are *asked off duty*: their time is wall-clock
  minutes. Median and p90 interpolate linearly between the closest ranks (numpy's default).
* Escalations: *opened*, *replied* (first reply) and *overdue* (deadline notice, the
  ``escalation_deadline`` event) count what happened inside the week, per target; *open at the
  week's end* are those opened before it and neither closed nor cancelled by then, of which
  *awaiting* have no reply yet; ages are hours from opening to the week's end; the median reply
  time is wall-clock hours from opening to the first reply, for replies inside the week.
* Coverage: each slot of the week is staffed / trainee-only / empty / off (``coverage_grid``).
  Shift credit per person: per slot as shifter and as trainee, the ``people.credit`` weights
  (1.0 and 0.5 by default).
  Load: distinct threads a person replied in or took during the week (people not on the roster
  are grouped as ``OTHERS`` when a roster is given). The next four weeks start the Monday after
  the report's week.
* Knowledge gaps: the week's questions the bot abstained on, clustered in the order asked by
  ``dastbot.answering.gaps.cluster_texts`` (ranked by size, then by first asked). Unhelpful entries:
  the week's bot answers whose first feedback was "not helped", per knowledge-base entry.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dastbot.answering.gaps import cluster_texts
from dastbot.kernel.events import EventKind
from dastbot.kernel.settings import WEEKDAYS, Person
from dastbot.kernel.team_settings import CreditWeights
from dastbot.questions.lifecycle import CLAIMED, ESCALATED, RESOLVED, STATE_KINDS, WAITING, replay
from dastbot.report.values import (
    OTHERS,
    OUTCOMES,
    Coverage,
    DayOutcomes,
    EntryMiss,
    EscalationStats,
    FirstResponse,
    KnowledgeGaps,
    OpenEscalation,
    PersonWeek,
    QuestionStats,
    ResponseTimes,
    SlotCoverage,
    TargetStats,
    WeekReport,
    WeekRows,
    WeekStats,
)
from dastbot.report.weeks import previous_week, week_bounds, week_label, week_monday
from dastbot.shifts.calendar import Calendar, staffed_by
from dastbot.shifts.staffing import coverage_grid, staffed_minutes_between
from dastbot.store import ReportReader, ReportRows, iso, parse_iso

TOP_CLUSTERS = 5
TOP_ENTRIES = 5
NEXT_WEEKS = 4
OPEN_AT_END = (WAITING, CLAIMED, ESCALATED)
THREAD_KINDS = (*STATE_KINDS, EventKind.NEEDS_HUMAN, EventKind.HUMAN_REPLY)
"""The events a question's figures are derived from: its state changes and who helped."""


def load_rows(store: ReportRows, week: str, calendar: Calendar) -> WeekRows:
    """Read everything ``week_stats`` needs for ``week`` from ``store`` (read-only)."""
    start, end = week_bounds(week, calendar.zone)
    responses = store.first_responses(start, end)
    first_day = calendar.local_day(start)
    for row in responses:
        clock = row["needed_at"] or row["created_at"]
        first_day = min(first_day, calendar.local_day(parse_iso(min(clock, row["created_at"]))))
    last_day = calendar.local_day(end) + timedelta(days=7 * NEXT_WEEKS + 1)
    return WeekRows(
        week,
        start,
        end,
        questions=store.report_questions(start, end),
        events=store.report_events(start, end, THREAD_KINDS),
        responses=responses,
        escalations=store.report_escalations(start, end),
        deadlines=store.deadline_notices(start, end),
        handling=store.thread_handlers(start, end),
        assignments=store.assignments(first_day - timedelta(days=1), last_day),
        backlog_unchanged=store.backlog_unchanged(start, end, OPEN_AT_END),
    )


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _times(values: Sequence[float]) -> ResponseTimes:
    return ResponseTimes(len(values), quantile(values, 0.5), quantile(values, 0.9))


def _first_feedback(events: Sequence[Mapping[str, Any]]) -> str | None:
    for event in events:
        if event["kind"] in (EventKind.FEEDBACK_HELPED, EventKind.FEEDBACK_NOT_HELPED):
            return str(event["kind"]).removeprefix("feedback_")
    return None


def week_stats(
    rows: WeekRows,
    calendar: Calendar,
    roster: Sequence[Person] = (),
    titles: Mapping[str, str] | None = None,
    weights: CreditWeights | None = None,
) -> WeekStats:
    """One week's statistics from its rows (see the module docstring for every definition)."""
    start, end = rows.start, rows.end
    s, e = iso(start), iso(end)
    by_thread: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in rows.events:
        by_thread[str(event["thread_id"])].append(event)

    # questions
    week_rows = [r for r in rows.questions if s <= r["created_at"] < e]
    counts: Counter[str] = Counter()
    outcomes: Counter[str] = Counter({o: 0 for o in OUTCOMES})
    daily: dict[date, Counter[str]] = {
        calendar.local_day(start) + timedelta(days=i): Counter({o: 0 for o in OUTCOMES})
        for i in range(7)
    }
    answered_by: Counter[str] = Counter()
    missed_by: Counter[str] = Counter()
    abstained: list[tuple[str, str]] = []
    backlog = rows.backlog_unchanged
    for row in rows.questions:
        thread = str(row["thread_id"])
        events = by_thread.get(thread, [])
        state = replay(row.get("entry_id"), events)
        if state in OPEN_AT_END:
            backlog += 1
        if not s <= row["created_at"] < e:
            continue
        bot = bool(row.get("entry_id"))
        feedback = _first_feedback(events) if bot else None
        human = bool(row.get("first_human_at")) and str(row["first_human_at"]) < e
        if bot:
            counts["bot_answered"] += 1
            answered_by[str(row["entry_id"])] += 1
            if feedback == "helped":
                counts["bot_helped"] += 1
            elif feedback == "not_helped":
                counts["bot_not_helped"] += 1
                missed_by[str(row["entry_id"])] += 1
            else:
                counts["bot_no_feedback"] += 1
        else:
            abstained.append((thread, str(row.get("text") or "")))
        if human:
            counts["handled"] += 1
        if state == RESOLVED:
            counts["resolved"] += 1
        if state in OPEN_AT_END:
            counts["open"] += 1
        if bot and feedback == "helped":
            outcome = "bot_helped"
        elif human:
            outcome = "shifters"
        elif bot and feedback is None:
            outcome = "bot_no_feedback"  # open, or closed for lack of feedback
        elif state == RESOLVED:
            outcome = "resolved_otherwise"
        else:
            outcome = "waiting"
        outcomes[outcome] += 1
        daily[calendar.local_day(parse_iso(row["created_at"]))][outcome] += 1
    questions = QuestionStats(
        asked=len(week_rows),
        bot_answered=counts["bot_answered"],
        bot_helped=counts["bot_helped"],
        bot_not_helped=counts["bot_not_helped"],
        bot_no_feedback=counts["bot_no_feedback"],
        abstained=len(abstained),
        handled_by_shifters=counts["handled"],
        resolved_at_end=counts["resolved"],
        open_at_end=counts["open"],
        backlog_at_end=backlog,
        outcomes=dict(outcomes),
    )

    # first human response
    staffed = staffed_by(rows.assignments)
    on_duty: list[float] = []
    off_duty: list[float] = []
    for row in rows.responses:
        created = parse_iso(row["created_at"])
        first = parse_iso(row["first_human_at"])
        needed = parse_iso(row["needed_at"]) if row.get("needed_at") else None
        clock = needed if needed is not None and needed <= first else created
        slot = calendar.slot_at(clock)
        if slot is not None and staffed(slot):
            on_duty.append(staffed_minutes_between(calendar, staffed, clock, first))
        else:
            off_duty.append(max((first - clock) / timedelta(minutes=1), 0.0))
    first_response = FirstResponse(_times(on_duty), _times(off_duty))

    return WeekStats(
        week=rows.week,
        start=start,
        end=end,
        questions=questions,
        first_response=first_response,
        escalations=_escalation_stats(rows),
        coverage=_coverage(rows, calendar, roster, weights or CreditWeights()),
        knowledge_gaps=KnowledgeGaps(
            abstained=len(abstained),
            clusters=tuple(cluster_texts(abstained)[:TOP_CLUSTERS]),
            unhelpful=tuple(_misses(answered_by, missed_by, titles or {})),
        ),
        daily=tuple(DayOutcomes(day, dict(c)) for day, c in sorted(daily.items())),
    )


def _misses(
    answered: Mapping[str, int], missed: Mapping[str, int], titles: Mapping[str, str]
) -> list[EntryMiss]:
    ranked = sorted(missed, key=lambda k: (-missed[k], -missed[k] / answered[k], k))
    return [EntryMiss(k, titles.get(k, ""), missed[k], answered[k]) for k in ranked[:TOP_ENTRIES]]


def _escalation_stats(rows: WeekRows) -> EscalationStats:
    s, e = iso(rows.start), iso(rows.end)
    per: dict[str, dict[str, Any]] = {}

    def target(name: str) -> dict[str, Any]:
        return per.setdefault(
            name, {"opened": 0, "replied": 0, "overdue": 0, "open": [], "replies": []}
        )

    open_now: list[OpenEscalation] = []
    for row in rows.escalations:
        name = str(row["target_id"])
        opened = parse_iso(row["opened_at"])
        replied_at = row.get("replied_at")
        closed_at = row.get("closed_at")
        deadline = rows.deadlines.get(str(row["id"]))
        if row["opened_at"] >= s:
            target(name)["opened"] += 1
        if replied_at and s <= replied_at < e:
            target(name)["replied"] += 1
            target(name)["replies"].append((parse_iso(replied_at) - opened) / timedelta(hours=1))
        if deadline is not None and rows.start <= deadline < rows.end:
            target(name)["overdue"] += 1
        if not closed_at or closed_at >= e:
            replied = replied_at is not None and replied_at < e
            item = OpenEscalation(
                id=str(row["id"]),
                target=name,
                thread_id=str(row["thread_id"]),
                opened_at=opened,
                age_hours=(rows.end - opened) / timedelta(hours=1),
                replied=replied,
                overdue=deadline is not None,
            )
            target(name)["open"].append(item)
            open_now.append(item)
    by_target = tuple(
        TargetStats(
            target=name,
            opened=v["opened"],
            replied=v["replied"],
            overdue=v["overdue"],
            open_at_end=len(v["open"]),
            awaiting_at_end=sum(1 for o in v["open"] if not o.replied),
            median_reply_hours=quantile(v["replies"], 0.5),
            oldest_open_hours=max((o.age_hours for o in v["open"]), default=None),
        )
        for name, v in sorted(per.items())
        if v["opened"] or v["replied"] or v["overdue"] or v["open"]
    )
    oldest = min(open_now, key=lambda o: (o.opened_at, o.id), default=None)
    return EscalationStats(
        opened=sum(t.opened for t in by_target),
        replied=sum(t.replied for t in by_target),
        overdue=sum(t.overdue for t in by_target),
        open_at_end=len(open_now),
        awaiting_at_end=sum(1 for o in open_now if not o.replied),
        by_target=by_target,
        oldest_open=oldest,
    )


def _coverage(
    rows: WeekRows, calendar: Calendar, roster: Sequence[Person], weights: CreditWeights
) -> Coverage:
    monday = calendar.local_day(rows.start)
    grid = coverage_grid(calendar, rows.assignments, monday, 7)
    tally: dict[str, Counter[str]] = {name: Counter() for name in calendar.slot_names}
    shifter_slots: Counter[str] = Counter()
    trainee_slots: Counter[str] = Counter()
    for day, statuses in grid:
        for name, status in statuses.items():
            if status == "off":
                continue
            tally[name][status] += 1
            assignment = rows.assignments.get((day, name))
            if assignment is not None and assignment.shifter:
                shifter_slots[assignment.shifter] += 1
            if assignment is not None and assignment.trainee:
                trainee_slots[assignment.trainee] += 1
    on_roster = {p.user for p in roster}
    threads: dict[str, set[str]] = defaultdict(set)
    for actor, thread in rows.handling:
        who = actor if not on_roster or actor in on_roster else OTHERS
        threads[who].add(thread)
    people = sorted(set(shifter_slots) | set(trainee_slots) | set(threads))
    by_slot = tuple(
        SlotCoverage(
            slot=name,
            slots=sum(c.values()),
            staffed=c["staffed"],
            trainee_only=c["trainee-only"],
            empty=c["empty"],
        )
        for name, c in tally.items()
    )
    return Coverage(
        slots=sum(b.slots for b in by_slot),
        staffed=sum(b.staffed for b in by_slot),
        trainee_only=sum(b.trainee_only for b in by_slot),
        empty=sum(b.empty for b in by_slot),
        by_slot=by_slot,
        days=tuple((day, dict(statuses)) for day, statuses in grid),
        people=tuple(
            PersonWeek(
                user=p,
                shifter_slots=shifter_slots[p],
                trainee_slots=trainee_slots[p],
                credit=shifter_slots[p] * weights.shifter + trainee_slots[p] * weights.trainee,
                threads=len(threads.get(p, ())),
            )
            for p in sorted(people, key=lambda p: (p == OTHERS, p))
        ),
    )


def build_report(
    store: ReportRows,
    week: str,
    calendar: Calendar,
    roster: Sequence[Person] = (),
    titles: Mapping[str, str] | None = None,
    weights: CreditWeights | None = None,
) -> WeekReport:
    """The report for ``week`` (``YYYY-Www``; WeekError otherwise) from ``store``."""
    label = week_label(week_monday(week))
    before = previous_week(label)
    rows = load_rows(store, label, calendar)
    this = week_stats(rows, calendar, roster, titles, weights)
    previous = week_stats(load_rows(store, before, calendar), calendar, roster, titles, weights)
    next_monday = calendar.local_day(rows.start) + timedelta(days=7)
    grid = coverage_grid(calendar, rows.assignments, next_monday, 7 * NEXT_WEEKS)
    return WeekReport(
        week=label,
        timezone=calendar.settings.timezone,
        slot_names=tuple(calendar.slot_names),
        weekdays=tuple(WEEKDAYS.index(d) for d in calendar.settings.days),
        this=this,
        previous=previous,
        next_weeks=tuple((day, dict(statuses)) for day, statuses in grid),
    )


async def build_report_in_thread(
    store: ReportRows,
    week: str,
    calendar: Calendar,
    roster: Sequence[Person] = (),
    titles: Mapping[str, str] | None = None,
    weights: CreditWeights | None = None,
) -> WeekReport:
    """``build_report`` on a worker thread over a read-only connection of its own, in one read
    transaction, so the event loop runs on meanwhile. An in-memory store has no second
    connection: its report is computed in place."""
    path = store.database_file()
    if path is None:
        return build_report(store, week, calendar, roster, titles, weights)

    def compute(path: Path) -> WeekReport:
        reader = ReportReader.open_read_only(path)
        try:
            with reader.snapshot():
                return build_report(reader, week, calendar, roster, titles, weights)
        finally:
            reader.close()

    return await asyncio.to_thread(compute, path)
