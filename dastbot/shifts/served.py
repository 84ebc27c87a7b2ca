"""Which slots were actually served, and by whom: the rule shift credit and load count by.

A slot counts once it has ended, on a day that is (still) a working day. Each place of a slot
(1st-level shifter, trainee) counts for whoever held it at the slot's start, read from the
schedule's history (``shift_changes``): a slot released or swapped before its start counts for
the new holder or for nobody; released or swapped after its start, for the one who held it at the
start. A place empty at the start counts for the first person booked into it while the slot ran.
When the history begins only after the slot ended (a past schedule imported later, a schedule
from before the history was kept), the first recorded people count.

Pure: the calendar, the history rows and ``now`` in, ``Served`` slots out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from dastbot.shifts.calendar import Calendar, SlotInstance, as_utc, local_days
from dastbot.store import parse_iso

PLACES = ("shifter", "trainee")


@dataclass(frozen=True)
class Served:
    """One served slot: its day, name, zone and who served as shifter and as trainee."""

    day: date
    slot: str
    zone: str
    shifter: str | None
    trainee: str | None

    def people(self) -> list[tuple[str, str]]:
        """(person, level) of each place held."""
        return [
            (who, level)
            for who, level in ((self.shifter, "shifter"), (self.trainee, "trainee"))
            if who
        ]


def _holder(history: list[dict[str, Any]], place: str, slot: SlotInstance) -> str | None:
    """Who held ``place`` of ``slot`` at its start (see the module's rule)."""
    times = [(_at(row), row) for row in history]
    before = [row for at, row in times if at <= slot.start]
    if before and before[-1][place]:
        return str(before[-1][place])
    if not before and times and all(at >= slot.end for at, _ in times):
        first = history[0][place]
        return str(first) if first else None
    for at, row in times:
        if slot.start < at < slot.end and row[place]:
            return str(row[place])
    return None


def _at(row: Mapping[str, Any]) -> datetime:
    """The change's instant; a change of unknown time ("", from before the history was kept)
    counts as long before every slot."""
    text = row["at"]
    return parse_iso(text) if text else datetime.min.replace(tzinfo=UTC)


def served_slots(
    calendar: Calendar,
    changes: Iterable[Mapping[str, Any]],
    first: date,
    last: date,
    now: datetime,
) -> list[Served]:
    """The slots of local days ``first`` to ``last`` that ended by ``now`` and were served, in
    time order; ``changes`` are the history rows of those days (``Store.shift_changes``)."""
    now = as_utc(now)
    by_slot: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in changes:
        by_slot.setdefault((str(row["day"]), str(row["slot"])), []).append(dict(row))
    served: list[Served] = []
    for day in local_days(first, last):
        for slot in calendar.slots_on(day):
            if slot.end > now:
                continue
            history = by_slot.get((day.isoformat(), slot.name), [])
            shifter, trainee = (_holder(history, place, slot) for place in PLACES)
            if shifter or trainee:
                served.append(Served(day, slot.name, slot.zone, shifter, trainee))
    return served
