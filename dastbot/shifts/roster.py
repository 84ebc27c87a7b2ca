"""The roster's rules: who coordinates a zone, a user's role, shift credit, and the roster's
consistency with the configured slots. Pure functions over ``roster:`` entries (``Person``).

A coordinator role wins over the person's level; a user not on the roster has the role "user".
Credit per slot: 1.0 as 1st-level shifter, 0.5 as trainee.
"""

from __future__ import annotations

from collections.abc import Sequence

from dastbot.kernel.settings import Person, ShiftSettings, normalise_username

CREDIT = {"shifter": 1.0, "trainee": 0.5}


def coordinator_for(roster: Sequence[Person], zone: str) -> str | None:
    """The first roster person with role "coordinator" in ``zone``."""
    for person in roster:
        if person.zone == zone and "coordinator" in person.roles:
            return person.user
    return None


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


def role_of(roster: Sequence[Person], user: str) -> str:
    """The user's role: coordinator (wins over level), shifter, trainee, or user (not rostered)."""
    name = normalise_username(user)
    for person in roster:
        if person.user == name:
            return "coordinator" if "coordinator" in person.roles else person.level
    return "user"


def coordinators(roster: Sequence[Person]) -> list[str]:
    """Every coordinator on the roster, in roster order."""
    return [p.user for p in roster if "coordinator" in p.roles]


def credit(level: str) -> float:
    """Shift credit of one slot: 1.0 for a shifter, 0.5 for a trainee."""
    if level not in CREDIT:
        raise ValueError(f"unknown level {level!r} (shifter or trainee)")
    return CREDIT[level]
