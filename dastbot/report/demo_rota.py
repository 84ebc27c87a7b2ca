"""The synthetic history's shift schedule, and staffed-time arithmetic over it.

``write_schedule`` books one shifter per slot and week (the EU slot mostly staffed, the NA slot
often empty, a trainee now and then) through the store's own ``set_assignment``, and returns the
``Rota`` the demo's questions use to decide who answers and when. ``DEMO_ROSTER`` stands in when
the configuration has no roster.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import Person
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store

DEMO_ROSTER = (
    Person(user="anna", zone="EU"),
    Person(user="bruno", zone="EU"),
    Person(user="chiara", zone="EU"),
    Person(user="dmitri", zone="EU"),
    Person(user="emil", zone="EU", level="trainee"),
    Person(user="fatima", zone="EU", level="trainee"),
    Person(user="grace", zone="NA"),
    Person(user="hiro", zone="NA"),
    Person(user="ines", zone="NA", level="trainee"),
    Person(user="cora", zone="EU", roles=["coordinator"]),
    Person(user="nora", zone="NA", roles=["coordinator"]),
)
STAFFED_PROBABILITY = {"EU": 0.9, "NA": 0.45}
TRAINEE_PROBABILITY = {"EU": 0.35, "NA": 0.15}


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    zone: str
    shifter: str | None
    trainee: str | None


class Rota:
    """The staffed slots in time order, for fast staffed-time arithmetic."""

    def __init__(self, slots: Sequence[Slot]) -> None:
        self.slots = [s for s in slots if s.shifter]
        self.ends = [s.end for s in self.slots]

    def at(self, instant: datetime) -> Slot | None:
        i = bisect.bisect_right(self.ends, instant)
        if i < len(self.slots) and self.slots[i].start <= instant:
            return self.slots[i]
        return None

    def add(self, start: datetime, minutes: float) -> tuple[datetime, Slot] | None:
        """The instant ``minutes`` staffed minutes after ``start``, and the slot it falls in."""
        remaining = timedelta(minutes=minutes)
        for slot in self.slots[bisect.bisect_right(self.ends, start) :]:
            begin = max(slot.start, start)
            if remaining < slot.end - begin:
                return begin + remaining, slot
            remaining -= slot.end - begin
        return None


def write_schedule(
    store: Store,
    calendar: Calendar,
    rng: random.Random,
    shifters: Mapping[str, Sequence[str]],
    trainees: Mapping[str, Sequence[str]],
    first: date,
    last: date,
) -> tuple[Rota, int]:
    """Book the slots from ``first`` to ``last`` (one transaction); the rota and how many slots
    were booked. ``shifters`` and ``trainees`` are the people per time zone."""
    slots: list[Slot] = []
    booked = 0
    stamp = datetime.combine(first, time(0), calendar.zone).astimezone(UTC)
    week_people: dict[tuple[str, str], str | None] = {}
    day = first
    with store.atomic():
        while day <= last:
            for instance in calendar.slots_on(day):
                zone = instance.zone
                key = (f"{day.isocalendar()[:2]}", instance.name)
                if key not in week_people:
                    people: list[str | None] = [*shifters.get(zone, [])] or [None]
                    week_people[key] = rng.choice(people)
                shifter = week_people[key]
                if rng.random() > STAFFED_PROBABILITY.get(zone, 0.7):
                    shifter = None
                trainee = None
                pool = trainees.get(zone)
                if pool and rng.random() < TRAINEE_PROBABILITY.get(zone, 0.2):
                    trainee = rng.choice(pool)
                if shifter or trainee:
                    store.set_assignment(
                        Assignment(day, instance.name, shifter, trainee), "demo", stamp
                    )
                    booked += 1
                slots.append(Slot(instance.start, instance.end, zone, shifter, trainee))
            day += timedelta(days=1)
    return Rota(slots), booked
