"""The shift rota: who is on duty when, in staffed time, and the schedule file.

This module owns the DAST shift calendar and is pure: no I/O, no database, no wall clock. Every
function takes the instants it needs; instants are timezone-aware and are returned in UTC.

* Configuration models: ``SlotSpec``, ``ShiftSettings`` (the ``shifts:`` section) and ``Person``
  (one ``roster:`` entry).
* ``Calendar``: working days (weekdays minus public holidays of the configured country and
  subdivision minus closures) and the slot instances on them, computed in the configured zone so
  that 08:00 local stays 08:00 local across daylight-saving changes.
* Who is on duty (``on_duty`` -> ``OnDuty``), staffed-time arithmetic for the no-reply rule
  (``staffed_minutes_between``, ``add_staffed_minutes``, ``no_reply_due``), coverage
  (``coverage_gaps``, ``coverage_grid``), handover times (``slot_boundaries``, ``next_boundary``).
* The schedule file (``parse_schedule``, ``schedule_yaml``) and its iCalendar feed
  (``schedule_ics``), roles (``role_of``) and shift credit (``credit``).

Rules decided here:

* A slot is *staffed* when its assignment names a 1st-level shifter; a trainee alone does not staff
  a slot (it is a coverage gap, shown as "trainee-only" in the grid).
* ``on_duty`` reports the slot in force even when nobody staffs it (``slot`` set, ``shifter``
  null); ``slot`` is null only outside every slot (nights, non-working days).
* JSON instants are UTC, second precision, with a ``Z`` suffix: ``2026-03-30T06:00:00Z``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import holidays
import icalendar
import yaml

from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import WEEKDAYS, Person, ShiftSettings, SlotSpec, normalise_username
from dastbot.kernel.yamlsource import YamlSyntaxError, parse

CREDIT = {"shifter": 1.0, "trainee": 0.5}
HORIZON_DAYS = 60
"""How far ahead searches for a next slot or for enough staffed time look."""

SlotStatus = Literal["staffed", "trainee-only", "empty", "off"]
BoundaryKind = Literal["start", "end"]
Staffed = Callable[["SlotInstance"], bool]

def roster_problems(roster: Sequence[Person], settings: ShiftSettings) -> list[str]:
    """Inconsistencies between the roster and the slots: duplicate users, unknown zones."""
    problems: list[str] = []
    zones = {slot.zone for slot in settings.slots}
    seen: set[str] = set()
    for i, person in enumerate(roster):
        if person.user in seen:
            problems.append(f"roster.{i}: {person.user} is listed twice")
        seen.add(person.user)
        if person.zone not in zones:
            problems.append(
                f"roster.{i}: {person.user}: zone {person.zone!r} is not the zone of any slot "
                f"({', '.join(sorted(zones))})"
            )
    for zone in sorted(zones):
        if coordinator_for(roster, zone) is None:
            problems.append(f"roster: zone {zone} has no coordinator")
    return problems


# --- the calendar ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotInstance:
    """One slot on one local day; ``start``/``end`` are UTC instants, ``end`` exclusive."""

    name: str
    zone: str
    day: date
    start: datetime
    end: datetime

    @property
    def key(self) -> tuple[date, str]:
        return (self.day, self.name)

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} is not timezone-aware")
    return instant.astimezone(UTC)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


class Calendar:
    """Working days and slot instances of a ``ShiftSettings``."""

    def __init__(self, settings: ShiftSettings | None = None) -> None:
        self.settings = settings or ShiftSettings()
        self.zone = self.settings.zone
        self.slot_specs: dict[str, SlotSpec] = {
            slot.name: slot for slot in sorted(self.settings.slots, key=lambda s: s.start_minutes)
        }
        self._weekdays = {WEEKDAYS.index(d) for d in self.settings.days}
        self._closures = self.settings.closure_ranges
        self._holidays: holidays.HolidayBase | None = None
        country = self.settings.holidays_country
        if country:
            supported = holidays.country_holidays(country).supported_languages
            self._holidays = holidays.country_holidays(
                country,
                subdiv=self.settings.holidays_subdivision,
                language="en_US" if "en_US" in supported else None,
            )

    @property
    def slot_names(self) -> list[str]:
        """Slot names in the order of the day."""
        return list(self.slot_specs)

    # days

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on ``day`` (country and subdivision), else None."""
        if self._holidays is None:
            return None
        name = self._holidays.get(day)
        return str(name) if name else None

    def is_closure(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self._closures)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() in self._weekdays
            and self.holiday_name(day) is None
            and not self.is_closure(day)
        )

    def off_reason(self, day: date) -> str | None:
        """Why ``day`` has no shifts ("weekend", "public holiday: ...", "closure"), else None."""
        if day.weekday() not in self._weekdays:
            return "weekend" if day.weekday() >= 5 else f"no shifts on {WEEKDAYS[day.weekday()]}"
        holiday = self.holiday_name(day)
        if holiday is not None:
            return f"public holiday: {holiday}"
        if self.is_closure(day):
            return "closure"
        return None

    # slots

    def _local(self, day: date, minutes: int) -> datetime:
        local = datetime.combine(day + timedelta(days=minutes // 1440), time(0), self.zone)
        wall = local + timedelta(minutes=minutes % 1440)  # wall-clock arithmetic in the zone
        return wall.astimezone(UTC)

    def slot_instance(self, day: date, name: str) -> SlotInstance:
        """Slot ``name`` on local ``day``, whether or not ``day`` is a working day (KeyError)."""
        spec = self.slot_specs[name]
        return SlotInstance(
            name=spec.name,
            zone=spec.zone,
            day=day,
            start=self._local(day, spec.start_minutes),
            end=self._local(day, spec.end_minutes),
        )

    def slots_on(self, day: date) -> list[SlotInstance]:
        """The slots of local ``day`` in order; none on a non-working day."""
        if not self.is_working_day(day):
            return []
        instances = [self.slot_instance(day, name) for name in self.slot_specs]
        return [s for s in instances if s.start < s.end]

    def local_day(self, instant: datetime) -> date:
        return _utc(instant).astimezone(self.zone).date()

    def slot_at(self, instant: datetime) -> SlotInstance | None:
        """The slot in force at ``instant`` (start inclusive, end exclusive), else None."""
        instant = _utc(instant)
        for slot in self.slots_on(self.local_day(instant)):
            if slot.contains(instant):
                return slot
        return None

    def slots_between(self, start: datetime, end: datetime) -> list[SlotInstance]:
        """Slots overlapping ``[start, end)``, in time order (a slot in force at start counts)."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return []
        return [
            slot
            for day in _days(self.local_day(start), self.local_day(end))
            for slot in self.slots_on(day)
            if slot.end > start and slot.start < end
        ]

    def next_slot_start(
        self,
        after: datetime,
        staffed: Staffed = lambda _slot: True,
        horizon_days: int = HORIZON_DAYS,
    ) -> SlotInstance | None:
        """The first slot for which ``staffed`` holds starting strictly after ``after``."""
        after = _utc(after)
        first = self.local_day(after)
        for day in _days(first, first + timedelta(days=horizon_days)):
            for slot in self.slots_on(day):
                if slot.start > after and staffed(slot):
                    return slot
        return None

    def add_local_days(self, start: datetime, days: int) -> datetime:
        """``start`` plus ``days`` calendar days on the local wall clock (23 or 25 h across DST)."""
        local = _utc(start).astimezone(self.zone)
        return (local + timedelta(days=days)).astimezone(UTC)


def staffed_by(assignments: Mapping[tuple[date, str], Assignment]) -> Staffed:
    """The predicate "this slot's assignment names a 1st-level shifter"."""

    def staffed(slot: SlotInstance) -> bool:
        assignment = assignments.get(slot.key)
        return assignment is not None and assignment.shifter is not None

    return staffed


# --- who is on duty --------------------------------------------------------------------------


def iso_z(instant: datetime) -> str:
    """An instant as UTC ISO-8601 with second precision and a Z: ``2026-03-30T06:00:00Z``."""
    return _utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def coordinator_for(roster: Sequence[Person], zone: str) -> str | None:
    """The first roster person with role "coordinator" in ``zone``."""
    for person in roster:
        if person.zone == zone and "coordinator" in person.roles:
            return person.user
    return None


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
    at = _utc(at)
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
    start, end = _utc(start), _utc(end)
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
    start = _utc(start)
    remaining = timedelta(minutes=minutes)
    for slot in calendar.slots_between(start, calendar.add_local_days(start, horizon_days)):
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
    for day in _days(start_day, start_day + timedelta(days=days - 1)):
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
    after, until = _utc(after), _utc(until)
    found: list[tuple[datetime, BoundaryKind, SlotInstance]] = []
    for day in _days(calendar.local_day(after) - timedelta(days=1), calendar.local_day(until)):
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
    after = _utc(after)
    first = calendar.local_day(after)
    for day in _days(first, first + timedelta(days=horizon_days)):
        for slot in calendar.slots_on(day):
            for instant in (slot.start, slot.end):
                if instant > after:
                    return instant
    return None


# --- the schedule file -----------------------------------------------------------------------


@dataclass
class ScheduleParse:
    """A parsed schedule: the valid assignments and every problem, each naming file:line."""

    assignments: dict[tuple[date, str], Assignment] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_SCHEDULE_KEYS = ("date", "slot", "shifter", "trainee")


def _name_field(value: Any) -> str | None:
    name = normalise_username(value) if isinstance(value, str) else ""
    if name and not any(c.isspace() for c in name):
        return name
    return None


def parse_schedule(
    text: str,
    file: str,
    roster: Sequence[Person],
    calendar: Calendar | None = None,
) -> ScheduleParse:
    """Parse a schedule file: a YAML list of ``{date, slot, shifter, trainee?}``.

    Errors (the entry is dropped): bad YAML, an entry that is not a mapping, unknown keys, a bad or
    missing date, an unknown slot (of ``calendar``, default ``Calendar()``), a missing shifter, the
    same person as shifter and trainee, a duplicate (date, slot). Warnings (the entry is kept): a
    name not in the roster, a roster level that does not match the column (a trainee listed as
    shifter, a shifter listed as trainee), an assignment on a day without shifts.
    """
    calendar = calendar or Calendar()
    result = ScheduleParse()
    try:
        located = parse(text, file)
    except YamlSyntaxError as exc:
        result.errors.append(str(exc))
        return result
        return result
    if located.data is None:
        return result
    if not isinstance(located.data, list):
        result.errors.append(f"{file}:1: a schedule is a list of {{date, slot, shifter}} entries")
        return result
    people = {person.user: person for person in roster}
    first_line: dict[tuple[date, str], str] = {}
    for i, entry in enumerate(located.data):
        where = located.where((i,))
        if not isinstance(entry, dict):
            result.errors.append(f"{where}: an entry must be a mapping with date, slot, shifter")
            continue
        problems: list[str] = []
        for key in entry:
            if key not in _SCHEDULE_KEYS:
                problems.append(
                    f"{located.where((i, key))}: unknown key {key!r} "
                    f"(use {', '.join(_SCHEDULE_KEYS)})"
                )
        raw_day = entry.get("date")
        day: date | None = None
        if isinstance(raw_day, date) and not isinstance(raw_day, datetime):
            day = raw_day
        elif isinstance(raw_day, str):
            try:
                day = date.fromisoformat(raw_day.strip())
            except ValueError:
                day = None
        if day is None:
            if isinstance(raw_day, datetime):
                raw_day = raw_day.isoformat(sep=" ")
            shown = "missing" if raw_day is None else f"{raw_day!r} is not a date YYYY-MM-DD"
            problems.append(f"{located.where((i, 'date'))}: date: {shown}")
        slot = entry.get("slot")
        if slot is None:
            problems.append(f"{where}: slot: missing")
        elif str(slot) not in calendar.slot_specs:
            problems.append(
                f"{located.where((i, 'slot'))}: slot: unknown slot {slot!r} "
                f"(one of {', '.join(calendar.slot_names)})"
            )
        shifter = _name_field(entry.get("shifter"))
        if shifter is None:
            shown = "missing" if entry.get("shifter") is None else "is not a username"
            problems.append(f"{located.where((i, 'shifter'))}: shifter: {shown}")
        trainee: str | None = None
        if entry.get("trainee") is not None:
            trainee = _name_field(entry.get("trainee"))
            if trainee is None:
                problems.append(f"{located.where((i, 'trainee'))}: trainee: is not a username")
        if shifter is not None and shifter == trainee:
            problems.append(f"{where}: {shifter} cannot be shifter and trainee of one slot")
        if problems or day is None or shifter is None:
            result.errors.extend(problems)
            continue
        key = (day, str(slot))
        if key in first_line:
            result.errors.append(
                f"{where}: {day.isoformat()} {slot} is already assigned at {first_line[key]}"
            )
            continue
        first_line[key] = where
        for column, name in (("shifter", shifter), ("trainee", trainee)):
            if name is None:
                continue
            at = located.where((i, column))
            person = people.get(name)
            if person is None:
                result.warnings.append(f"{at}: {column} {name!r} is not in the roster")
            elif person.level != column:
                result.warnings.append(f"{at}: {column} {name!r} is a {person.level} in the roster")
        reason = calendar.off_reason(day)
        if reason is not None:
            result.warnings.append(
                f"{located.where((i, 'date'))}: {day.isoformat()} has no shifts ({reason})"
            )
        result.assignments[key] = Assignment(
            day=day, slot=str(slot), shifter=shifter, trainee=trainee
        )
    return result


def _ordered(
    assignments: Mapping[tuple[date, str], Assignment] | Iterable[Assignment],
) -> list[Assignment]:
    items = assignments.values() if isinstance(assignments, Mapping) else assignments
    return sorted(items, key=lambda a: (a.day, a.slot))


def schedule_yaml(
    assignments: Mapping[tuple[date, str], Assignment] | Iterable[Assignment],
) -> str:
    """The schedule file for ``assignments`` (sorted by day, slot); ``parse_schedule`` reads it.

    An assignment without a shifter cannot be written (the file requires one): ValueError.
    """
    entries: list[dict[str, Any]] = []
    for a in _ordered(assignments):
        if a.shifter is None:
            raise ValueError(f"{a.day.isoformat()} {a.slot}: a schedule entry needs a shifter")
        entry: dict[str, Any] = {"date": a.day, "slot": a.slot, "shifter": a.shifter}
        if a.trainee is not None:
            entry["trainee"] = a.trainee
        entries.append(entry)
    if not entries:
        return "[]\n"
    return yaml.safe_dump(entries, sort_keys=False, default_flow_style=False, allow_unicode=True)


def shift_summary(assignment: Assignment) -> str:
    """The event title, e.g. ``DAST EU shift: alice (trainee: bob)``."""
    summary = f"DAST {assignment.slot} shift: {assignment.shifter or 'nobody'}"
    if assignment.trainee:
        summary += f" (trainee: {assignment.trainee})"
    return summary


def schedule_ics(
    assignments: Mapping[tuple[date, str], Assignment] | Iterable[Assignment],
    calendar: Calendar,
    now: datetime,
) -> str:
    """An iCalendar feed with one VEVENT per assignment, for shifters to subscribe to.

    UID ``<date>-<slot>@dastbot`` is stable per (date, slot); DTSTART/DTEND are UTC; DTSTAMP is
    ``now``. Assignments on days without shifts or for unknown slots are left out.
    """
    feed = icalendar.Calendar()
    feed.add("prodid", "-//ATLAS DAST//dastbot shifts//EN")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", "DAST shifts")
    stamp = _utc(now)
    for a in _ordered(assignments):
        if a.slot not in calendar.slot_specs or not calendar.is_working_day(a.day):
            continue
        slot = calendar.slot_instance(a.day, a.slot)
        spec = calendar.slot_specs[a.slot]
        event = icalendar.Event()
        event.add("uid", f"{a.day.isoformat()}-{a.slot.lower()}@dastbot")
        event.add("dtstamp", stamp)
        event.add("dtstart", slot.start)
        event.add("dtend", slot.end)
        event.add("summary", shift_summary(a))
        event.add(
            "description",
            f"{spec.start}-{spec.end} {calendar.settings.timezone}, coordinator zone {spec.zone}",
        )
        feed.add_component(event)
    ical: bytes = feed.to_ical()
    return ical.decode("utf-8")


# --- roles and credit ------------------------------------------------------------------------


def role_of(roster: Sequence[Person], user: str) -> str:
    """The user's role: coordinator (wins over level), shifter, trainee, or user (not rostered)."""
    name = normalise_username(user)
    for person in roster:
        if person.user == name:
            return "coordinator" if "coordinator" in person.roles else person.level
    return "user"


def credit(level: str) -> float:
    """Shift credit of one slot: 1.0 for a shifter, 0.5 for a trainee."""
    if level not in CREDIT:
        raise ValueError(f"unknown level {level!r} (shifter or trainee)")
    return CREDIT[level]
