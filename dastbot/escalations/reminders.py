"""The reminder decision: when an open escalation's reminders and deadline fall due, and what the
bot owes the target (or DAST) at a given instant.

This module owns ``Schedule`` / ``schedule``, ``due_actions`` -> ``Reminder`` or
``DeadlinePassed`` (together ``Action``), ``next_due`` for the scheduler and ``check_target``.
It is pure: no I/O, no wall clock (every decision takes ``now``). Instants must be
timezone-aware; they are returned in UTC.

The schedule (GGUS "waiting for reply" style, counted in the target's working hours): reminder
*n* is due ``policy.reminder_offsets()[n-1]`` working hours after ``opened_at`` and the deadline
``policy.deadline_hours`` after it. Rules decided here:

* Due times come from ``opened_at``, never from when the previous reminder was actually sent, so a
  bot outage does not shift the schedule.
* When several reminders fell due while the bot was down, ``due_actions`` returns one
  ``Reminder`` carrying the number of the latest one owed (one post, not a burst; the number tells
  the target how long they have been waiting); recording it (``lifecycle``) skips the missed ones.
* Reminders are posted only while the target is at work (due times are working instants by
  construction; a reminder owed at a restart on Saturday waits for Monday's opening).
* Once the deadline has passed no more reminders are sent; ``DeadlinePassed`` is returned once
  (until ``deadline_notified``) whatever the hour, because it goes to DAST, not to the target.
* Only ``open`` escalations have due actions: a reply stops the reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from dastbot.escalations.contacts import Target
from dastbot.escalations.workhours import (
    add_working_hours,
    is_working_time,
    next_opening,
    working_hours_between,
)
from dastbot.kernel.models import Escalation, as_utc

__all__ = [
    "Action",
    "DeadlinePassed",
    "Reminder",
    "Schedule",
    "check_target",
    "due_actions",
    "next_due",
    "schedule",
]


@dataclass(frozen=True)
class Reminder:
    """Post reminder ``number`` (1-based) for an escalation; ``due_at`` is its scheduled time."""

    escalation_id: str
    number: int
    due_at: datetime


@dataclass(frozen=True)
class DeadlinePassed:
    """The target did not reply by the deadline (``due_at``); tell DAST, once."""

    escalation_id: str
    due_at: datetime
    age_working_hours: float


Action = Reminder | DeadlinePassed


@dataclass(frozen=True)
class Schedule:
    """When an escalation's reminders and deadline fall due (UTC, working instants)."""

    reminders: tuple[datetime, ...]
    deadline: datetime


def schedule(target: Target, opened_at: datetime) -> Schedule:
    """The reminder and deadline instants of an escalation to ``target`` opened at ``opened_at``
    (computed once per target and opening: the sweep asks for every open escalation's)."""
    return _schedule(target, as_utc(opened_at, "opened_at"))


@lru_cache(maxsize=4096)
def _schedule(target: Target, opened_at: datetime) -> Schedule:
    wh = target.working_hours
    return Schedule(
        reminders=tuple(
            add_working_hours(wh, opened_at, hours) for hours in target.policy.reminder_offsets()
        ),
        deadline=add_working_hours(wh, opened_at, target.policy.deadline_hours),
    )


def check_target(esc: Escalation, target: Target) -> None:
    """``ValueError`` unless ``esc`` is an escalation to ``target``."""
    if esc.target_id != target.id:
        raise ValueError(f"escalation {esc.id!r} is for {esc.target_id!r}, not {target.id!r}")


def due_actions(esc: Escalation, target: Target, now: datetime) -> list[Action]:
    """What to post for ``esc`` at ``now``: nothing, one ``Reminder`` or one ``DeadlinePassed``.

    See the module rules: only open escalations; the latest owed reminder only, inside the
    target's working hours and before the deadline; the deadline once.
    """
    check_target(esc, target)
    now = as_utc(now, "now")
    if esc.state != "open":
        return []
    plan = schedule(target, esc.opened_at)
    wh = target.working_hours
    if now >= plan.deadline:
        if esc.deadline_notified:
            return []
        age = working_hours_between(wh, esc.opened_at, now)
        return [DeadlinePassed(esc.id, plan.deadline, age)]
    owed = sum(1 for due in plan.reminders if due <= now)
    if owed > esc.reminders_sent and is_working_time(wh, now):
        return [Reminder(esc.id, owed, plan.reminders[owed - 1])]
    return []


def next_due(esc: Escalation, target: Target, now: datetime | None = None) -> datetime | None:
    """The next instant at which ``due_actions`` has something for ``esc``; None if never.

    Without ``now`` this is the scheduled time of the next unsent reminder or of the deadline
    (possibly in the past). With ``now`` it is the earliest ``t >= now`` such that
    ``due_actions(esc, target, t)`` is not empty: ``now`` itself when something is owed already,
    the next opening when a reminder is owed outside working hours.
    """
    check_target(esc, target)
    if esc.state != "open":
        return None
    when = as_utc(now, "now") if now is not None else None
    plan = schedule(target, esc.opened_at)
    candidates: list[datetime] = []
    if esc.reminders_sent < len(plan.reminders):
        due = plan.reminders[esc.reminders_sent]
        if when is not None:
            due = max(due, next_opening(target.working_hours, when))
        if due < plan.deadline:
            candidates.append(due)
    if not esc.deadline_notified:
        candidates.append(plan.deadline if when is None else max(plan.deadline, when))
    return min(candidates) if candidates else None
