"""Working-hours arithmetic for escalation targets: when a support group is at work.

This module owns ``WorkingHours`` (one target's weekly opening hours in its own time zone, minus
the public holidays of a country and optional subdivision) and the arithmetic the reminder
schedule is built on: ``is_working_time``, ``next_opening``, ``add_working_hours`` and
``working_hours_between``. The public-holiday lookup, local-day iteration, wall-clock conversion
and the UTC check are the shift calendar's primitives (``dastbot.shifts.calendar``), so a target
and the DAST rota agree on what a holiday is and on local time across daylight-saving changes.

It is pure: no I/O and no wall clock. Every function takes the instants it needs; instants must be
timezone-aware (any zone) and results are returned in UTC.

Rules decided here:

* Each working day has one window ``[start, end)`` of local wall-clock time; the start is inside
  working hours, the end is not. ``end`` may be ``24:00`` (the midnight ending the day); windows
  do not cross midnight.
* Local times are converted to instants per day, so "09:00" stays 09:00 local across daylight-saving
  changes. A window edge that falls in a DST gap or overlap resolves with ``fold=0`` (the offset in
  force before the change); no real support group opens at 02:30.
* ``add_working_hours`` always returns a working instant: an amount that runs out exactly at a
  closing time is reached at the next opening (no working time passes in between). So a
  reminder due "8 working hours after 09:00 Monday" is due at 09:00 Tuesday, when someone is there.
* Every loop is bounded: searches look at most ``MAX_SCAN_DAYS`` local days ahead and raise
  ``ValueError`` beyond that (only possible with absurd inputs).
* Each day's window is computed once per target and day (cached), and ``working_hours_between``
  takes the whole days in between from a running total kept per target, so an escalation open
  for years costs what one open for a day costs.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dastbot.kernel.settings import (
    WEEKDAYS,
    holiday_country,
    holiday_subdivision,
    minutes_of_day,
)
from dastbot.shifts.calendar import as_utc, local_days, local_instant, public_holiday

__all__ = [
    "MAX_SCAN_DAYS",
    "WEEKDAYS",
    "WorkingHours",
    "add_working_hours",
    "describe",
    "holiday_name",
    "is_working_day",
    "is_working_time",
    "next_opening",
    "working_hours_between",
    "working_window",
]

_WEEKDAY_RESTS = ("day", "sday", "nesday", "rsday", "day", "urday", "day")
MAX_SCAN_DAYS = 3660
"""How many local days any search may look ahead (about ten years)."""


class WorkingHours(BaseModel):
    """One support group's opening hours: weekdays, a daily window and public holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    days: tuple[str, ...] = Field(default=("mon", "tue", "wed", "thu", "fri"))
    start: str = "09:00"
    end: str = "17:00"
    holidays_country: str = ""
    holidays_subdivision: str | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Zurich)") from None
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ValueError("must be a list of weekdays, e.g. [mon, tue, wed, thu, fri]")
        full = {name + rest: name for name, rest in zip(WEEKDAYS, _WEEKDAY_RESTS, strict=True)}
        given = [str(d).strip().lower() for d in value]
        short = [full.get(d, d) for d in given]
        unknown = [d for d, s in zip(given, short, strict=True) if s not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        if not short:
            raise ValueError("needs at least one weekday")
        return tuple(d for d in WEEKDAYS if d in short)

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        minutes_of_day(value.strip())
        return value.strip()

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, value: str) -> str:
        return holiday_country(value)

    @field_validator("holidays_subdivision")
    @classmethod
    def _subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        return holiday_subdivision(value, info.data.get("holidays_country"))

    @model_validator(mode="after")
    def _consistent(self) -> WorkingHours:
        if minutes_of_day(self.start) >= minutes_of_day(self.end):
            raise ValueError(f"start {self.start} is not before end {self.end}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def daily_hours(self) -> float:
        """Nominal length of a working day in hours (wall clock)."""
        return (minutes_of_day(self.end) - minutes_of_day(self.start)) / 60


# --- days ------------------------------------------------------------------------------------


def holiday_name(wh: WorkingHours, day: date) -> str | None:
    """The public holiday's name on local ``day`` (for ``wh``'s country), else None."""
    return public_holiday(wh.holidays_country, wh.holidays_subdivision, day)


def is_working_day(wh: WorkingHours, day: date) -> bool:
    """``day`` (a local date) is one of the weekdays and not a public holiday."""
    return WEEKDAYS[day.weekday()] in wh.days and holiday_name(wh, day) is None


def working_window(wh: WorkingHours, day: date) -> tuple[datetime, datetime] | None:
    """The working window ``[open, close)`` of local ``day`` in UTC, or None on a day off."""
    return _window(wh, day)


@lru_cache(maxsize=4096)
def _window(wh: WorkingHours, day: date) -> tuple[datetime, datetime] | None:
    return _compute_window(wh, day)


def _compute_window(wh: WorkingHours, day: date) -> tuple[datetime, datetime] | None:
    if not is_working_day(wh, day):
        return None
    opening = local_instant(wh.zone, day, minutes_of_day(wh.start))
    closing = local_instant(wh.zone, day, minutes_of_day(wh.end))
    if closing <= opening:  # only conceivable with edges inside a DST change
        return None
    return opening, closing


def _local_day(wh: WorkingHours, instant: datetime) -> date:
    return instant.astimezone(wh.zone).date()


def _windows_from(wh: WorkingHours, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working windows that end after ``instant``, in order, for at most MAX_SCAN_DAYS days."""
    first = _local_day(wh, instant)
    for day in local_days(first, first + timedelta(days=MAX_SCAN_DAYS)):
        window = working_window(wh, day)
        if window is not None and window[1] > instant:
            yield window
    raise ValueError(
        f"no working time found within {MAX_SCAN_DAYS} days after {instant.isoformat()}"
    )


# --- arithmetic ------------------------------------------------------------------------------


def is_working_time(wh: WorkingHours, instant: datetime) -> bool:
    """``instant`` lies inside a working window (opening inclusive, closing exclusive)."""
    instant = as_utc(instant)
    window = working_window(wh, _local_day(wh, instant))
    return window is not None and window[0] <= instant < window[1]


def next_opening(wh: WorkingHours, instant: datetime) -> datetime:
    """The first working instant at or after ``instant``: ``instant`` itself (in UTC) when it is
    inside working hours, else the opening of the next working window."""
    instant = as_utc(instant)
    opening, _closing = next(_windows_from(wh, instant))
    return max(opening, instant)


def add_working_hours(wh: WorkingHours, start: datetime, hours: float) -> datetime:
    """The instant at which ``hours`` of working time have elapsed after ``start``.

    Counting begins at ``start``, or at the next opening when ``start`` is outside working hours.
    The result is always a working instant (see the module rules): zero hours from a Saturday is
    Monday's opening, and an amount ending exactly at a closing is reached at the next opening.
    """
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number >= 0, not {hours!r}")
    start = as_utc(start)
    remaining = timedelta(hours=hours)
    for opening, closing in _windows_from(wh, start):
        begin = max(opening, start)
        available = closing - begin
        if remaining < available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: _windows_from raises when exhausted")  # pragma: no cover


def _overlap(wh: WorkingHours, day: date, a: datetime, b: datetime) -> timedelta:
    window = working_window(wh, day)
    if window is None:
        return timedelta(0)
    begin, end = max(window[0], a), min(window[1], b)
    return end - begin if end > begin else timedelta(0)


class _Ledger:
    """One target's working seconds before each local day, counted from an origin day and grown
    on demand (backwards by at least a year at a time), so a span of whole days is a
    subtraction. Eight bytes a day: ten years of a target take 30 kB."""

    def __init__(self, wh: WorkingHours) -> None:
        self.wh = wh
        self.origin: date | None = None
        self.totals = array("q", [0])
        self.lock = threading.Lock()

    def between(self, first: date, last: date) -> timedelta:
        """Working time in the whole local days from ``first`` up to (not including) ``last``."""
        with self.lock:
            if self.origin is None or first < self.origin:
                self._restart(first - timedelta(days=366))
            return timedelta(seconds=self._before(last) - self._before(first))

    def _before(self, day: date) -> int:
        """Working seconds from the origin up to local midnight starting ``day``."""
        assert self.origin is not None
        index = (day - self.origin).days
        while len(self.totals) <= index:
            self.totals.append(self.totals[-1] + self._length(self.origin, len(self.totals) - 1))
        return self.totals[index]

    def _length(self, origin: date, offset: int) -> int:
        window = _compute_window(self.wh, origin + timedelta(days=offset))
        return int((window[1] - window[0]).total_seconds()) if window is not None else 0

    def _restart(self, origin: date) -> None:
        end = len(self.totals) - 1 + ((self.origin - origin).days if self.origin else 0)
        self.origin, self.totals = origin, array("q", [0])
        for offset in range(end):
            self.totals.append(self.totals[-1] + self._length(origin, offset))


@lru_cache(maxsize=256)
def _ledger(wh: WorkingHours) -> _Ledger:
    return _Ledger(wh)


def working_hours_between(wh: WorkingHours, a: datetime, b: datetime) -> float:
    """Working time in ``[a, b)`` in hours; 0.0 when ``b`` is not after ``a``. The first and
    last days are cut at ``a`` and ``b``; the whole days between come from the ledger."""
    a, b = as_utc(a), as_utc(b)
    if b <= a:
        return 0.0
    first, last = _local_day(wh, a), _local_day(wh, b)
    if (last - first).days > MAX_SCAN_DAYS:
        raise ValueError(f"the span {a.isoformat()}..{b.isoformat()} is longer than supported")
    if first == last:
        return _overlap(wh, first, a, b) / timedelta(hours=1)
    ledger = _ledger(wh)
    between = ledger.between(first + timedelta(days=1), last)
    total = _overlap(wh, first, a, b) + between + _overlap(wh, last, a, b)
    return total / timedelta(hours=1)


def describe(wh: WorkingHours) -> str:
    """Human summary, e.g. ``Mon-Fri 09:00-17:00 Europe/Zurich, CH holidays``."""
    days = list(wh.days)
    indices = [WEEKDAYS.index(d) for d in days]
    if len(days) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
        day_text = f"{days[0].title()}-{days[-1].title()}"
    else:
        day_text = ",".join(d.title() for d in days)
    text = f"{day_text} {wh.start}-{wh.end} {wh.timezone}"
    if wh.holidays_country:
        region = wh.holidays_country
        if wh.holidays_subdivision:
            region += f"-{wh.holidays_subdivision}"
        text += f", {region} holidays"
    return text
