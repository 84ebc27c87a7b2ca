"""The weekly report's values: what one week's statistics hold (``WeekStats`` and its parts),
the report of a week against the one before (``WeekReport``), and what they are computed from
(``WeekRows``). Immutable; ``dastbot.report.stats`` computes them, the renderers read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dastbot.answering.gaps import GapCluster
from dastbot.kernel.models import Assignment
from dastbot.shifts.staffing import SlotStatus

OTHERS = "(not on the roster)"
"""Who handled threads without being on the roster, as one line of the load table."""
OUTCOMES = ("bot_helped", "shifters", "resolved_otherwise", "bot_no_feedback", "waiting")
"""A question of the week has exactly one outcome, the first that applies."""
OUTCOME_LABELS = {
    "bot_helped": "bot answer helped",
    "shifters": "handled by shifters",
    "resolved_otherwise": "resolved without a reply",
    "bot_no_feedback": "bot answer, no feedback",
    "waiting": "waiting for a person",
}


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


@dataclass(frozen=True)
class WeekRows:
    """What one week's statistics are computed from (``stats.load_rows`` reads it from a store).

    ``questions``: question rows asked in the week, and those asked before it, not resolved by
    ``end`` and changed since (the backlog whose state at ``end`` is replayed); ``events``: their
    events before ``end`` of the kinds that move a question or show a person's help
    (``stats.THREAD_KINDS``), each with ``data`` decoded, ordered by time; ``responses``:
    question rows whose ``first_human_at`` is in the week, with ``needed_at`` (the first
    ``needs_human`` event, or None); ``escalations``: escalation rows opened before ``end`` and
    not closed before the week; ``deadlines``: escalation id -> first ``escalation_deadline``
    before ``end``; ``handling``: (actor, thread) of every ``human_reply`` and ``take`` in the
    week; ``assignments``: the schedule from the earliest response clock to four weeks after
    ``end``; ``backlog_unchanged``: the backlog asked before the week and unchanged since before
    ``end`` (counted, not read: its stored state is its state at ``end``).
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
    backlog_unchanged: int = 0
