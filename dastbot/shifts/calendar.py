"""The shift calendar: working days and the slot instances on them.

This module owns ``Calendar`` (the ``shifts:`` settings as days and slots), ``SlotInstance``
(one slot on one local day) and the primitives it is built on, public for other calendars (the
escalation targets' working hours) to reuse:

* ``public_holiday(country, subdivision, day)``: the holiday's name, English when available;
* ``in_closures(closures, day)``: whether a day falls in one of the inclusive closure ranges
  (``closures_preset`` adds a ready-made calendar of days off: ``dastbot.shifts.closures``);
* ``as_utc`` (refuses naive datetimes), ``iso_z`` (the JSON instant format), ``local_days``;
* ``local_instant(zone, day, minutes)``: a local wall-clock time of a day as a UTC instant.

It is pure: no I/O, no database, no wall clock. Instants must be timezone-aware and are returned in
UTC; slot times are computed in the configured zone so that 08:00 local stays 08:00 local across
daylight-saving changes. A working day is a configured weekday that is neither a public holiday of
the configured country and subdivision nor inside a closure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import WEEKDAYS, ShiftSettings, SlotSpec
from dastbot.shifts.closures import preset_day_off

HORIZON_DAYS = 60
"""How far ahead searches for a next slot or for enough staffed time look."""

Staffed = Callable[["SlotInstance"], bool]
"""A predicate on slots: "someone staffs this slot" (see ``staffed_by``)."""


def as_utc(instant: datetime) -> datetime:
    """``instant`` in UTC; ValueError for a naive datetime."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} is not timezone-aware")
    return instant.astimezone(UTC)


def iso_z(instant: datetime) -> str:
    """An instant as UTC ISO-8601 with second precision and a Z: ``2026-03-30T06:00:00Z``."""
    return as_utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_days(first: date, last: date) -> Iterator[date]:
    """Every date from ``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def local_instant(zone: ZoneInfo, day: date, minutes: int) -> datetime:
    """``minutes`` after local midnight of ``day`` in ``zone``, as a UTC instant. Wall-clock
    arithmetic: 24:00 is midnight of the next day with that day's offset, and a time inside a DST
    gap or overlap resolves with ``fold=0`` (the offset in force before the change)."""
    local = datetime.combine(day + timedelta(days=minutes // 1440), time(0), zone)
    return (local + timedelta(minutes=minutes % 1440)).astimezone(UTC)


@lru_cache(maxsize=256)
def _holiday_table(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    if "en_US" in table.supported_languages:
        table = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    return {day: str(name) for day, name in table.items()}


def public_holiday(country: str, subdivision: str | None, day: date) -> str | None:
    """The name of the public holiday on ``day`` in ``country`` (an ISO code of the ``holidays``
    package, "" for none) and optional ``subdivision``, in English when the package has it; None
    on other days. Tables are cached per country, subdivision and year."""
    if not country:
        return None
    return _holiday_table(country, subdivision, day.year).get(day)


def in_closures(closures: Sequence[tuple[date, date]], day: date) -> bool:
    """``day`` falls in one of the ``(first, last)`` ranges, both ends included."""
    return any(first <= day <= last for first, last in closures)


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
        self._slots_of_day: dict[date, tuple[SlotInstance, ...]] = {}
        """``slots_on`` per day: the settings never change, and the sweeper asks about the same
        days again at every sweep (staffed time from each waiting question on)."""

    @property
    def slot_names(self) -> list[str]:
        """Slot names in the order of the day."""
        return list(self.slot_specs)

    # days

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on ``day`` (country and subdivision), else None."""
        return public_holiday(
            self.settings.holidays_country, self.settings.holidays_subdivision, day
        )

    def is_closure(self, day: date) -> bool:
        """``day`` is inside one of the configured closures or the closure preset's days off."""
        return in_closures(self._closures, day) or self.preset_closure(day) is not None

    def preset_closure(self, day: date) -> str | None:
        """Why ``day`` is off in the ``closures_preset`` calendar (e.g. CERN's), else None."""
        return preset_day_off(self.settings.closures_preset, day)

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
        if in_closures(self._closures, day):
            return "closure"
        return self.preset_closure(day)

    # slots

    def _local(self, day: date, minutes: int) -> datetime:
        return local_instant(self.zone, day, minutes)

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
        slots = self._slots_of_day.get(day)
        if slots is None:
            if len(self._slots_of_day) > 20_000:
                self._slots_of_day.clear()
            instances = (self.slot_instance(day, name) for name in self.slot_specs)
            working = self.is_working_day(day)
            slots = tuple(s for s in instances if s.start < s.end) if working else ()
            self._slots_of_day[day] = slots
        return list(slots)

    def local_day(self, instant: datetime) -> date:
        return as_utc(instant).astimezone(self.zone).date()

    def slot_at(self, instant: datetime) -> SlotInstance | None:
        """The slot in force at ``instant`` (start inclusive, end exclusive), else None."""
        instant = as_utc(instant)
        for slot in self.slots_on(self.local_day(instant)):
            if slot.contains(instant):
                return slot
        return None

    def slots_between(self, start: datetime, end: datetime) -> list[SlotInstance]:
        """Slots overlapping ``[start, end)``, in time order (a slot in force at start counts)."""
        return list(self.iter_slots(start, end))

    def iter_slots(self, start: datetime, end: datetime) -> Iterator[SlotInstance]:
        """``slots_between``, one at a time (for walks that stop early)."""
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            return
        for day in local_days(self.local_day(start), self.local_day(end)):
            for slot in self.slots_on(day):
                if slot.end > start and slot.start < end:
                    yield slot

    def next_slot_start(
        self,
        after: datetime,
        staffed: Staffed = lambda _slot: True,
        horizon_days: int = HORIZON_DAYS,
    ) -> SlotInstance | None:
        """The first slot for which ``staffed`` holds starting strictly after ``after``."""
        after = as_utc(after)
        first = self.local_day(after)
        for day in local_days(first, first + timedelta(days=horizon_days)):
            for slot in self.slots_on(day):
                if slot.start > after and staffed(slot):
                    return slot
        return None

    def add_local_days(self, start: datetime, days: int) -> datetime:
        """``start`` plus ``days`` calendar days on the local wall clock (23 or 25 h across DST)."""
        local = as_utc(start).astimezone(self.zone)
        return (local + timedelta(days=days)).astimezone(UTC)


def staffed_by(assignments: Mapping[tuple[date, str], Assignment]) -> Staffed:
    """The predicate "this slot's assignment names a 1st-level shifter" (a trainee alone does
    not staff a slot)."""

    def staffed(slot: SlotInstance) -> bool:
        assignment = assignments.get(slot.key)
        return assignment is not None and assignment.shifter is not None

    return staffed
