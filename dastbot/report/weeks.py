"""ISO weeks in the shift calendar's zone: parsing ``YYYY-Www``, labels, and a week's bounds.

A week runs from Monday 00:00 local to the next Monday 00:00 local; ``week_bounds`` gives those
instants in UTC (167 or 169 hours apart across a daylight-saving change).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


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
