"""The rota in force: the shift calendar from config, the roster, the schedule from the store,
and what the bot says when a question needs a human (ping the shifter, or say when the next
staffed shift starts, in the asker's own time zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dastbot.kernel.config import Config
from dastbot.kernel.markdown import mention
from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import Person
from dastbot.shifts.calendar import HORIZON_DAYS, Calendar, Staffed, staffed_by
from dastbot.shifts.members import roster_in_force
from dastbot.shifts.roster import coordinators, role_of
from dastbot.shifts.staffing import OnDuty, no_reply_due, on_duty
from dastbot.store import Store

REASONS = {
    "abstained": "",
    "not_helped": "Sorry my answer did not help.",
    "no_reply": "This question still has no reply from a person.",
}


@dataclass(frozen=True)
class HumanNeeded:
    """What to post in the thread, the deadlines of the no-reply rule, and ``ack``: what to tell
    the person whose feedback or click led here, saying the same as ``text`` in brief;
    ``people``: the usernames ``text`` mentions."""

    text: str
    on_duty: bool
    waiting_for: datetime | None
    reping_due: datetime | None
    coordinator_due: datetime | None
    ack: str = ""
    people: tuple[str, ...] = ()


def on_shift(shifter: str | None, trainee: str | None, nobody: str = "") -> str:
    """The people of a slot as mentions, ``@sam and @tina``; ``nobody`` stands in for no shifter."""
    return (mention(shifter) or nobody) + (f" and {mention(trainee)}" if trainee else "")


def describe_instant(instant: datetime, tz_name: str | None, now: datetime) -> str:
    """``Monday 30 March, 08:00 CEST (in 2 days 14 hours)`` in the reader's zone when known."""
    try:
        zone = ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    local = instant.astimezone(zone) if zone else instant
    label = local.strftime("%Z") if zone else "UTC"
    delta = instant - now
    hours = int(delta.total_seconds() // 3600)
    days, hours = divmod(max(hours, 0), 24)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    if hours or not days:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}" if hours else "less than an hour")
    return f"{local:%A %-d %B, %H:%M} {label} (in {' '.join(parts)})"


class Duty:
    """The rota in force: the calendar and roster of ``config`` with the schedule in ``store``."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.calendar = Calendar(config.shifts)

    @property
    def roster(self) -> list[Person]:
        """bot.yaml's roster with the changes stored since (``members.effective_roster``)."""
        return roster_in_force(self.config.roster, self.store)

    def assignments_from(self, at: datetime) -> dict[tuple[date, str], Assignment]:
        first = self.calendar.local_day(at) - timedelta(days=1)
        return self.store.assignments(first, first + timedelta(days=HORIZON_DAYS + 2))

    def staffed(self, at: datetime) -> Staffed:
        return staffed_by(self.assignments_from(at))

    def at(self, instant: datetime) -> OnDuty:
        return on_duty(self.calendar, self.assignments_from(instant), self.roster, instant)

    def role_of(self, user: str) -> str:
        return role_of(self.roster, user)

    def coordinators(self) -> list[str]:
        return coordinators(self.roster)

    def deadlines(self, since: datetime) -> tuple[datetime | None, datetime | None]:
        """(re-ping, tell the coordinator) for a question that needs a person from ``since``."""
        return no_reply_due(self.calendar, self.staffed(since), since)

    def human_needed(self, reason: str, now: datetime, tz_name: str | None) -> HumanNeeded:
        """Who is asked in the thread: the shifter on duty (and trainee); on a trainee-only slot
        the trainee, saying when the next 1st-level shifter starts; else nobody, and the asker
        hears when the next staffed shift starts (or that the coordinators were told)."""
        duty = self.at(now)
        reping, coordinator = self.deadlines(now)
        why = REASONS.get(reason, "")
        if duty.shifter:
            people = on_shift(duty.shifter, duty.trainee)
            text = f"{people}, could you take this one? {why}".strip()
            ack = f"Thanks: I have asked {people} to take over."
            names = tuple(p for p in (duty.shifter, duty.trainee) if p)
            return HumanNeeded(text, True, None, reping, coordinator, ack, names)
        when = describe_instant(duty.next_slot_start, tz_name, now) if duty.next_slot_start else ""
        if duty.trainee:
            trainee = mention(duty.trainee)
            text = f"{trainee}, could you take this one? {why}".strip()
            if when:
                text += f" (No 1st-level shifter on this shift; the next one starts {when}.)"
            else:
                text += (
                    " (No 1st-level shifter on this shift, nor in the coming weeks, so the "
                    "coordinators are told too.)"
                )
                coordinator = now
            ack = f"Thanks: I have asked {trainee}, the trainee on shift, to take over."
            return HumanNeeded(
                text, True, duty.next_slot_start, reping, coordinator, ack, (duty.trainee,)
            )
        if duty.next_slot_start is not None:
            text = (
                f"{why} Nobody is on shift right now; the next shift starts {when}. "
                "Your question is noted and the shifter will see it then."
            )
            ack = f"Thanks: nobody is on shift right now; the next shift starts {when}."
            return HumanNeeded(text.strip(), False, duty.next_slot_start, reping, coordinator, ack)
        text = (
            f"{why} No shift is staffed in the coming weeks, so I have passed your question to "
            "the coordinators."
        )
        ack = "Thanks: no shift is staffed in the coming weeks, so the coordinators were told."
        return HumanNeeded(text.strip(), False, None, None, now, ack)
