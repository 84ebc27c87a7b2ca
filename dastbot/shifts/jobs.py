"""The scheduled jobs of the shift rota: handovers at slot starts and ends, the no-reply rule, and
the daily coverage check. Each job only decides and records (outbox messages with stable keys),
inside the sweep's transaction, so a restart never posts the same thing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import POST_LIMIT, bounded, escape_markdown, mention
from dastbot.kernel.models import OutMessage
from dastbot.questions.lifecycle import CLAIMED, ESCALATED, OPEN_STATES, WAITING
from dastbot.shifts.duty import Duty, on_shift
from dastbot.shifts.load import team_load
from dastbot.shifts.staffing import coverage_gaps, next_boundary, no_reply_due, slot_boundaries
from dastbot.store import Store, iso, parse_iso

Permalink = Callable[[str], str]
COVERAGE_DAYS = 14
COVERAGE_AT = time(9, 0)
CANDIDATES = 8
"""People named per zone in the coverage alert as under the rate."""
HANDOVER_ITEMS = 30
"""Questions listed in a handover, most urgent first; the rest are counted."""


def needing_a_person(store: Store) -> list[dict[str, Any]]:
    """Open questions a shifter must act on, most urgent first: waiting for a person (oldest
    first), then escalated, then taken. Bot answers awaiting feedback are not listed."""
    rows = store.questions((WAITING, ESCALATED, CLAIMED))
    order = {WAITING: 0, ESCALATED: 1, CLAIMED: 2}
    return sorted(rows, key=lambda r: (order[r["state"]], r["created_at"]))


def replied_since_waiting(row: dict[str, Any]) -> bool:
    """A person replied after the question last started waiting (a reply before it was
    reopened does not count)."""
    first, since = row.get("first_human_at"), row.get("waiting_since")
    return bool(first) and (not since or str(first) >= str(since))


def age(since: str, now: datetime) -> str:
    delta = now - parse_iso(since)
    hours = int(delta.total_seconds() // 3600)
    if hours < 1:
        return f"{max(int(delta.total_seconds() // 60), 0)} min"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"


def question_lines(rows: list[dict[str, Any]], permalink: Permalink, now: datetime) -> list[str]:
    lines = []
    for row in rows:
        text = escape_markdown(" ".join(str(row["text"] or "").split())[:70])
        owner = f", taken by {row['claimed_by']}" if row.get("claimed_by") else ""
        lines.append(
            f"- [{text or row['thread_id']}]({permalink(row['thread_id'])}): {row['state']}"
            f"{owner}, asked by {row['author_name']} {age(row['created_at'], now)} ago"
        )
    return lines


class HandoverJob:
    """At each slot start and end: what is open, for the incoming shifter or the record."""

    id = "handover"
    coalesce = True

    def __init__(self, config: Config, store: Store, duty: Duty, permalink: Permalink) -> None:
        self.config, self.store, self.duty, self.permalink = config, store, duty, permalink
        self.extra_sections: list[Callable[[datetime], list[str]]] = []

    def next_due(self, after: datetime) -> datetime | None:
        return next_boundary(self.duty.calendar, after)

    def run(self, due: datetime, now: datetime) -> None:
        for at, kind, slot in slot_boundaries(self.duty.calendar, due - timedelta(seconds=1), due):
            if at != due:
                continue
            assignment = self.store.assignment(slot.day, slot.name)
            shifter = assignment.shifter if assignment else None
            trainee = assignment.trainee if assignment else None
            open_rows = needing_a_person(self.store)
            if kind == "start":
                people = mention(shifter) or "**nobody** (unstaffed slot)"
                if trainee:
                    people += f", trainee {mention(trainee)}"
                head = f"**{slot.name} shift {slot.day:%a %d %b} starts.** On duty: {people}."
            else:
                head = f"**{slot.name} shift {slot.day:%a %d %b} ends.**"
            extra = [line for section in self.extra_sections for line in section(now)]
            tail = "\n".join(extra)
            text = bounded(
                f"{head}\nQuestions needing a person: {len(open_rows)}",
                question_lines(open_rows, self.permalink, now),
                lambda n: f"_… and {n} more: `/dast status` lists them all._",
                limit=POST_LIMIT - len(tail) - 1,
                most=HANDOVER_ITEMS,
            )
            body = [text, *extra] if extra else [text]
            target = self.config.mattermost.coordinators_channel
            if self.config.shifts.handover == "dm" and kind == "start" and shifter:
                target = f"@{shifter}"
            key = f"handover:{kind}:{slot.day.isoformat()}:{slot.name}"
            self.store.enqueue(OutMessage(target, "\n".join(body), key=key), now)
            if kind == "start" and shifter:
                self._ping_waiting(open_rows, slot.start, on_shift(shifter, trainee), now, key)

    def _ping_waiting(
        self, rows: list[dict[str, Any]], start: datetime, people: str, now: datetime, key: str
    ) -> None:
        """Questions that were told to wait for this shift get the shifter in their thread."""
        for row in rows:
            if not row.get("waiting_for") or parse_iso(row["waiting_for"]) > start:
                continue
            if row.get("claimed_by") or replied_since_waiting(row):
                continue
            text = f"{people}: this question has been waiting for your shift."
            self.store.enqueue(
                OutMessage(row["channel_id"], text, row["thread_id"], f"{key}:{row['thread_id']}"),
                now,
            )
            self.store.update_question(row["thread_id"], now, waiting_for=None, pinged_at=iso(now))


class NoReplyJob:
    """A question without a human reply after N staffed minutes is pinged again; after 2N its
    zone's coordinator is told. Deadlines live on the question rows."""

    id = "no-reply"
    coalesce = False

    def __init__(self, config: Config, store: Store, duty: Duty, permalink: Permalink) -> None:
        self.config, self.store, self.duty, self.permalink = config, store, duty, permalink

    def _pending(self) -> list[dict[str, Any]]:
        return self.store.questions_awaiting_no_reply_step(OPEN_STATES)

    def _dues(self, rows: list[dict[str, Any]]) -> list[tuple[datetime | None, datetime | None]]:
        """(re-ping, tell the coordinator) for each row, counted from when it started waiting
        in the schedule as it is now (a shift booked or swapped since moves them). With no
        staffed time ahead, or for rows from before ``waiting_since``, the stored times hold."""
        starts = [parse_iso(r["waiting_since"]) for r in rows if r.get("waiting_since")]
        staffed = self.duty.staffed(min(starts)) if starts else None
        dues: list[tuple[datetime | None, datetime | None]] = []
        for row in rows:
            stored = (
                parse_iso(row["reping_due"]) if row["reping_due"] else None,
                parse_iso(row["coordinator_due"]) if row["coordinator_due"] else None,
            )
            if staffed is None or not row.get("waiting_since") or stored[0] is None:
                dues.append(stored)
                continue
            since = parse_iso(row["waiting_since"])
            fresh = no_reply_due(self.duty.calendar, staffed, since)
            dues.append(fresh if fresh[0] is not None else stored)
        return dues

    def next_due(self, after: datetime) -> datetime | None:
        rows = self._pending()
        dues: list[datetime] = []
        for row, (reping, coordinator) in zip(rows, self._dues(rows), strict=True):
            if reping and not row["repinged_at"]:
                dues.append(reping)
            if coordinator and not row["coordinator_at"]:
                dues.append(coordinator)
        return min(dues) if dues else None

    def run(self, due: datetime, now: datetime) -> None:
        minutes = self.config.shifts.no_reply_minutes
        duty = self.duty.at(now)
        rows = self._pending()
        for row, (reping, coordinator_due) in zip(rows, self._dues(rows), strict=True):
            thread = row["thread_id"]
            if reping and not row["repinged_at"] and reping <= now:
                people = on_shift(duty.shifter, duty.trainee, nobody="Shifters")
                text = f"{people}: still no reply from a person after {minutes} minutes on shift."
                key = f"reping:{thread}:{row['waiting_since'] or row['reping_due']}"
                self.store.enqueue(OutMessage(row["channel_id"], text, thread, key), now)
                self.store.update_question(thread, now, repinged_at=iso(now))
                self.store.record(EventKind.REPINGED, now, thread, self.config.bot_name)
            due_at = row["waiting_since"] or row["coordinator_due"]
            if coordinator_due and not row["coordinator_at"] and coordinator_due <= now:
                coordinator = duty.coordinator
                link = self.permalink(thread)
                who = mention(coordinator) or "Coordinators"
                if row["reping_due"]:
                    text = (
                        f"{who}: [a question]({link}) by {row['author_name']} has had no reply "
                        f"from a person for {2 * minutes} staffed minutes "
                        f"(asked {age(row['created_at'], now)} ago)."
                    )
                else:
                    text = (
                        f"{who}: [a question]({link}) by {row['author_name']} needs a person, "
                        "and no shift is staffed in the coming weeks."
                    )
                key = f"coordinator:{thread}:{due_at}"
                channel = self.config.mattermost.coordinators_channel
                self.store.enqueue(OutMessage(channel, text, key=key), now)
                self.store.update_question(thread, now, coordinator_at=iso(now))
                self.store.record(EventKind.COORDINATOR_TOLD, now, thread, self.config.bot_name)


class CoverageJob:
    """Once a day: unstaffed slots in the next two weeks, each gap told once, with the people of
    the gaps' zones who are under the sustainable rate (``load.could_take``), by name only."""

    id = "coverage"
    coalesce = True

    def __init__(self, config: Config, store: Store, duty: Duty) -> None:
        self.config, self.store, self.duty = config, store, duty

    def next_due(self, after: datetime) -> datetime | None:
        zone = self.duty.calendar.zone
        local = after.astimezone(zone)
        candidate = datetime.combine(local.date(), COVERAGE_AT, zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), COVERAGE_AT, zone)
        return candidate

    def _who_could_take(self, zones: list[str], now: datetime) -> list[str]:
        load = team_load(self.store, self.duty.calendar, self.duty.roster, self.config.people, now)
        rate = f"{load.rate:g}"
        lines = []
        for zone in zones:
            people = load.could_take(zone)[:CANDIDATES]
            if people:
                names = ", ".join(f"{p.user} ({p.last4} in 4 weeks)" for p in people)
                lines.append(f"Under the rate of {rate} shifts in 4 weeks in {zone}: {names}.")
            else:
                lines.append(f"Nobody in {zone} is under the rate of {rate} shifts in 4 weeks.")
        return lines

    def run(self, due: datetime, now: datetime) -> None:
        assignments = self.duty.assignments_from(now)
        gaps = coverage_gaps(self.duty.calendar, assignments, now, COVERAGE_DAYS)
        new = [g for g in gaps if self.store.notice_once(f"gap:{g.day}:{g.name}", now)]
        if not new:
            return
        who = " ".join(mention(c) for c in self.duty.coordinators()) or "Coordinators"
        lines = [f"{who}: {len(new)} unstaffed slot(s) in the next {COVERAGE_DAYS} days:"]
        for gap in new:
            local = gap.start.astimezone(self.duty.calendar.zone)
            trainee = assignments.get(gap.key)
            note = f" (trainee {trainee.trainee} only)" if trainee and trainee.trainee else ""
            lines.append(f"- {gap.name} {local:%a %d %b %H:%M %Z}{note}")
        lines += self._who_could_take(sorted({gap.zone for gap in new}), now)
        lines.append("Book one with `/dast shift book DATE SLOT`.")
        key = f"coverage:{self.duty.calendar.local_day(due).isoformat()}"
        text = bounded(lines[0], lines[1:], lambda n: f"_… and {n} more: `/dast shift gaps`._")
        channel = self.config.mattermost.coordinators_channel
        self.store.enqueue(OutMessage(channel, text, key=key), now)
