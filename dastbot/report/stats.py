"""The weekly DAST report: what happened in one ISO week, compared with the week before.

This module owns the report's definitions, its computation and its renderers. It is pure: it
reads the rows it is given (``week_stats``) or a ``Store`` passed in (``build_report``), never the
wall clock, and writes nothing.

* Weeks: ``parse_week`` / ``week_bounds`` / ``previous_week`` / ``last_complete_week``. A week is
  an ISO week ``YYYY-Www`` in the shift calendar's zone (Europe/Zurich by default): from Monday
  00:00 local to the next Monday 00:00 local, as UTC instants (167 or 169 hours across DST).
* ``build_report(store, week, calendar, roster, titles) -> WeekReport``: the week's ``WeekStats``,
  the previous week's (for the deltas), and the coverage of the next four weeks.
* ``ReportSettings``: the ``report:`` section of bot.yaml (when the weekly post goes out).
* Renderers: ``to_markdown`` (the Mattermost post), ``to_json`` (stable keys, documented there),
  ``to_csv`` (one metric per row) and ``chart_png`` (matplotlib, Agg canvas, two panels).

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
  created before the week's end, whenever asked.
* Outcomes (exclusive, for the daily chart), the first that applies: ``bot_helped``,
  ``shifters``, ``resolved_otherwise`` (resolved without a person's reply or a helpful answer),
  ``bot_no_feedback``, ``waiting`` (needs a person, nobody replied yet).
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
  Shift credit per person: 1.0 per slot as shifter, 0.5 per slot as trainee (``shifts.credit``).
  Load: distinct threads a person replied in or took during the week (people not on the roster
  are grouped as ``OTHERS`` when a roster is given). The next four weeks start the Monday after
  the report's week.
* Knowledge gaps: the week's questions the bot abstained on, clustered greedily in the order
  asked: a question joins the first cluster whose first question scores at least
  ``CLUSTER_THRESHOLD`` (rapidfuzz ``token_set_ratio`` on lower-cased text without common
  English stop words, which would otherwise make every "how do I ..." alike) and starts a new one
  otherwise; clusters are ranked by size, then by first asked. Unhelpful entries: the week's bot
  answers whose first feedback was "not helped", per knowledge-base entry.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, process

from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import one_line, table
from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import WEEKDAYS, Person
from dastbot.questions.lifecycle import CLAIMED, ESCALATED, STATE_KINDS, WAITING, replay
from dastbot.shifts.calendar import Calendar, iso_z, staffed_by
from dastbot.shifts.roster import credit
from dastbot.shifts.staffing import SlotStatus, coverage_grid, staffed_minutes_between

if TYPE_CHECKING:
    from dastbot.store import Store

SCHEMA = "dastbot.weekly-report/1"
CLUSTER_THRESHOLD = 70
"""Minimum rapidfuzz token_set_ratio (0-100) for an abstained question to join a cluster."""
TOP_CLUSTERS = 5
TOP_ENTRIES = 5
NEXT_WEEKS = 4
OTHERS = "(not on the roster)"
OUTCOMES = ("bot_helped", "shifters", "resolved_otherwise", "bot_no_feedback", "waiting")
OUTCOME_LABELS = {
    "bot_helped": "bot answer helped",
    "shifters": "handled by shifters",
    "resolved_otherwise": "resolved without a reply",
    "bot_no_feedback": "bot answer, no feedback",
    "waiting": "waiting for a person",
}
OPEN_AT_END = (WAITING, CLAIMED, ESCALATED)
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)
_THREAD_KINDS = (*STATE_KINDS, EventKind.NEEDS_HUMAN, EventKind.HUMAN_REPLY)
# fmt: off
_STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for",
    "from", "have", "how", "i", "if", "in", "is", "it", "me", "my", "of", "on", "or", "please",
    "so", "that", "the", "there", "this", "to", "was", "we", "what", "when", "where", "which",
    "why", "will", "with", "would", "you", "hi", "hello", "dear", "thanks", "thank", "any",
    "anyone",
))
# fmt: on


class WeekError(ValueError):
    """A week that is not ``YYYY-Www``."""


_Time = time  # the field ``time`` below shadows the type inside the class


# --- weeks -----------------------------------------------------------------------------------


def parse_week(text: str) -> tuple[int, int]:
    """``"2026-W10"`` -> ``(2026, 10)``; WeekError for anything else or a week the year lacks."""
    match = _WEEK.match(text)
    if match is None:
        raise WeekError(f"{text!r} is not an ISO week YYYY-Www (e.g. 2026-W10)")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"{year} has no ISO week {week}") from None
    return year, week


def week_label(day: date) -> str:
    """The ISO week holding ``day``, e.g. ``2026-W10``."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_monday(week: str) -> date:
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, 1)


def previous_week(week: str) -> str:
    return week_label(week_monday(week) - timedelta(days=7))


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 local to the next Monday 00:00 local, as UTC instants."""
    monday = week_monday(week)
    start = datetime.combine(monday, time(0), zone).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(0), zone).astimezone(UTC)
    return start, end


def last_complete_week(now: datetime, zone: ZoneInfo) -> str:
    """The latest ISO week that ended at or before ``now`` (local time in ``zone``)."""
    local = now.astimezone(zone).date()
    return week_label(local - timedelta(days=local.weekday() + 1))


# --- the report's values ---------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionStats:
    asked: int
    bot_answered: int
    bot_helped: int
    bot_not_helped: int
    bot_no_feedback: int
    abstained: int
    handled_by_shifters: int
    resolved_at_end: int
    open_at_end: int
    backlog_at_end: int
    outcomes: Mapping[str, int]


@dataclass(frozen=True)
class ResponseTimes:
    count: int
    median_minutes: float | None
    p90_minutes: float | None


@dataclass(frozen=True)
class FirstResponse:
    on_duty: ResponseTimes
    off_duty: ResponseTimes


@dataclass(frozen=True)
class TargetStats:
    target: str
    opened: int
    replied: int
    overdue: int
    open_at_end: int
    awaiting_at_end: int
    median_reply_hours: float | None
    oldest_open_hours: float | None


@dataclass(frozen=True)
class OpenEscalation:
    id: str
    target: str
    thread_id: str
    opened_at: datetime
    age_hours: float
    replied: bool
    overdue: bool


@dataclass(frozen=True)
class EscalationStats:
    opened: int
    replied: int
    overdue: int
    open_at_end: int
    awaiting_at_end: int
    by_target: tuple[TargetStats, ...]
    oldest_open: OpenEscalation | None


@dataclass(frozen=True)
class SlotCoverage:
    slot: str
    slots: int
    staffed: int
    trainee_only: int
    empty: int


@dataclass(frozen=True)
class PersonWeek:
    user: str
    shifter_slots: int
    trainee_slots: int
    credit: float
    threads: int


@dataclass(frozen=True)
class Coverage:
    slots: int
    staffed: int
    trainee_only: int
    empty: int
    by_slot: tuple[SlotCoverage, ...]
    days: tuple[tuple[date, Mapping[str, SlotStatus]], ...]
    people: tuple[PersonWeek, ...]


@dataclass(frozen=True)
class GapCluster:
    text: str
    count: int
    thread_ids: tuple[str, ...]


@dataclass(frozen=True)
class EntryMiss:
    entry_id: str
    title: str
    not_helped: int
    answered: int


@dataclass(frozen=True)
class KnowledgeGaps:
    abstained: int
    clusters: tuple[GapCluster, ...]
    unhelpful: tuple[EntryMiss, ...]


@dataclass(frozen=True)
class DayOutcomes:
    day: date
    counts: Mapping[str, int]


@dataclass(frozen=True)
class WeekStats:
    week: str
    start: datetime
    end: datetime
    questions: QuestionStats
    first_response: FirstResponse
    escalations: EscalationStats
    coverage: Coverage
    knowledge_gaps: KnowledgeGaps
    daily: tuple[DayOutcomes, ...]


@dataclass(frozen=True)
class WeekReport:
    week: str
    timezone: str
    slot_names: tuple[str, ...]
    weekdays: tuple[int, ...]
    this: WeekStats
    previous: WeekStats
    next_weeks: tuple[tuple[date, Mapping[str, SlotStatus]], ...]


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekRows:
    """What one week's statistics are computed from (``load_rows`` reads it from a store).

    ``questions``: question rows created before ``end`` that were asked in the week or were not
    resolved by ``end`` (the backlog candidates); ``events``: their events before ``end`` of the
    kinds that move a question (``_THREAD_KINDS``), each with ``data`` decoded, ordered by time;
    ``responses``: question rows whose ``first_human_at`` is in the week, with ``needed_at`` (the
    first ``needs_human`` event, or None); ``escalations``: escalation rows opened before ``end``;
    ``deadlines``: escalation id -> first ``escalation_deadline`` before ``end``; ``handling``:
    (actor, thread) of every ``human_reply`` and ``take`` in the week; ``assignments``: the
    schedule from the earliest response clock to four weeks after ``end``.
    """

    week: str
    start: datetime
    end: datetime
    questions: Sequence[Mapping[str, Any]]
    events: Sequence[Mapping[str, Any]]
    responses: Sequence[Mapping[str, Any]]
    escalations: Sequence[Mapping[str, Any]]
    deadlines: Mapping[str, datetime]
    handling: Sequence[tuple[str, str]]
    assignments: Mapping[tuple[date, str], Assignment]


def _marks(values: Sequence[str]) -> str:
    return ",".join("?" for _ in values)


def load_rows(store: Store, week: str, calendar: Calendar) -> WeekRows:
    """Read everything ``week_stats`` needs for ``week`` from ``store`` (read-only)."""
    import json

    from dastbot.store import iso, parse_iso

    start, end = week_bounds(week, calendar.zone)
    s, e = iso(start), iso(end)
    db = store.db
    scope = "created_at < ? AND (created_at >= ? OR resolved_at IS NULL OR resolved_at >= ?)"
    questions = db.execute_returning_dicts(
        f"SELECT * FROM questions WHERE {scope} ORDER BY created_at, thread_id", [e, s, e]
    )
    events = db.execute_returning_dicts(
        "SELECT thread_id, at, kind, actor, data FROM events "
        f"WHERE at < ? AND kind IN ({_marks(_THREAD_KINDS)}) "
        f"AND thread_id IN (SELECT thread_id FROM questions WHERE {scope}) ORDER BY at, id",
        [e, *_THREAD_KINDS, e, s, e],
    )
    for row in events:
        row["data"] = json.loads(row["data"] or "{}")
    responses = db.execute_returning_dicts(
        "SELECT q.thread_id, q.created_at, q.first_human_at, "
        "(SELECT MIN(at) FROM events v WHERE v.thread_id = q.thread_id "
        "AND +v.kind = 'needs_human') AS needed_at "  # + keeps SQLite on the thread index"
        "FROM questions q WHERE q.first_human_at >= ? AND q.first_human_at < ? "
        "ORDER BY q.first_human_at, q.thread_id",
        [s, e],
    )
    escalations = db.execute_returning_dicts(
        "SELECT * FROM escalations WHERE opened_at < ? ORDER BY opened_at, id", [e]
    )
    deadlines: dict[str, datetime] = {}
    for row in db.execute(
        "SELECT at, data FROM events WHERE kind = 'escalation_deadline' AND at < ? ORDER BY at, id",
        [e],
    ).fetchall():
        esc_id = str(json.loads(row[1] or "{}").get("escalation", ""))
        deadlines.setdefault(esc_id, parse_iso(row[0]))
    handling = [
        (str(r[0]), str(r[1]))
        for r in db.execute(
            "SELECT actor, thread_id FROM events WHERE kind IN ('human_reply', 'take') "
            "AND at >= ? AND at < ? ORDER BY at, id",
            [s, e],
        ).fetchall()
    ]
    first_day = calendar.local_day(start)
    for row in responses:
        clock = row["needed_at"] or row["created_at"]
        first_day = min(first_day, calendar.local_day(parse_iso(min(clock, row["created_at"]))))
    last_day = calendar.local_day(end) + timedelta(days=7 * NEXT_WEEKS + 1)
    assignments = store.assignments(first_day - timedelta(days=1), last_day)
    return WeekRows(
        week,
        start,
        end,
        questions,
        events,
        responses,
        escalations,
        deadlines,
        handling,
        assignments,
    )


# --- computation -----------------------------------------------------------------------------


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


def _normalise(text: str) -> str:
    words = re.findall(r"[a-z0-9][a-z0-9_.\-/]*", text.lower())
    kept = [w for w in words if w not in _STOP_WORDS]
    return " ".join(kept or words)[:400]


def cluster_texts(
    items: Sequence[tuple[str, str]], threshold: int = CLUSTER_THRESHOLD
) -> list[GapCluster]:
    """Greedy leader clustering of (thread_id, text) in the given order; largest first."""
    leaders: list[str] = []
    members: list[list[tuple[str, str]]] = []
    for thread, text in items:
        key = _normalise(text)
        found = process.extractOne(
            key, leaders, scorer=fuzz.token_set_ratio, score_cutoff=threshold
        )
        if found is None:
            leaders.append(key)
            members.append([(thread, text)])
        else:
            members[found[2]].append((thread, text))
    clusters = [
        GapCluster(" ".join(group[0][1].split())[:200], len(group), tuple(t for t, _ in group))
        for group in members
    ]
    order = sorted(range(len(clusters)), key=lambda i: (-clusters[i].count, i))
    return [clusters[i] for i in order]


def week_stats(
    rows: WeekRows,
    calendar: Calendar,
    roster: Sequence[Person] = (),
    titles: Mapping[str, str] | None = None,
) -> WeekStats:
    """One week's statistics from its rows (see the module docstring for every definition)."""
    from dastbot.store import iso, parse_iso

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
    backlog = 0
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
        if state == "resolved":
            counts["resolved"] += 1
        if state in OPEN_AT_END:
            counts["open"] += 1
        if bot and feedback == "helped":
            outcome = "bot_helped"
        elif human:
            outcome = "shifters"
        elif bot and feedback is None:
            outcome = "bot_no_feedback"  # open, or closed for lack of feedback
        elif state == "resolved":
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
        coverage=_coverage(rows, calendar, roster),
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
    from dastbot.store import iso, parse_iso

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


def _coverage(rows: WeekRows, calendar: Calendar, roster: Sequence[Person]) -> Coverage:
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
                credit=shifter_slots[p] * credit("shifter") + trainee_slots[p] * credit("trainee"),
                threads=len(threads.get(p, ())),
            )
            for p in sorted(people, key=lambda p: (p == OTHERS, p))
        ),
    )


def build_report(
    store: Store,
    week: str,
    calendar: Calendar,
    roster: Sequence[Person] = (),
    titles: Mapping[str, str] | None = None,
) -> WeekReport:
    """The report for ``week`` (``YYYY-Www``; WeekError otherwise) from ``store``."""
    label = week_label(week_monday(week))
    before = previous_week(label)
    rows = load_rows(store, label, calendar)
    this = week_stats(rows, calendar, roster, titles)
    previous = week_stats(load_rows(store, before, calendar), calendar, roster, titles)
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


# --- formatting helpers ----------------------------------------------------------------------


def duration(minutes: float | None) -> str:
    """``14 min``, ``3.5 h`` or ``2.1 d``; ``n/a`` for None."""
    if minutes is None:
        return "n/a"
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _sign(value: float, text: str) -> str:
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"-{text}"
    return "±0"


def with_delta(this: float, previous: float) -> str:
    """``42 (+5)``; floats with one decimal (shift credit)."""
    diff = this - previous
    if isinstance(this, int) and isinstance(previous, int):
        return f"{this} ({_sign(diff, str(abs(diff)))})"
    return f"{this:g} ({_sign(diff, f'{abs(diff):g}')})"


def duration_delta(this: float | None, previous: float | None) -> str:
    """``14 min (-3 min)``; no bracket when either week has no value."""
    if this is None or previous is None:
        return duration(this)
    diff = this - previous
    return f"{duration(this)} ({_sign(round(diff, 6), duration(abs(diff)))})"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """The report's tables: first column left, numbers right, one list item per line."""
    return table(header, rows, align or "l" + "r" * (len(header) - 1)).split("\n")


STATUS_MARK = {"staffed": "✅", "trainee-only": "🟡", "empty": "❌", "off": "·"}
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def to_markdown(report: WeekReport) -> str:
    """The Mattermost post: compact tables, this week's numbers with the change in brackets."""
    t, p = report.this, report.previous
    monday = week_monday(report.week)
    sunday = monday + timedelta(days=6)
    lines = [
        f"#### DAST weekly report {report.week}: {monday:%a %-d %b} to {sunday:%a %-d %b %Y}",
        f"_In brackets: change from {p.week}. Days in {report.timezone}._",
        "",
    ]
    q, pq = t.questions, p.questions
    lines += _table(
        ("Questions", report.week),
        [
            ("asked", with_delta(q.asked, pq.asked)),
            ("answered by the bot", with_delta(q.bot_answered, pq.bot_answered)),
            ("↳ confirmed helpful", with_delta(q.bot_helped, pq.bot_helped)),
            ("↳ not helpful", with_delta(q.bot_not_helped, pq.bot_not_helped)),
            ("handled by shifters", with_delta(q.handled_by_shifters, pq.handled_by_shifters)),
            ("still open at the week's end", with_delta(q.open_at_end, pq.open_at_end)),
            ("all open at the week's end", with_delta(q.backlog_at_end, pq.backlog_at_end)),
        ],
    )
    lines.append("")
    r, pr = t.first_response, p.first_response
    lines += _table(
        ("First human response", "replies", "median", "p90"),
        [
            (
                "asked on duty (staffed time)",
                with_delta(r.on_duty.count, pr.on_duty.count),
                duration_delta(r.on_duty.median_minutes, pr.on_duty.median_minutes),
                duration_delta(r.on_duty.p90_minutes, pr.on_duty.p90_minutes),
            ),
            (
                "asked off duty (wall clock)",
                with_delta(r.off_duty.count, pr.off_duty.count),
                duration_delta(r.off_duty.median_minutes, pr.off_duty.median_minutes),
                duration_delta(r.off_duty.p90_minutes, pr.off_duty.p90_minutes),
            ),
        ],
    )
    lines.append("")
    es, pes = t.escalations, p.escalations
    head = (
        f"**Escalations:** {with_delta(es.opened, pes.opened)} opened, "
        f"{with_delta(es.replied, pes.replied)} replied, "
        f"{with_delta(es.overdue, pes.overdue)} overdue; "
        f"{es.open_at_end} open at the week's end ({es.awaiting_at_end} awaiting a reply)."
    )
    if es.oldest_open is not None:
        o = es.oldest_open
        status = "replied" if o.replied else "awaiting a reply"
        status += ", past its deadline" if o.overdue else ""
        head += f" Oldest: {o.id} to {o.target}, {duration(o.age_hours * 60)} ({status})."
    lines.append(head)
    if es.by_target:
        lines += _table(
            ("target", "opened", "replied", "overdue", "open", "median reply", "oldest open"),
            [
                (
                    x.target,
                    x.opened,
                    x.replied,
                    x.overdue,
                    f"{x.open_at_end} ({x.awaiting_at_end} awaiting)" if x.open_at_end else "0",
                    duration(x.median_reply_hours * 60 if x.median_reply_hours else None),
                    duration(x.oldest_open_hours * 60 if x.oldest_open_hours else None),
                )
                for x in es.by_target
            ],
        )
    lines.append("")
    c, pc = t.coverage, p.coverage
    per_slot = ", ".join(f"{b.slot} {b.staffed}/{b.slots}" for b in c.by_slot)
    lines.append(
        f"**Coverage:** {with_delta(c.staffed, pc.staffed)} of {c.slots} slots staffed "
        f"({per_slot}); {c.trainee_only} trainee-only, {c.empty} empty."
    )
    if c.people:
        lines += _table(
            ("person", "shifts", "as trainee", "credit", "threads handled"),
            [
                (x.user, x.shifter_slots, x.trainee_slots, f"{x.credit:g}", x.threads)
                for x in c.people
            ],
        )
    lines.append("")
    lines += _md_next_weeks(report)
    lines.append("")
    g, pg = t.knowledge_gaps, p.knowledge_gaps
    lines.append(
        f"**Knowledge gaps:** the bot could not answer {with_delta(g.abstained, pg.abstained)} "
        "questions."
    )
    if g.clusters:
        lines += _table(
            ("most asked without an answer", "times"),
            [(one_line(x.text), x.count) for x in g.clusters],
        )
    if g.unhelpful:
        lines.append("")
        lines += _table(
            ("answers that did not help", "not helpful", "of answers"),
            [
                (f"`{x.entry_id}`" + (f" {one_line(x.title, 50)}" if x.title else ""),
                 x.not_helped, x.answered)
                for x in g.unhelpful
            ],
        )  # fmt: skip
    return "\n".join(_blank_before_tables(lines)).rstrip() + "\n"


def _blank_before_tables(lines: list[str]) -> list[str]:
    """Markdown tables need an empty line before them to render after a paragraph."""
    out: list[str] = []
    for line in lines:
        if line.startswith("|") and out and out[-1].strip() and not out[-1].startswith("|"):
            out.append("")
        out.append(line)
    return out


def _md_next_weeks(report: WeekReport) -> list[str]:
    days = list(report.weekdays)
    header = ["next weeks", "slot", *(_WEEKDAY_NAMES[d] for d in days)]
    rows: list[list[str]] = []
    by_week: dict[str, dict[int, Mapping[str, SlotStatus]]] = {}
    for day, statuses in report.next_weeks:
        by_week.setdefault(week_label(day), {})[day.weekday()] = statuses
    for week, week_days in by_week.items():
        for i, slot in enumerate(report.slot_names):
            cells = [STATUS_MARK[week_days[d][slot]] if d in week_days else "" for d in days]
            rows.append([week.split("-")[1] if i == 0 else "", slot, *cells])
    legend = "_✅ staffed · 🟡 trainee only · ❌ empty · · no shift (holiday)_"
    return [*_table(header, rows, "ll" + "c" * len(days)), legend]


# --- JSON and CSV ----------------------------------------------------------------------------


def _week_json(w: WeekStats) -> dict[str, Any]:
    q, r, es, c, g = w.questions, w.first_response, w.escalations, w.coverage, w.knowledge_gaps

    def times(x: ResponseTimes) -> dict[str, Any]:
        return {"count": x.count, "median_minutes": x.median_minutes, "p90_minutes": x.p90_minutes}

    oldest = es.oldest_open
    return {
        "week": w.week,
        "start": iso_z(w.start),
        "end": iso_z(w.end),
        "questions": {
            "asked": q.asked,
            "bot_answered": q.bot_answered,
            "bot_helped": q.bot_helped,
            "bot_not_helped": q.bot_not_helped,
            "bot_no_feedback": q.bot_no_feedback,
            "abstained": q.abstained,
            "handled_by_shifters": q.handled_by_shifters,
            "resolved_at_end": q.resolved_at_end,
            "open_at_end": q.open_at_end,
            "backlog_at_end": q.backlog_at_end,
            "outcomes": {o: q.outcomes.get(o, 0) for o in OUTCOMES},
        },
        "daily": [
            {"day": d.day.isoformat(), **{o: d.counts.get(o, 0) for o in OUTCOMES}} for d in w.daily
        ],
        "first_response": {"on_duty": times(r.on_duty), "off_duty": times(r.off_duty)},
        "escalations": {
            "opened": es.opened,
            "replied": es.replied,
            "overdue": es.overdue,
            "open_at_end": es.open_at_end,
            "awaiting_at_end": es.awaiting_at_end,
            "by_target": [
                {
                    "target": x.target,
                    "opened": x.opened,
                    "replied": x.replied,
                    "overdue": x.overdue,
                    "open_at_end": x.open_at_end,
                    "awaiting_at_end": x.awaiting_at_end,
                    "median_reply_hours": x.median_reply_hours,
                    "oldest_open_hours": x.oldest_open_hours,
                }
                for x in es.by_target
            ],
            "oldest_open": None
            if oldest is None
            else {
                "id": oldest.id,
                "target": oldest.target,
                "thread_id": oldest.thread_id,
                "opened_at": iso_z(oldest.opened_at),
                "age_hours": oldest.age_hours,
                "replied": oldest.replied,
                "overdue": oldest.overdue,
            },
        },
        "coverage": {
            "slots": c.slots,
            "staffed": c.staffed,
            "trainee_only": c.trainee_only,
            "empty": c.empty,
            "by_slot": [
                {
                    "slot": b.slot,
                    "slots": b.slots,
                    "staffed": b.staffed,
                    "trainee_only": b.trainee_only,
                    "empty": b.empty,
                }
                for b in c.by_slot
            ],
            "days": [{"day": d.isoformat(), "slots": dict(s)} for d, s in c.days],
            "people": [
                {
                    "user": x.user,
                    "shifter_slots": x.shifter_slots,
                    "trainee_slots": x.trainee_slots,
                    "credit": x.credit,
                    "threads": x.threads,
                }
                for x in c.people
            ],
        },
        "knowledge_gaps": {
            "abstained": g.abstained,
            "clusters": [
                {"text": x.text, "count": x.count, "thread_ids": list(x.thread_ids)}
                for x in g.clusters
            ],
            "unhelpful_entries": [
                {
                    "entry_id": x.entry_id,
                    "title": x.title,
                    "not_helped": x.not_helped,
                    "answered": x.answered,
                }
                for x in g.unhelpful
            ],
        },
    }


def to_json(report: WeekReport) -> dict[str, Any]:
    """The report as JSON-ready data; keys are stable (a change bumps ``schema``).

    Top level: ``schema`` ("dastbot.weekly-report/1"), ``week`` and ``previous_week``
    (``YYYY-Www``), ``timezone``, ``slots`` (slot names in day order), ``this_week`` and
    ``previous_week_stats`` (the same shape, below), ``next_weeks`` (``[{day, slots: {slot:
    staffed|trainee-only|empty|off}}]`` for the 28 days after the week).

    A week: ``week``, ``start``/``end`` (UTC, ``...Z``); ``questions`` {asked, bot_answered,
    bot_helped, bot_not_helped, bot_no_feedback, abstained, handled_by_shifters, resolved_at_end,
    open_at_end, backlog_at_end, outcomes {bot_helped, shifters, resolved_otherwise,
    bot_no_feedback, waiting}}; ``daily`` [{day, <outcome>: n}]; ``first_response`` {on_duty,
    off_duty: {count, median_minutes, p90_minutes}} (null medians when no reply);
    ``escalations`` {opened, replied, overdue, open_at_end, awaiting_at_end, by_target [{target,
    opened, replied, overdue, open_at_end, awaiting_at_end, median_reply_hours,
    oldest_open_hours}], oldest_open {id, target, thread_id, opened_at, age_hours, replied,
    overdue} | null}; ``coverage`` {slots, staffed, trainee_only, empty, by_slot [{slot, slots,
    staffed, trainee_only, empty}], days [{day, slots}], people [{user, shifter_slots,
    trainee_slots, credit, threads}]}; ``knowledge_gaps`` {abstained, clusters [{text, count,
    thread_ids}], unhelpful_entries [{entry_id, title, not_helped, answered}]}.
    """
    return {
        "schema": SCHEMA,
        "week": report.week,
        "previous_week": report.previous.week,
        "timezone": report.timezone,
        "slots": list(report.slot_names),
        "this_week": _week_json(report.this),
        "previous_week_stats": _week_json(report.previous),
        "next_weeks": [{"day": d.isoformat(), "slots": dict(s)} for d, s in report.next_weeks],
    }


def _csv_value(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def csv_rows(report: WeekReport) -> Iterator[tuple[str, str, str, str]]:
    """(section, metric, this_week, previous_week) for every metric of the report."""
    t, p = report.this, report.previous

    def both(
        section: str, metric: str, a: float | None, b: float | None
    ) -> tuple[str, str, str, str]:
        return section, metric, _csv_value(a), _csv_value(b)

    for name in (
        "asked",
        "bot_answered",
        "bot_helped",
        "bot_not_helped",
        "bot_no_feedback",
        "abstained",
        "handled_by_shifters",
        "resolved_at_end",
        "open_at_end",
        "backlog_at_end",
    ):
        yield both("questions", name, getattr(t.questions, name), getattr(p.questions, name))
    for outcome in OUTCOMES:
        yield both(
            "outcomes",
            outcome,
            t.questions.outcomes.get(outcome, 0),
            p.questions.outcomes.get(outcome, 0),
        )
    for kind in ("on_duty", "off_duty"):
        a, b = getattr(t.first_response, kind), getattr(p.first_response, kind)
        yield both("first_response", f"{kind}_count", a.count, b.count)
        yield both("first_response", f"{kind}_median_minutes", a.median_minutes, b.median_minutes)
        yield both("first_response", f"{kind}_p90_minutes", a.p90_minutes, b.p90_minutes)
    for name in ("opened", "replied", "overdue", "open_at_end", "awaiting_at_end"):
        yield both("escalations", name, getattr(t.escalations, name), getattr(p.escalations, name))
    ta = {x.target: x for x in t.escalations.by_target}
    pa = {x.target: x for x in p.escalations.by_target}
    for target in sorted(set(ta) | set(pa)):
        for name in ("opened", "replied", "overdue", "open_at_end", "oldest_open_hours"):
            yield both(
                "escalations",
                f"{target}.{name}",
                getattr(ta[target], name) if target in ta else 0,
                getattr(pa[target], name) if target in pa else 0,
            )
    for name in ("slots", "staffed", "trainee_only", "empty"):
        yield both("coverage", name, getattr(t.coverage, name), getattr(p.coverage, name))
    ts = {x.slot: x for x in t.coverage.by_slot}
    ps = {x.slot: x for x in p.coverage.by_slot}
    for slot in report.slot_names:
        yield both(
            "coverage",
            f"{slot}.staffed",
            ts[slot].staffed if slot in ts else 0,
            ps[slot].staffed if slot in ps else 0,
        )
    tp = {x.user: x for x in t.coverage.people}
    pp = {x.user: x for x in p.coverage.people}
    for user in sorted(set(tp) | set(pp)):
        for name in ("credit", "threads"):
            yield both(
                "people",
                f"{user}.{name}",
                getattr(tp[user], name) if user in tp else 0,
                getattr(pp[user], name) if user in pp else 0,
            )
    next_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for day, statuses in report.next_weeks:
        for slot, status in statuses.items():
            if status != "off":
                next_counts[(week_label(day), slot)][status] += 1
    for (week, slot), tally in sorted(next_counts.items()):
        yield both("next_weeks", f"{week}.{slot}.staffed", tally["staffed"], None)
        yield both("next_weeks", f"{week}.{slot}.slots", sum(tally.values()), None)
    yield both(
        "knowledge_gaps",
        "abstained",
        t.knowledge_gaps.abstained,
        p.knowledge_gaps.abstained,
    )
    for x in t.knowledge_gaps.unhelpful:
        yield both("knowledge_gaps", f"{x.entry_id}.not_helped", x.not_helped, None)


def to_csv(report: WeekReport) -> str:
    """CSV with a header row ``section,metric,this_week,previous_week``; empty when unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "metric", "this_week", "previous_week"))
    writer.writerows(csv_rows(report))
    return out.getvalue()


# --- the chart -------------------------------------------------------------------------------

OUTCOME_COLOURS = {
    "bot_helped": "#2e7d32",
    "bot_no_feedback": "#a5d6a7",
    "shifters": "#1565c0",
    "resolved_otherwise": "#9e9e9e",
    "waiting": "#e65100",
}
STATUS_COLOURS = {
    "staffed": "#43a047",
    "trainee-only": "#fdd835",
    "empty": "#e53935",
    "off": "#eeeeee",
}
CHART_SIZE = (8.0, 5.6)
CHART_DPI = 100


def chart_png(report: WeekReport) -> bytes:
    """Two panels: the week's questions per day by outcome (stacked bars) and the coverage of
    the next four weeks (slots x days). 800 x 560 px, deterministic bytes (no timestamps)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    FigureCanvasAgg(figure)  # headless: the Agg canvas, set here rather than through pyplot
    bars, grid = figure.subplots(2, 1, height_ratios=(3, 1.25))
    figure.subplots_adjust(left=0.07, right=0.75, top=0.93, bottom=0.1, hspace=0.55)

    days = report.this.daily
    labels = [f"{d.day:%a}\n{d.day:%-d %b}" for d in days]
    positions = list(range(len(days)))
    bottom = [0] * len(days)
    order = ("bot_helped", "bot_no_feedback", "shifters", "resolved_otherwise", "waiting")
    for outcome in order:
        heights = [d.counts.get(outcome, 0) for d in days]
        bars.bar(
            positions,
            heights,
            bottom=bottom,
            color=OUTCOME_COLOURS[outcome],
            label=OUTCOME_LABELS[outcome],
            width=0.7,
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for x, total in zip(positions, bottom, strict=True):
        if total:
            bars.text(x, total, str(total), ha="center", va="bottom", fontsize=8)
    bars.set_xticks(positions, labels, fontsize=8)
    bars.tick_params(axis="y", labelsize=8)
    bars.yaxis.set_major_locator(MaxNLocator(integer=True))
    bars.set_ylim(0, max([*bottom, 1]) * 1.15)
    bars.set_ylabel("questions", fontsize=9)
    bars.set_title(
        f"Questions per day, {report.week} ({report.this.questions.asked} asked)", fontsize=10
    )
    bars.spines[["top", "right"]].set_visible(False)
    bars.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

    statuses = ("staffed", "trainee-only", "empty", "off")
    colours = ListedColormap([STATUS_COLOURS[s] for s in statuses])
    cells = [
        [statuses.index(dict(row)[slot]) for _, row in report.next_weeks]
        for slot in report.slot_names
    ]
    grid.imshow(cells, cmap=colours, vmin=-0.5, vmax=len(statuses) - 0.5, aspect="auto")
    grid.set_yticks(range(len(report.slot_names)), report.slot_names, fontsize=8)
    mondays = [i for i, (day, _) in enumerate(report.next_weeks) if day.weekday() == 0]
    grid.set_xticks(mondays, [f"{report.next_weeks[i][0]:%a %-d %b}" for i in mondays], fontsize=8)
    grid.set_xticks([i + 0.5 for i in range(len(report.next_weeks))], minor=True)
    grid.set_yticks([i + 0.5 for i in range(len(report.slot_names))], minor=True)
    grid.grid(which="minor", color="white", linewidth=1.5)
    grid.tick_params(which="minor", length=0)
    for i in mondays[1:]:
        grid.axvline(i - 0.5, color="#424242", linewidth=1.5)
    first, last = report.next_weeks[0][0], report.next_weeks[-1][0]
    grid.set_title(f"Shift coverage, next 4 weeks ({first:%-d %b} to {last:%-d %b})", fontsize=10)
    names = {"trainee-only": "trainee only", "off": "off (weekend, holiday)"}
    grid.legend(
        handles=[Patch(color=STATUS_COLOURS[s], label=names.get(s, s)) for s in statuses],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.15),
        fontsize=8,
        frameon=False,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()
