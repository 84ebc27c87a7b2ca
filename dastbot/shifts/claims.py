"""A taken question whose taker goes quiet: the job that reminds the taker in its thread after
``shifts.claim_reminder_days`` working days without a word from them there, and tells the zone's
coordinator after twice as many. Nothing is released on its own (the taker may be working on it
elsewhere); a reply, or any command of theirs on the thread, starts the count again.

Working days are the shift calendar's (its weekdays, less public holidays and closures), so a
question taken on Friday afternoon is not chased over the weekend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import mention
from dastbot.kernel.models import OutMessage
from dastbot.questions.lifecycle import CLAIMED
from dastbot.shifts.calendar import Calendar
from dastbot.shifts.duty import Duty
from dastbot.shifts.jobs import age
from dastbot.store import Store, iso, parse_iso

Permalink = Callable[[str], str]
SCAN_DAYS = 400
"""How far ahead working days are looked for (a calendar of closures only ends the search)."""


def after_working_days(calendar: Calendar, start: datetime, days: int) -> datetime:
    """``start`` moved on by ``days`` working days at the same local wall-clock time."""
    at, counted = start, 0
    for _ in range(SCAN_DAYS):
        at = calendar.add_local_days(at, 1)
        if calendar.is_working_day(calendar.local_day(at)):
            counted += 1
            if counted >= days:
                break
    return at


class ForgottenClaimJob:
    """Reminds the taker of a question that has had nothing from them, then its coordinator."""

    id = "forgotten-claim"
    coalesce = True

    def __init__(self, config: Config, store: Store, duty: Duty, permalink: Permalink) -> None:
        self.config, self.store, self.duty, self.permalink = config, store, duty, permalink

    @property
    def days(self) -> int:
        return self.config.shifts.claim_reminder_days

    def _state(self, row: dict[str, Any]) -> tuple[datetime, bool, bool]:
        """(the taker's last sign of work on the thread, reminded since then, coordinator told
        since then). A supporter's reply in the thread counts as work too."""
        taker = str(row["claimed_by"] or "")
        last = parse_iso(row["updated_at"])
        trail = self.store.events(str(row["thread_id"]))
        working = [
            e
            for e in trail
            if e["actor"] == taker
            or (e["kind"] == EventKind.HUMAN_REPLY and e["data"].get("supporter"))
        ]
        if working:
            last = max(parse_iso(e["at"]) for e in working)
        since = iso(last)
        done = {e["kind"] for e in trail if e["data"].get("quiet_since") == since}
        return last, EventKind.CLAIM_REMINDED in done, EventKind.CLAIM_COORDINATOR_TOLD in done

    def _steps(self, row: dict[str, Any]) -> tuple[datetime, datetime | None, datetime | None]:
        """(last work, when to remind or None once done, when to tell or None once done)."""
        last, reminded, told = self._state(row)
        calendar = self.duty.calendar
        remind = None if reminded else after_working_days(calendar, last, self.days)
        tell = None if told else after_working_days(calendar, last, 2 * self.days)
        return last, remind, tell

    def _claimed(self) -> list[dict[str, Any]]:
        return [r for r in self.store.questions((CLAIMED,)) if r.get("claimed_by")]

    def next_due(self, after: datetime) -> datetime | None:
        dues = [
            step for row in self._claimed() for step in self._steps(row)[1:] if step is not None
        ]
        return min(dues) if dues else None

    def run(self, due: datetime, now: datetime) -> None:
        for row in self._claimed():
            last, remind, tell = self._steps(row)
            thread, taker = str(row["thread_id"]), str(row["claimed_by"])
            since = iso(last)
            if remind is not None and remind <= now:
                text = (
                    f"{mention(taker)}: you took this question and have written nothing here for "
                    f"{age(since, now)}. Answer {row['author_name']}, give it back with "
                    "`@dastbot release` so that the shifter on duty takes it, or close it with "
                    "`@dastbot resolve` if it is solved."
                )
                key = f"claim-reminder:{thread}:{since}"
                self.store.enqueue(OutMessage(str(row["channel_id"]), text, thread, key), now)
                self.store.record(
                    EventKind.CLAIM_REMINDED, now, thread, self.config.bot_name, quiet_since=since
                )
            if tell is not None and tell <= now:
                who = mention(self.duty.at(now).coordinator) or "Coordinators"
                text = (
                    f"{who}: [a question]({self.permalink(thread)}) by {row['author_name']} was "
                    f"taken by {taker}, who has written nothing there for {age(since, now)} "
                    f"({2 * self.days} working days; asked {age(row['created_at'], now)} ago). "
                    "Ask them, or take it over."
                )
                key = f"claim-coordinator:{thread}:{since}"
                channel = self.config.mattermost.coordinators_channel
                self.store.enqueue(OutMessage(channel, text, key=key), now)
                self.store.record(
                    EventKind.CLAIM_COORDINATOR_TOLD,
                    now,
                    thread,
                    self.config.bot_name,
                    quiet_since=since,
                )
