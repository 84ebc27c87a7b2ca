"""The credit ledger: per person and period, the shifts served by level and zone, the credit
earned, the questions taken and resolved and the escalations opened; as markdown, CSV or JSON.

Shifts count by ``served.served_slots`` (ended slots, for whoever held each place at the start);
credit per slot is ``people.credit`` (1.0 as 1st-level shifter, 0.5 as trainee by default). The
period is of local days in the shift calendar's zone, both ends included; the counts from the
audit trail are of the instants inside those days.

CSV columns (one row per person and period; ``COLUMNS``, then two per configured zone):

==================  =========================================================================
``person``          Mattermost username
``zone``            the person's zone on the roster ("" when not on it any more)
``level``           shifter or trainee, on the roster now
``period_start``    first day of the period, YYYY-MM-DD
``period_end``      last day of the period, YYYY-MM-DD (included)
``shifter_shifts``  slots served as 1st-level shifter
``trainee_shifts``  slots served as trainee
``credit``          shifter_shifts x credit.shifter + trainee_shifts x credit.trainee
``taken``           question threads taken (``/dast take`` or the Take button)
``resolved``        question threads resolved
``escalations``     escalations opened
``shifts_<ZONE>``   slots served (either place) in the slots of zone <ZONE>, one per zone
==================  =========================================================================
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dastbot.kernel.markdown import POST_LIMIT, bounded, table
from dastbot.kernel.settings import Person
from dastbot.kernel.team_settings import CreditWeights
from dastbot.shifts.calendar import Calendar, local_instant
from dastbot.shifts.served import served_slots
from dastbot.store import Store

COLUMNS = (
    "person",
    "zone",
    "level",
    "period_start",
    "period_end",
    "shifter_shifts",
    "trainee_shifts",
    "credit",
    "taken",
    "resolved",
    "escalations",
)
MAX_PERIOD_DAYS = 400
PERIOD_HELP = (
    "a month `2026-03`, a week `2026-W10`, a day `2026-03-02`, a range "
    "`2026-03-01..2026-03-31`, `this-month` or `last-month`"
)
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class CreditRow:
    person: str
    zone: str
    level: str
    first: date
    last: date
    shifter_shifts: int
    trainee_shifts: int
    credit: float
    taken: int
    resolved: int
    escalations: int
    by_zone: dict[str, int] = field(default_factory=dict)

    def as_dict(self, zones: Sequence[str]) -> dict[str, Any]:
        row: dict[str, Any] = {
            "person": self.person,
            "zone": self.zone,
            "level": self.level,
            "period_start": self.first.isoformat(),
            "period_end": self.last.isoformat(),
            "shifter_shifts": self.shifter_shifts,
            "trainee_shifts": self.trainee_shifts,
            "credit": round(self.credit, 3),
            "taken": self.taken,
            "resolved": self.resolved,
            "escalations": self.escalations,
        }
        row.update({f"shifts_{z}": self.by_zone.get(z, 0) for z in zones})
        return row


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def parse_period(text: str, today: date) -> tuple[date, date]:
    """The local days (first, last) of a period as typed; ValueError with a sentence otherwise."""
    value = text.strip().lower()
    try:
        if value == "this-month":
            return today.replace(day=1), today
        if value == "last-month":
            previous = today.replace(day=1) - timedelta(days=1)
            return _month(previous.year, previous.month)
        if (match := _MONTH.match(value)) is not None:
            return _month(int(match.group(1)), int(match.group(2)))
        if (match := _WEEK.match(value)) is not None:
            monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
            return monday, monday + timedelta(days=6)
        if ".." in value:
            start, _, end = value.partition("..")
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        else:
            first = last = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"`{text}` is not a period: use {PERIOD_HELP}") from None
    return checked_period(first, last)


def checked_period(first: date, last: date) -> tuple[date, date]:
    if first.year < 2000 or last.year > 2100:
        raise ValueError("a period lies between the years 2000 and 2100")
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ValueError(f"a period is at most {MAX_PERIOD_DAYS} days long")
    return first, last


def ledger(
    store: Store,
    calendar: Calendar,
    roster: Sequence[Person],
    weights: CreditWeights,
    first: date,
    last: date,
    now: datetime,
) -> list[CreditRow]:
    """One row per person who served, handled a question or escalated in the period, or is on
    the roster; ordered by credit (highest first), then name."""
    start = local_instant(calendar.zone, first, 0)
    end = local_instant(calendar.zone, last + timedelta(days=1), 0)
    served = served_slots(calendar, store.shift_changes(first, last), first, last, now)
    counts: dict[str, Counter[str]] = {}
    zones: dict[str, Counter[str]] = {}
    for slot in served:
        for user, level in slot.people():
            counts.setdefault(user, Counter())[level] += 1
            zones.setdefault(user, Counter())[slot.zone] += 1
    taken = store.questions_taken(start, end)
    resolved = store.questions_resolved(start, end)
    escalations = store.escalations_opened_by(start, end)
    on_roster = {p.user: p for p in roster}
    people = set(on_roster) | set(counts) | set(taken) | set(resolved) | set(escalations)
    rows = []
    for name in people:
        person = on_roster.get(name)
        served_as = counts.get(name, Counter())
        rows.append(
            CreditRow(
                person=name,
                zone=person.zone if person else "",
                level=person.level if person else "",
                first=first,
                last=last,
                shifter_shifts=served_as["shifter"],
                trainee_shifts=served_as["trainee"],
                credit=served_as["shifter"] * weights.shifter
                + served_as["trainee"] * weights.trainee,
                taken=taken[name],
                resolved=resolved[name],
                escalations=escalations[name],
                by_zone=dict(zones.get(name, Counter())),
            )
        )
    return sorted(rows, key=lambda r: (-r.credit, r.person))


def zones_of(calendar: Calendar) -> list[str]:
    return sorted({spec.zone for spec in calendar.slot_specs.values()})


def to_csv(rows: Sequence[CreditRow], zones: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[*COLUMNS, *(f"shifts_{z}" for z in zones)], lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_dict(zones))
    return out.getvalue()


def to_json(rows: Sequence[CreditRow], zones: Sequence[str]) -> str:
    return json.dumps([row.as_dict(zones) for row in rows], indent=2) + "\n"


def to_markdown(rows: Sequence[CreditRow], zones: Sequence[str], limit: int = POST_LIMIT) -> str:
    """A table bounded to the post limit (``limit`` characters when given)."""
    if not rows:
        return "Nobody served, took a question or escalated in this period."
    first, last = rows[0].first, rows[0].last
    head = f"**Shift credit {first} to {last}** (served slots; credit by level)"
    header = ("person", "level", *(f"{z} shifts" for z in zones), "as shifter", "as trainee",
              "credit", "taken", "resolved", "escalations")  # fmt: skip
    lines = table(
        header,
        [
            (
                r.person,
                r.level or "(not on roster)",
                *(r.by_zone.get(z, 0) for z in zones),
                r.shifter_shifts,
                r.trainee_shifts,
                f"{r.credit:g}",
                r.taken,
                r.resolved,
                r.escalations,
            )
            for r in rows
        ],
        "ll" + "r" * (len(header) - 2),
    ).split("\n")
    text_head = "\n".join([head, *lines[:2]])
    more = "_… and {} more people: `dastbot shifts credits --format csv` lists them all._"
    return bounded(text_head, lines[2:], more.format, limit=limit)
