"""Who staffs the calendar: who is on duty at an instant, staffed-time arithmetic for the no-reply
rule, coverage gaps and the coverage grid, and slot boundaries (handover times).

Pure functions over a ``Calendar``, the assignments of the schedule and the roster; instants are
timezone-aware and returned in UTC. Rules decided here:

* A slot is *staffed* when its assignment names a 1st-level shifter; a trainee alone does not staff
  a slot (it is a coverage gap, shown as "trainee-only" in the grid).
* ``on_duty`` reports the slot in force even when nobody staffs it (``slot`` set, ``shifter``
  null); ``slot`` is null only outside every slot (nights, non-working days).
* Time outside staffed slots does not count towards the no-reply deadlines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import Person
from dastbot.shifts.calendar import (
    HORIZON_DAYS,
    Calendar,
    SlotInstance,
    Staffed,
    as_utc,
    iso_z,
    local_days,
    staffed_by,
)
from dastbot.shifts.roster import coordinator_for

SlotStatus = Literal["staffed", "trainee-only", "empty", "off"]
BoundaryKind = Literal["start", "end"]


# --- who is on duty --------------------------------------------------------------------------


@dataclass(frozen=True)
class OnDuty:
    """Who answers at ``at``; see ``on_duty`` for the rules."""

    at: datetime
    slot: str | None
    shifter: str | None
    trainee: str | None
    coordinator: str | None
    next_slot_start: datetime | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "at": iso_z(self.at),
            "slot": self.slot,
            "shifter": self.shifter,
            "trainee": self.trainee,
            "coordinator": self.coordinator,
            "next_slot_start": iso_z(self.next_slot_start) if self.next_slot_start else None,
        }


def on_duty(
    calendar: Calendar,
    assignments: Mapping[tuple[date, str], Assignment],
    roster: Sequence[Person],
    at: datetime,
) -> OnDuty:
    """Who is on duty at ``at``.

    * ``slot``: the slot in force at ``at`` even when unstaffed (then ``shifter`` is null); null
      outside every slot (nights, weekends, holidays, closures).
    * ``shifter``/``trainee``: from the slot's assignment.
    * ``coordinator``: the coordinator of the zone of the slot in force; off duty, of the zone of
      the next staffed slot (else of the next slot at all); null when the zone has none.
    * ``next_slot_start``: the start of the next staffed slot strictly after ``at`` (inside a
      staffed slot this is the one after it); null when none within ``HORIZON_DAYS``.
    """
    at = as_utc(at)
    staffed = staffed_by(assignments)
    current = calendar.slot_at(at)
    upcoming = calendar.next_slot_start(at, staffed)
    assignment = assignments.get(current.key) if current is not None else None
    zone_slot = current or upcoming or calendar.next_slot_start(at)
    return OnDuty(
        at=at,
        slot=current.name if current is not None else None,
        shifter=assignment.shifter if assignment is not None else None,
        trainee=assignment.trainee if assignment is not None else None,
        coordinator=coordinator_for(roster, zone_slot.zone) if zone_slot is not None else None,
        next_slot_start=upcoming.start if upcoming is not None else None,
    )


# --- staffed time ----------------------------------------------------------------------------


def staffed_minutes_between(
    calendar: Calendar, staffed: Staffed, start: datetime, end: datetime
) -> float:
    """Minutes of staffed slot time inside ``[start, end)``."""
    start, end = as_utc(start), as_utc(end)
    total = timedelta(0)
    for slot in calendar.slots_between(start, end):
        if staffed(slot):
            total += min(slot.end, end) - max(slot.start, start)
    return total / timedelta(minutes=1)


def add_staffed_minutes(
    calendar: Calendar,
    staffed: Staffed,
    start: datetime,
    minutes: float,
    horizon_days: int = HORIZON_DAYS,
) -> datetime | None:
    """The instant when ``minutes`` of staffed time have elapsed after ``start``.

    Time outside staffed slots does not count; ``minutes == 0`` gives the first staffed instant at
    or after ``start``. None when the next ``horizon_days`` do not hold enough staffed time.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    start = as_utc(start)
    remaining = timedelta(minutes=minutes)
    for slot in calendar.iter_slots(start, calendar.add_local_days(start, horizon_days)):
        if not staffed(slot):
            continue
        begin = max(slot.start, start)
        if remaining <= slot.end - begin:
            return begin + remaining
        remaining -= slot.end - begin
    return None


def no_reply_due(
    calendar: Calendar, staffed: Staffed, asked: datetime
) -> tuple[datetime | None, datetime | None]:
    """(re-ping the shifter, escalate to the coordinator) for a question asked at ``asked``.

    The re-ping is due after ``no_reply_minutes`` of staffed time, the escalation after the same
    again (twice that from ``asked``).
    """
    minutes = calendar.settings.no_reply_minutes
    return (
        add_staffed_minutes(calendar, staffed, asked, minutes),
        add_staffed_minutes(calendar, staffed, asked, 2 * minutes),
    )


# --- coverage --------------------------------------------------------------------------------


def coverage_gaps(
    calendar: Calendar,
    assignments: Mapping[tuple[date, str], Assignment],
    start: datetime,
    days: int = 14,
) -> list[SlotInstance]:
    """Slots without a 1st-level shifter overlapping ``days`` local days from ``start``."""
    staffed = staffed_by(assignments)
    end = calendar.add_local_days(start, days)
    return [slot for slot in calendar.slots_between(start, end) if not staffed(slot)]


def coverage_grid(
    calendar: Calendar,
    assignments: Mapping[tuple[date, str], Assignment],
    start_day: date,
    days: int,
) -> list[tuple[date, dict[str, SlotStatus]]]:
    """Per local day, each configured slot's status: staffed, trainee-only, empty or off."""
    grid: list[tuple[date, dict[str, SlotStatus]]] = []
    for day in local_days(start_day, start_day + timedelta(days=days - 1)):
        present = {slot.name for slot in calendar.slots_on(day)}
        row: dict[str, SlotStatus] = {}
        for name in calendar.slot_names:
            assignment = assignments.get((day, name))
            if name not in present:
                row[name] = "off"
            elif assignment is not None and assignment.shifter is not None:
                row[name] = "staffed"
            elif assignment is not None and assignment.trainee is not None:
                row[name] = "trainee-only"
            else:
                row[name] = "empty"
        grid.append((day, row))
    return grid


# --- handover times --------------------------------------------------------------------------


def slot_boundaries(
    calendar: Calendar, after: datetime, until: datetime
) -> list[tuple[datetime, BoundaryKind, SlotInstance]]:
    """Slot starts and ends in ``(after, until]``, in time order; at one instant ends come first."""
    after, until = as_utc(after), as_utc(until)
    found: list[tuple[datetime, BoundaryKind, SlotInstance]] = []
    for day in local_days(calendar.local_day(after) - timedelta(days=1), calendar.local_day(until)):
        for slot in calendar.slots_on(day):
            if after < slot.start <= until:
                found.append((slot.start, "start", slot))
            if after < slot.end <= until:
                found.append((slot.end, "end", slot))
    found.sort(key=lambda b: (b[0], b[1] == "start"))
    return found


def next_boundary(
    calendar: Calendar, after: datetime, horizon_days: int = HORIZON_DAYS
) -> datetime | None:
    """The first slot start or end strictly after ``after``, within ``horizon_days``."""
    after = as_utc(after)
    first = calendar.local_day(after)
    for day in local_days(first, first + timedelta(days=horizon_days)):
        for slot in calendar.slots_on(day):
            for instant in (slot.start, slot.end):
                if instant > after:
                    return instant
    return None
