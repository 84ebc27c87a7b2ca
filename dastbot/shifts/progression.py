"""Trainee progression: a trainee's record (slots served as trainee, question threads handled,
escalations opened) against ``people.promotion``; when a trainee reaches it, the coordinators are
told once (``ProgressionJob``, checked at every slot boundary) with the record, and
``/dast roster promote USER`` (``members.promote``) makes them a 1st-level shifter.

Shifts count by ``served.served_slots`` over the whole recorded schedule; threads are the
distinct threads the trainee replied in or took; escalations those they opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import mention
from dastbot.kernel.models import OutMessage
from dastbot.kernel.settings import Person
from dastbot.kernel.team_settings import PromotionThreshold
from dastbot.shifts.calendar import Calendar
from dastbot.shifts.duty import Duty
from dastbot.shifts.roster import coordinator_for
from dastbot.shifts.served import served_slots
from dastbot.shifts.staffing import next_boundary
from dastbot.store import Store

HISTORY_START = date(2000, 1, 1)


@dataclass(frozen=True)
class TraineeRecord:
    user: str
    zone: str
    shifts: int
    threads: int
    escalations: int

    def reached(self, threshold: PromotionThreshold) -> bool:
        return self.shifts >= threshold.shifts and self.threads >= threshold.threads

    def describe(self, threshold: PromotionThreshold) -> str:
        return (
            f"{self.shifts} of {threshold.shifts} shifts served as trainee, {self.threads} of "
            f"{threshold.threads} question threads handled, {self.escalations} escalation(s) "
            "opened"
        )


def trainee_records(
    store: Store, calendar: Calendar, people: Sequence[Person], now: datetime
) -> list[TraineeRecord]:
    """The records of ``people`` (trainees, usually), in the order given."""
    if not people:
        return []
    today = calendar.local_day(now)
    changes = store.shift_changes(HISTORY_START, today)
    served = served_slots(calendar, changes, _first_day(changes, today), today, now)
    shifts = {p.user: 0 for p in people}
    for slot in served:
        if slot.trainee in shifts:
            shifts[slot.trainee] += 1
    names = [p.user for p in people]
    threads = store.threads_handled(names)
    escalations = store.escalations_opened_in_all(names)
    return [
        TraineeRecord(p.user, p.zone, shifts[p.user], threads[p.user], escalations[p.user])
        for p in people
    ]


def _first_day(changes: Sequence[dict[str, object]], today: date) -> date:
    days = [date.fromisoformat(str(row["day"])) for row in changes]
    return min(days, default=today)


class ProgressionJob:
    """At every slot start and end: trainees who reached the threshold, each told once."""

    id = "trainee-progress"
    coalesce = True

    def __init__(self, config: Config, store: Store, duty: Duty) -> None:
        self.config, self.store, self.duty = config, store, duty

    def next_due(self, after: datetime) -> datetime | None:
        return next_boundary(self.duty.calendar, after)

    def run(self, due: datetime, now: datetime) -> None:
        roster = self.duty.roster
        trainees = [p for p in roster if p.level == "trainee"]
        threshold = self.config.people.promotion
        for record in trainee_records(self.store, self.duty.calendar, trainees, now):
            if not record.reached(threshold):
                continue
            if not self.store.notice_once(f"promotion-ready:{record.user}", now):
                continue
            who = mention(coordinator_for(roster, record.zone)) or "Coordinators"
            text = (
                f"{who}: trainee **{record.user}** ({record.zone}) has reached the promotion "
                f"threshold: {record.describe(threshold)}. Promote with "
                f"`/dast roster promote {record.user}`."
            )
            channel = self.config.mattermost.coordinators_channel
            self.store.enqueue(OutMessage(channel, text, key=f"promotion-ready:{record.user}"), now)
            self.store.record(
                EventKind.PROMOTION_READY,
                now,
                actor=self.config.bot_name,
                user=record.user,
                shifts=record.shifts,
                threads=record.threads,
                escalations=record.escalations,
            )
