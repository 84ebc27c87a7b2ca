"""ISO weeks in the shift calendar's zone: parsing ``YYYY-Www``, labels, and a week's bounds.

A week runs from Monday 00:00 local to the next Monday 00:00 local; ``week_bounds`` gives those
instants in UTC (167 or 169 hours apart across a daylight-saving change).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^\s*([0-9]{4})-?W([0-9]{1,2})\s*$", re.IGNORECASE)
_MARGIN_BEFORE = timedelta(days=8)
_MARGIN_AFTER = timedelta(weeks=7)
"""A report reads the week before its week and the coverage of the five weeks after it, each
converted to and from UTC; a week nearer than this to ``date.min`` or ``date.max`` has no report."""


class WeekError(ValueError):
    """A week that is not ``YYYY-Www``."""


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


def reportable_week(text: str) -> str:
    """The label of the week ``text`` names, when a report of it can be computed; WeekError for
    anything ``parse_week`` refuses or a week too close to year 1 or 9999."""
    label = week_label(week_monday(text))
    monday = week_monday(label).toordinal()
    if not (
        date.min.toordinal() + _MARGIN_BEFORE.days
        <= monday
        <= date.max.toordinal() - _MARGIN_AFTER.days
    ):
        raise WeekError(f"{label} is too close to year 1 or 9999 for a report")
    return label


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
