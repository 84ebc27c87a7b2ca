"""Load: how many shifts each person served lately against the sustainable rate, and how well
each zone is staffed, so that coordinators see overload before people burn out.

* A person's load is the slots they served (``served.served_slots``, either place) in the last 4
  and the last 12 weeks: the local days ending today, slots that ended by now.
* The rate is ``people.sustainable_shifts_per_4_weeks`` (R); a person is *above the rate* with more
  than R in 4 weeks or more than 3R in 12; *under the rate* with fewer than R in 4 weeks.
* A zone's staffed share is its slots of the last 4 weeks that had a 1st-level shifter; shown
  next to the zone's rostered 1st-level shifters and how many of them are under the rate.
* ``could_take``: the zone's 1st-level shifters under the rate, least loaded first (the
  coverage-gap alert names them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dastbot.kernel.markdown import POST_LIMIT, bounded, table
from dastbot.kernel.settings import Person
from dastbot.kernel.team_settings import TeamSettings
from dastbot.shifts.calendar import Calendar, local_days
from dastbot.shifts.served import served_slots
from dastbot.store import Store

SHORT_DAYS = 28
LONG_DAYS = 84


@dataclass(frozen=True)
class PersonLoad:
    user: str
    zone: str
    level: str
    last4: int
    last12: int
    above: bool
    under: bool


@dataclass(frozen=True)
class ZoneLoad:
    zone: str
    slots: int
    staffed: int
    shifters: int
    under: int

    @property
    def share(self) -> float | None:
        return self.staffed / self.slots if self.slots else None


@dataclass(frozen=True)
class TeamLoad:
    rate: float
    people: tuple[PersonLoad, ...]
    zones: tuple[ZoneLoad, ...]

    def above(self) -> list[PersonLoad]:
        return [p for p in self.people if p.above]

    def could_take(self, zone: str) -> list[PersonLoad]:
        """The zone's 1st-level shifters under the rate, least loaded first."""
        found = [p for p in self.people if p.zone == zone and p.level == "shifter" and p.under]
        return sorted(found, key=lambda p: (p.last4, p.last12, p.user))


def team_load(
    store: Store,
    calendar: Calendar,
    roster: Sequence[Person],
    settings: TeamSettings,
    now: datetime,
) -> TeamLoad:
    today = calendar.local_day(now)
    first_short = today - timedelta(days=SHORT_DAYS - 1)
    first_long = today - timedelta(days=LONG_DAYS - 1)
    served = served_slots(calendar, store.shift_changes(first_long, today), first_long, today, now)
    short: Counter[str] = Counter()
    long: Counter[str] = Counter()
    staffed: Counter[str] = Counter()
    for slot in served:
        for person, _level in slot.people():
            long[person] += 1
            if slot.day >= first_short:
                short[person] += 1
        if slot.day >= first_short and slot.shifter:
            staffed[slot.zone] += 1
    slots: Counter[str] = Counter(
        slot.zone
        for day in local_days(first_short, today)
        for slot in calendar.slots_on(day)
        if slot.end <= now
    )
    rate = settings.sustainable_shifts_per_4_weeks
    people = tuple(
        PersonLoad(
            user=p.user,
            zone=p.zone,
            level=p.level,
            last4=short[p.user],
            last12=long[p.user],
            above=short[p.user] > rate or long[p.user] > settings.sustainable_per_12_weeks,
            under=short[p.user] < rate,
        )
        for p in roster
    )
    zone_names = sorted({s.zone for s in calendar.slot_specs.values()})
    zones = tuple(
        ZoneLoad(
            zone=z,
            slots=slots[z],
            staffed=staffed[z],
            shifters=sum(1 for p in people if p.zone == z and p.level == "shifter"),
            under=sum(1 for p in people if p.zone == z and p.level == "shifter" and p.under),
        )
        for z in zone_names
    )
    return TeamLoad(rate, people, zones)


def zone_line(zone: ZoneLoad) -> str:
    share = f"{zone.share:.0%}" if zone.share is not None else "no slots yet"
    each = f", {zone.slots / zone.shifters:.1f} slots each" if zone.shifters else ""
    return (
        f"- {zone.zone}: {zone.staffed} of {zone.slots} slots staffed in the last 4 weeks "
        f"({share}); {zone.shifters} 1st-level shifter(s) on the roster{each}, {zone.under} "
        "under the rate"
    )


def load_markdown(load: TeamLoad, limit: int = POST_LIMIT) -> str:
    """The load table, people above the rate first, bounded to ``limit`` characters."""
    rate = f"{load.rate:g}"
    head = [
        f"**Load** (shifts served; sustainable: {rate} per 4 weeks, "
        f"{3 * load.rate:g} per 12 weeks)",
        *(zone_line(z) for z in load.zones),
    ]
    above = load.above()
    head.append(
        f"**Above the rate: {', '.join(p.user for p in above)}.**"
        if above
        else "Nobody is above the rate."
    )
    if not load.people:
        return "\n".join([*head, "The roster is empty."])
    ordered = sorted(load.people, key=lambda p: (not p.above, -p.last4, -p.last12, p.user))
    rows = table(
        ("person", "zone", "level", "last 4 weeks", "last 12 weeks", ""),
        [
            (
                p.user,
                p.zone,
                p.level,
                p.last4,
                p.last12,
                "**above the rate**" if p.above else ("under the rate" if p.under else ""),
            )
            for p in ordered
        ],
        "lllrrl",
    ).split("\n")
    return bounded(
        "\n".join([*head, "", *rows[:2]]),
        rows[2:],
        lambda n: f"_… and {n} more people._",
        limit=limit,
    )


def people_warnings(settings: TeamSettings) -> list[str]:
    """What ``dastbot check`` says about the ``people:`` settings beyond their validation."""
    if not settings.onboarding:
        return ["people.onboarding: empty, so nobody gets a checklist when a person joins"]
    return []
