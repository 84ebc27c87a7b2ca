"""The roster's rules: who coordinates a zone, a user's role, who may hold which place of a
slot, shift credit, and the roster's consistency with the configured slots and known roles. Pure
functions over ``roster:`` entries (``Person``).

A coordinator role wins over the person's level; a user not on the roster has the role "user".
A slot's shifter must be a rostered 1st-level shifter, its trainee a rostered trainee.
Credit per slot: 1.0 as 1st-level shifter, 0.5 as trainee.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from dastbot.kernel.settings import COORDINATOR, Person, ShiftSettings, normalise_username

CREDIT = {"shifter": 1.0, "trainee": 0.5}


def coordinator_for(roster: Sequence[Person], zone: str) -> str | None:
    """The first roster person with role "coordinator" in ``zone``."""
    for person in roster:
        if person.zone == zone and COORDINATOR in person.roles:
            return person.user
    return None


@dataclass(frozen=True)
class RosterCheck:
    """What ``dastbot check`` says about the roster: errors (the roster says something it cannot
    mean) and warnings (it works, but something is missing)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_roster(
    roster: Sequence[Person], settings: ShiftSettings, groups: Collection[str] | None = ()
) -> RosterCheck:
    """The roster against the slots and the known roles (``coordinator`` and the expert groups
    ``groups``, the ids of the contacts' expert-group targets; None when they could not be read,
    and then other roles are not checked).

    Errors: a user listed twice (with both zones when they differ), a zone no slot has, a role
    nobody knows (a misspelt ``coordinator`` would silently give no rights). Warnings: an empty
    roster (every shift command is refused), a slot zone without a coordinator.
    """
    check = RosterCheck()
    if not roster:
        check.warnings.append(
            "roster: empty, so nobody is a shifter or coordinator and the shift, take, resolve "
            "and escalate commands are refused for everyone; add people to `roster:` in bot.yaml "
            "(README: 'Roster, roles and schedule')"
        )
        return check
    zones = {slot.zone for slot in settings.slots}
    known = (COORDINATOR, *sorted(set(groups or ()) - {COORDINATOR}))
    first: dict[str, tuple[int, Person]] = {}
    for i, person in enumerate(roster):
        if person.user in first:
            j, earlier = first[person.user]
            zones_differ = (
                f" with another zone ({earlier.zone} at roster.{j}, {person.zone} here); "
                "a person belongs to one zone"
                if earlier.zone != person.zone
                else f" (first at roster.{j})"
            )
            check.errors.append(f"roster.{i}: {person.user} is listed twice{zones_differ}")
        else:
            first[person.user] = (i, person)
        if person.zone not in zones:
            check.errors.append(
                f"roster.{i}: {person.user}: zone {person.zone!r} is not the zone of any slot "
                f"({', '.join(sorted(zones))})"
            )
        for role in person.roles:
            if groups is not None and role not in known:
                check.errors.append(
                    f"roster.{i}: {person.user}: unknown role {role!r} (known roles: "
                    f"{', '.join(known)}); a misspelt role gives no rights"
                )
    for zone in sorted(zones):
        if coordinator_for(roster, zone) is None:
            check.warnings.append(
                f"roster: slot zone {zone} has no coordinator, so its alerts mention nobody; "
                f"give someone in zone {zone} `roles: [coordinator]`"
            )
    return check


def role_of(roster: Sequence[Person], user: str) -> str:
    """The user's role: coordinator (wins over level), shifter, trainee, or user (not rostered)."""
    name = normalise_username(user)
    for person in roster:
        if person.user == name:
            return COORDINATOR if COORDINATOR in person.roles else person.level
    return "user"


def coordinators(roster: Sequence[Person]) -> list[str]:
    """Every coordinator on the roster, in roster order."""
    return [p.user for p in roster if COORDINATOR in p.roles]


NOT_A_PERSON = frozenset({"channel", "here", "all"})
"""Mattermost's group mentions: never a name a slot can be given to."""


def refusal_to_hold(roster: Sequence[Person], user: str, place: str = "shifter") -> str | None:
    """Why ``user`` cannot be a slot's ``place`` ("shifter" or "trainee"), or None when they can:
    only a rostered person of that level can."""
    name = normalise_username(user)
    if name in NOT_A_PERSON:
        return f"@{name} is not a person: a shift goes to one person from the roster"
    person = next((p for p in roster if p.user == name), None)
    if person is None:
        return f"{name} is not in the shifter roster"
    if person.level != place:
        return f"{name} is a {person.level} in the roster, so cannot be the slot's {place}" + (
            f"; book them as trainee with `/dast shift book DATE SLOT {name}`"
            if person.level == "trainee"
            else ""
        )
    return None


def credit(level: str) -> float:
    """Shift credit of one slot: 1.0 for a shifter, 0.5 for a trainee."""
    if level not in CREDIT:
        raise ValueError(f"unknown level {level!r} (shifter or trainee)")
    return CREDIT[level]
