"""The validated configuration sections that several features read: shift slots and settings,
roster people, and the weekly report's schedule.

They live in the kernel so that the configuration root (``kernel.config``) does not depend on any
feature; the features' logic (the calendar, the report) lives in their packages.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as _Time
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Level = Literal["shifter", "trainee"]
COORDINATOR = "coordinator"
"""The one roster role that gives rights; other roles name expert groups (see ``roster``)."""
CLOSURE_PRESETS = ("cern",)
"""Ready-made closure calendars for ``shifts.closures_preset`` (see ``dastbot.shifts.closures``)."""

_HHMM = re.compile(r"^([0-9]{2}):([0-9]{2})$")
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_CLOSURE = re.compile(rf"^({_DAY})(?:\.\.({_DAY}))?$")

# --- shifts and roster ---------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def minutes_of_day(value: str) -> int:
    """Minutes after local midnight of "HH:MM" ("24:00" is the midnight ending the day)."""
    match = _HHMM.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a time HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if (hours, minutes) != (24, 0) and (hours > 23 or minutes > 59):
        raise ValueError(f"{value!r} is not a time between 00:00 and 24:00")
    return hours * 60 + minutes


@dataclass(frozen=True)
class _Subdivisions:
    codes: tuple[str, ...]
    by_name: dict[str, str]
    """Code for each code and each name the package knows, case-folded."""


@lru_cache(maxsize=32)
def _subdivisions(country: str) -> _Subdivisions | None:
    """The subdivisions of a country the ``holidays`` package knows, None for an unknown one.

    Asks for that one country only: listing every supported country imports all of them.
    """
    try:
        table = holidays.country_holidays(country)
    except NotImplementedError:
        return None
    by_name = {
        name.casefold(): code
        for code, names in table.get_subdivision_aliases().items()
        for name in names
    }
    by_name.update((code.casefold(), code) for code in table.subdivisions)
    return _Subdivisions(tuple(table.subdivisions), by_name)


def holiday_country(value: str) -> str:
    """A validated, upper-case country code; "" means no public holidays."""
    value = value.strip().upper()
    if value and _subdivisions(value) is None:
        raise ValueError(f"the holidays package does not know country {value!r} (e.g. CH)")
    return value


def holiday_subdivision(value: str | None, country: str | None) -> str | None:
    """The subdivision code of ``value`` in ``country``, given as a code in any case or as the name
    the ``holidays`` package knows ("ge", "Alabama"); empty means none, so an environment override
    can clear it. ``country`` None means the country itself was refused: nothing more to check."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if country is None:
        return value
    if not country:
        raise ValueError("a holidays subdivision needs holidays_country")
    known = _subdivisions(country)
    codes = known.codes if known else ()
    found = known.by_name.get(value.casefold()) if known else None
    if found is None:
        raise ValueError(
            f"country {country} has no subdivision {value!r} (codes: {', '.join(codes[:12])}"
            f"{', ...' if len(codes) > 12 else ''})"
        )
    return found


def _closure_range(value: str) -> tuple[date, date]:
    match = _CLOSURE.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is neither YYYY-MM-DD nor YYYY-MM-DD..YYYY-MM-DD")
    try:
        first = date.fromisoformat(match.group(1))
        last = date.fromisoformat(match.group(2) or match.group(1))
    except ValueError as exc:
        raise ValueError(f"{value!r}: {exc}") from None
    if last < first:
        raise ValueError(f"{value!r}: the range ends before it starts")
    return first, last


class SlotSpec(_Section):
    """One daily shift slot in local time, e.g. EU 08:00-16:00 coordinated by zone EU."""

    name: str
    start: str
    end: str
    zone: str

    @field_validator("name", "zone")
    @classmethod
    def _word(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be a non-empty word")
        return value

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        minutes_of_day(value)
        return value

    @model_validator(mode="after")
    def _order(self) -> SlotSpec:
        if self.start_minutes >= self.end_minutes:
            raise ValueError(f"slot {self.name}: start {self.start} is not before end {self.end}")
        return self

    @property
    def start_minutes(self) -> int:
        return minutes_of_day(self.start)

    @property
    def end_minutes(self) -> int:
        return minutes_of_day(self.end)


def _default_slots() -> list[SlotSpec]:
    return [
        SlotSpec(name="EU", start="08:00", end="16:00", zone="EU"),
        SlotSpec(name="NA", start="16:00", end="24:00", zone="NA"),
    ]


class ShiftSettings(_Section):
    """The ``shifts:`` section: when shifts run and how unanswered questions escalate."""

    timezone: str = "Europe/Zurich"
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    slots: list[SlotSpec] = Field(default_factory=_default_slots, min_length=1)
    holidays_country: str = "CH"
    holidays_subdivision: str | None = Field(default="GE", validate_default=True)
    closures: list[str] = Field(default_factory=list)
    closures_preset: str = ""
    no_reply_minutes: int = Field(default=60, ge=1)
    ping_quiet_minutes: int = Field(default=30, ge=1)
    """A person is mentioned in a question's thread to take it at most once in this many minutes
    (an asker alternating "solved" and "did not help" pages the shifter once)."""
    handover: Literal["channel", "dm"] = "channel"
    claim_reminder_days: int = Field(default=2, ge=1)
    """Working days without a word from the person who took a question before they are reminded
    in its thread; after twice as many the zone's coordinator is told."""

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Zurich)") from None
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        full = dict(zip(_FULL_WEEKDAYS, WEEKDAYS, strict=True))
        days = [full.get(d.strip().lower(), d.strip().lower()) for d in value]
        unknown = [d for d, short in zip(value, days, strict=True) if short not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        if not days:
            raise ValueError("needs at least one weekday")
        return [d for d in WEEKDAYS if d in days]

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, value: str) -> str:
        return holiday_country(value)

    @field_validator("holidays_subdivision")
    @classmethod
    def _subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("holidays_country")
        return None if country == "" else holiday_subdivision(value, country)

    @field_validator("closures")
    @classmethod
    def _closures(cls, value: list[str]) -> list[str]:
        for entry in value:
            _closure_range(entry)
        return [entry.strip() for entry in value]

    @field_validator("closures_preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        value = value.strip().lower()
        if value and value not in CLOSURE_PRESETS:
            raise ValueError(
                f"unknown closures preset {value!r}: use {', '.join(CLOSURE_PRESETS)}, "
                "or leave it empty for none"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ShiftSettings:
        names = [slot.name for slot in self.slots]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"slot names must be unique: {', '.join(duplicated)}")
        ordered = sorted(self.slots, key=lambda s: s.start_minutes)
        for before, after in pairwise(ordered):
            if after.start_minutes < before.end_minutes:
                raise ValueError(f"slots {before.name} and {after.name} overlap")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def closure_ranges(self) -> list[tuple[date, date]]:
        return [_closure_range(entry) for entry in self.closures]


class Person(_Section):
    """One ``roster:`` entry: a Mattermost user, their zone, level and roles."""

    user: str
    zone: str
    level: Level = "shifter"
    roles: list[str] = Field(default_factory=list)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        value = normalise_username(value)
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be a Mattermost username")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        roles = [role.strip().lower() for role in value]
        for role in roles:
            if role != COORDINATOR and difflib.get_close_matches(role, [COORDINATOR], cutoff=0.7):
                raise ValueError(
                    f"unknown role {role!r}: did you mean {COORDINATOR!r}? A misspelt role "
                    "gives no rights"
                )
        return roles


def normalise_username(value: str) -> str:
    """Mattermost usernames are lower case; a leading @ is accepted and dropped."""
    return value.strip().removeprefix("@").lower()


class ReportSettings(BaseModel):
    """The ``report:`` section of bot.yaml: the weekly report is posted on ``weekday`` at ``time``
    (HH:MM, local time of ``shifts.timezone``). It lives here, not in ``report_job``, so that
    ``dastbot.kernel.config`` can import it without an import cycle or the store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: str = "mon"
    time: str = "09:00"

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        lowered = value.strip().lower()
        lowered = dict(zip(_FULL_WEEKDAYS, WEEKDAYS, strict=True)).get(lowered, lowered)
        if lowered not in WEEKDAYS:
            raise ValueError(f"unknown weekday {value!r}; use one of {', '.join(WEEKDAYS)}")
        return lowered

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            parsed = datetime.strptime(value.strip(), "%H:%M")
        except ValueError:
            raise ValueError(f"{value!r} is not a time HH:MM") from None
        return parsed.strftime("%H:%M")

    @property
    def weekday_index(self) -> int:
        return WEEKDAYS.index(self.weekday)

    @property
    def at(self) -> _Time:
        hours, minutes = self.time.split(":")
        return _Time(int(hours), int(minutes))
