"""Ready-made closure calendars for ``shifts.closures_preset``, so that an organisation's own days
off need not be typed into ``shifts.closures`` every year.

``cern``: CERN's official holidays as the Staff Regulations (R II 4.38) set them every year: New
Year's Day, Good Friday, Easter Monday, 1 May, Ascension Day, Whit Monday, the Jeûne genevois
(the Thursday after the first Sunday of September), Christmas Eve, Christmas Day and New Year's
Eve; and the end-of-year closure (R II 4.39), 24 December to 2 January, the days it has always
covered. CERN announces each year's exact closure, which usually starts a few days before 24
December and ends a few days after 2 January (2024/25: 21 December to 5 January), and any day
granted in compensation for a holiday on a weekend: add those to ``shifts.closures``.

Pure: a date in, the name of the day off (or None) out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

from dateutil.easter import easter

CLOSURE_START = (12, 24)
CLOSURE_END = (1, 2)


def _jeune_genevois(year: int) -> date:
    first_sunday = date(year, 9, 1) + timedelta(days=(6 - date(year, 9, 1).weekday()) % 7)
    return first_sunday + timedelta(days=4)


@lru_cache(maxsize=64)
def cern_holidays(year: int) -> dict[date, str]:
    """CERN's official holidays of ``year`` (without the end-of-year closure)."""
    sunday = easter(year)
    return {
        date(year, 1, 1): "New Year's Day",
        sunday - timedelta(days=2): "Good Friday",
        sunday + timedelta(days=1): "Easter Monday",
        date(year, 5, 1): "1 May",
        sunday + timedelta(days=39): "Ascension Day",
        sunday + timedelta(days=50): "Whit Monday",
        _jeune_genevois(year): "Jeûne genevois",
        date(year, 12, 24): "Christmas Eve",
        date(year, 12, 25): "Christmas Day",
        date(year, 12, 31): "New Year's Eve",
    }


def cern_day_off(day: date) -> str | None:
    """Why CERN is closed on ``day`` ("CERN official holiday: 1 May", "CERN end-of-year
    closure"), else None."""
    holiday = cern_holidays(day.year).get(day)
    if holiday is not None:
        return f"CERN official holiday: {holiday}"
    if (day.month, day.day) >= CLOSURE_START or (day.month, day.day) <= CLOSURE_END:
        return "CERN end-of-year closure"
    return None


PRESETS: dict[str, Callable[[date], str | None]] = {"cern": cern_day_off}
"""Each preset of ``kernel.settings.CLOSURE_PRESETS``: a day -> why it is off, or None."""


def preset_day_off(preset: str, day: date) -> str | None:
    """Why ``day`` is off in closure calendar ``preset`` ("" = none), else None."""
    rule = PRESETS.get(preset)
    return rule(day) if rule is not None else None
