"""The schedule file and its iCalendar feed.

This module owns the file format coordinators edit (a YAML list of ``{date, slot, shifter,
trainee?}``, or ``{date, slot, trainee}`` for a trainee-only slot): ``parse_schedule`` reads it,
reporting every problem with file:line, and ``schedule_yaml`` writes it back; ``schedule_ics``
renders the same assignments as an iCalendar feed for shifters to subscribe to. Pure: text in,
text or values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import Person, normalise_username
from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse
from dastbot.shifts.calendar import Calendar, as_utc

_SCHEDULE_KEYS = ("date", "slot", "shifter", "trainee")


@dataclass
class ScheduleParse:
    """A parsed schedule: the valid assignments and every problem, each naming file:line."""

    assignments: dict[tuple[date, str], Assignment] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _name_field(value: Any) -> str | None:
    name = normalise_username(value) if isinstance(value, str) else ""
    if name and not any(c.isspace() for c in name):
        return name
    return None


def _entry_day(raw: Any) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            return None
    return None


def _read_entry(
    located: Located, i: int, entry: dict[Any, Any], calendar: Calendar
) -> tuple[Assignment | None, list[str]]:
    """Entry ``i`` as an assignment, or None and the errors that drop it."""
    where = located.where((i,))
    problems: list[str] = []
    for key in entry:
        if key not in _SCHEDULE_KEYS:
            problems.append(
                f"{located.where((i, key))}: unknown key {key!r} (use {', '.join(_SCHEDULE_KEYS)})"
            )
    raw_day = entry.get("date")
    day = _entry_day(raw_day)
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
    trainee: str | None = None
    if entry.get("trainee") is not None:
        trainee = _name_field(entry.get("trainee"))
        if trainee is None:
            problems.append(f"{located.where((i, 'trainee'))}: trainee: is not a username")
    if entry.get("shifter") is not None and shifter is None:
        problems.append(f"{located.where((i, 'shifter'))}: shifter: is not a username")
    elif shifter is None and entry.get("trainee") is None:
        problems.append(f"{located.where((i, 'shifter'))}: shifter: missing")
    if shifter is not None and shifter == trainee:
        problems.append(f"{where}: {shifter} cannot be shifter and trainee of one slot")
    if problems or day is None or (shifter is None and trainee is None):
        return None, problems
    return Assignment(day=day, slot=str(slot), shifter=shifter, trainee=trainee), []


def _entry_warnings(
    located: Located,
    i: int,
    assignment: Assignment,
    people: Mapping[str, Person],
    calendar: Calendar,
) -> list[str]:
    """Names not on the roster, levels that do not match the column, days without shifts."""
    warnings: list[str] = []
    for column, name in (("shifter", assignment.shifter), ("trainee", assignment.trainee)):
        if name is None:
            continue
        at = located.where((i, column))
        person = people.get(name)
        if person is None:
            warnings.append(f"{at}: {column} {name!r} is not in the roster")
        elif person.level != column:
            warnings.append(f"{at}: {column} {name!r} is a {person.level} in the roster")
    reason = calendar.off_reason(assignment.day)
    if reason is not None:
        warnings.append(
            f"{located.where((i, 'date'))}: {assignment.day.isoformat()} has no shifts ({reason})"
        )
    return warnings


def parse_schedule(
    text: str,
    file: str,
    roster: Sequence[Person],
    calendar: Calendar | None = None,
) -> ScheduleParse:
    """Parse a schedule file: a YAML list of ``{date, slot, shifter, trainee?}``.

    Errors (the entry is dropped): bad YAML, an entry that is not a mapping, unknown keys, a bad or
    missing date, an unknown slot (of ``calendar``, default ``Calendar()``), neither a shifter nor
    a trainee, the same person as shifter and trainee, a duplicate (date, slot). Warnings (the
    entry is kept): a name not in the roster, a roster level that does not match the column (a
    trainee listed as shifter, a shifter listed as trainee), an assignment on a day without
    shifts, a person in two slots of one day.
    """
    calendar = calendar or Calendar()
    result = ScheduleParse()
    try:
        located = parse(text, file)
    except YamlSyntaxError as exc:
        result.errors.append(str(exc))
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
        assignment, problems = _read_entry(located, i, entry, calendar)
        if assignment is None:
            result.errors.extend(problems)
            continue
        key = (assignment.day, assignment.slot)
        if key in first_line:
            result.errors.append(
                f"{where}: {assignment.day.isoformat()} {assignment.slot} is already assigned "
                f"at {first_line[key]}"
            )
            continue
        first_line[key] = where
        result.warnings.extend(_entry_warnings(located, i, assignment, people, calendar))
        result.warnings.extend(_same_day(where, assignment, result.assignments))
        result.assignments[key] = assignment
    return result


def _same_day(
    where: str, assignment: Assignment, earlier: Mapping[tuple[date, str], Assignment]
) -> list[str]:
    """A person already in another slot of the same day (EU and NA back to back)."""
    warnings = []
    for name in (assignment.shifter, assignment.trainee):
        if name is None:
            continue
        for other in earlier.values():
            if other.day == assignment.day and name in (other.shifter, other.trainee):
                warnings.append(
                    f"{where}: {name} is also in {other.slot} on {assignment.day.isoformat()}: "
                    "two shifts in one day"
                )
    return warnings


def _ordered(
    assignments: Mapping[tuple[date, str], Assignment] | Iterable[Assignment],
) -> list[Assignment]:
    items = assignments.values() if isinstance(assignments, Mapping) else assignments
    return sorted(items, key=lambda a: (a.day, a.slot))


def schedule_yaml(
    assignments: Mapping[tuple[date, str], Assignment] | Iterable[Assignment],
) -> str:
    """The schedule file for ``assignments`` (sorted by day, slot); ``parse_schedule`` reads it.
    A trainee-only slot is written without a shifter; an assignment with nobody: ValueError."""
    entries: list[dict[str, Any]] = []
    for a in _ordered(assignments):
        if a.shifter is None and a.trainee is None:
            raise ValueError(f"{a.day.isoformat()} {a.slot}: a schedule entry needs a person")
        entry: dict[str, Any] = {"date": a.day, "slot": a.slot}
        if a.shifter is not None:
            entry["shifter"] = a.shifter
        if a.trainee is not None:
            entry["trainee"] = a.trainee
        entries.append(entry)
    if not entries:
        return "[]\n"
    return yaml.safe_dump(entries, sort_keys=False, default_flow_style=False, allow_unicode=True)


def shift_summary(assignment: Assignment) -> str:
    """The event title, e.g. ``DAST EU shift: alice (trainee: bob)``, or for a trainee-only slot
    ``DAST EU shift: trainee bob only (no 1st-level shifter)``."""
    if assignment.shifter is None:
        trainee = f"trainee {assignment.trainee} only"
        return f"DAST {assignment.slot} shift: {trainee} (no 1st-level shifter)"
    summary = f"DAST {assignment.slot} shift: {assignment.shifter}"
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
    import icalendar  # only here: a tenth of a second of start-up for a feed rarely asked for

    feed = icalendar.Calendar()
    feed.add("prodid", "-//ATLAS DAST//dastbot shifts//EN")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", "DAST shifts")
    stamp = as_utc(now)
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
