"""Synthetic DAST history for demos, the weekly report's benchmark and manual testing.

This module owns ``fill_demo``: a deterministic (per seed) history of questions, their audit
trail, escalations and a shift schedule, written the way the bot writes them (every question
state change through ``dastbot.questions.lifecycle.transition``, every other record through the
``Store``'s own methods) so the rows look exactly like the bot's.

The shape is DAST's forum: about 10,000 messages a year (questions and the replies people write
in their threads) from about 1,400 askers a year, many of whom ask once (``demo_traffic.Askers``).
Per working day about 12 new threads (Monday busiest, Friday quietest, a random factor per week
and per day; a few on weekends and holidays), asked mostly in European office hours; about 40 %
answered by the bot from the shipped knowledge base (most confirmed helpful, some not, some
without feedback and closed after ``questions.close_unrated_after_hours`` as the bot closes
them), the rest handed to the shifter on duty, with first responses a few staffed minutes later
on duty and at the next staffed shift (or from a coordinator) off duty, and often a follow-up or
two between the asker and the shifter; about one handled thread in eleven escalated to a cloud,
site support or an expert group, most of which reply, some only after their deadline. Around
every event the rows a live run writes are written too (``demo_traffic.Traffic``): the posts the
bot saw (``seen_posts``) and the messages it sent, marked sent (``outbox``). The schedule
(``demo_rota``) has the EU slot mostly staffed and the NA slot often empty, and runs four weeks
past ``end``. Question texts (``demo_texts``) come from the knowledge base's patterns;
abstentions also draw from recurring out-of-scope topics. Nothing after ``end`` is written: the
history is what the bot would know at ``end``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dastbot.answering.knowledge import Entry, load_knowledge
from dastbot.escalations.contacts import load_contacts
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.models import Escalation
from dastbot.kernel.paths import data_file, knowledge_path
from dastbot.questions.lifecycle import (
    EVENT_OF,
    InvalidTransition,
    initial_state,
    is_open,
    transition,
)
from dastbot.report.demo_rota import DEMO_ROSTER, Rota, write_schedule
from dastbot.report.demo_texts import (
    QuestionKind,
    pick,
    post_id,
    question_text,
    shifter_reply,
)
from dastbot.report.demo_traffic import Askers, Traffic
from dastbot.shifts.calendar import Calendar
from dastbot.shifts.claims import after_working_days
from dastbot.store import Store, iso

DAILY_QUESTIONS = 12
WEEKDAY_FACTOR = (1.15, 1.08, 1.0, 0.97, 0.8, 0.15, 0.1)
OFF_DAY_QUESTIONS = 2
BOT_ANSWERS = 0.40
HOUR_WEIGHTS = (
    *(0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.2, 2.6, 3.4, 3.6, 3.2),
    *(2.4, 2.8, 3.3, 3.4, 3.0, 2.4, 1.9, 1.6, 1.4, 1.0, 0.7, 0.4),
)  # fmt: skip
"""Relative chance of a question in each local hour (office hours in Europe, evenings for NA)."""
TARGETS = (
    ("cloud-de", 6),
    ("cloud-us", 6),
    ("cloud-uk", 5),
    ("cloud-fr", 4),
    ("cloud-it", 4),
    ("cloud-cern", 3),
    ("cloud-nl", 2),
    ("cloud-ca", 2),
    ("site-support", 4),
    ("panda-experts", 5),
    ("rucio-experts", 4),
    ("ami-team", 1),
)

Event = tuple[datetime, EventKind, str, dict[str, Any]]
"""(when, kind, who, data) of one audit-trail record to write."""


@dataclass
class DemoSummary:
    """What ``fill_demo`` wrote."""

    questions: int = 0
    events: int = 0
    escalations: int = 0
    assignments: int = 0
    first_day: date | None = None
    last_day: date | None = None
    per_day: dict[date, int] = field(default_factory=dict)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _entries(config: Config) -> list[Entry]:
    return [e for e in load_knowledge(knowledge_path(config)) if e.patterns]


def _targets(config: Config) -> list[tuple[str, int]]:
    """The demo's escalation targets that the configured contacts know (all when unreadable)."""
    try:
        known = load_contacts(data_file(config, config.contacts, "contacts.yaml")).ids()
    except Exception:
        return list(TARGETS)
    kept = [t for t in TARGETS if t[0] in known]
    if kept:
        return kept
    return [(name, 1) for name in sorted(known)] or list(TARGETS)


class _Demo:
    def __init__(self, store: Store, end: datetime, seed: int, config: Config) -> None:
        self.store = store
        self.end = end.astimezone(UTC)
        self.rng = random.Random(seed)
        self.config = config
        self.calendar = Calendar(config.shifts)
        self.entries = _entries(config)
        self.entry_weights = [1.0 / (1 + i % 7) for i in range(len(self.entries))]
        self.targets = _targets(config)
        roster = list(config.roster) or list(DEMO_ROSTER)
        self.coordinators = {p.zone: p.user for p in roster if "coordinator" in p.roles}
        self.shifters: dict[str, list[str]] = {}
        self.trainees: dict[str, list[str]] = {}
        for person in roster:
            pool = self.trainees if person.level == "trainee" else self.shifters
            pool.setdefault(person.zone, []).append(person.user)
        self.askers = Askers(random.Random(seed + 1))
        self.channel = config.channels[0] if config.channels else "dast-help"
        coordinators = config.mattermost.coordinators_channel
        self.traffic = Traffic(store, random.Random(seed + 2), self.channel, coordinators)
        self.answers = {e.id: e.answer for e in self.entries}
        self.summary = DemoSummary()

    def day_count(self, day: date, week_factor: float) -> int:
        if not self.calendar.is_working_day(day):
            return max(0, round(self.rng.gauss(OFF_DAY_QUESTIONS, 2)))
        mean = DAILY_QUESTIONS * WEEKDAY_FACTOR[day.weekday()] * week_factor
        return max(0, round(self.rng.gauss(mean, mean * 0.12)))

    def times(self, day: date, count: int) -> list[datetime]:
        hours = self.rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
        midnight = datetime.combine(day, time(0), self.calendar.zone)
        instants = [
            (midnight + timedelta(hours=h, seconds=self.rng.randrange(3600))).astimezone(UTC)
            for h in hours
        ]
        return sorted(i for i in instants if i < self.end)

    def text(self, kind: QuestionKind) -> tuple[str, Entry | None]:
        return question_text(self.rng, self.entries, self.entry_weights, kind)

    def question(self, asked: datetime, rota: Rota) -> None:
        rng = self.rng
        thread = post_id(rng)
        author = self.askers.next()
        events: list[Event] = []
        entry_id: str | None = None
        bot = self.config.bot_name
        needs_human: datetime | None = None
        if rng.random() < BOT_ANSWERS:
            text, entry = self.text("known")
            assert entry is not None
            score = round(rng.uniform(0.55, 0.97), 3)
            entry_id = entry.id
            events.append((asked, EventKind.ANSWERED, bot, {"entry": entry.id, "score": score}))
            # the bot closes an answer nobody rated; the lifecycle refuses it once rated
            unrated = asked + timedelta(hours=self.config.questions.close_unrated_after_hours)
            events.append((unrated, EventKind.CLOSED_NO_FEEDBACK, bot, {}))
            roll = rng.random()
            at = asked + timedelta(minutes=_lognormal(rng, 25, 0.9))
            if roll < 0.62:
                events.append((at, EventKind.FEEDBACK_HELPED, author, {}))
            elif roll < 0.82:
                events.append((at, EventKind.FEEDBACK_NOT_HELPED, author, {}))
                needs_human = at
                events.append(self.needs_human(at, "not_helped", rota))
        else:
            text, entry = self.text("out_of_scope" if rng.random() < 0.55 else "hard")
            score = round(rng.uniform(0.1, 0.45), 3)
            top = [[entry.id, score]] if entry else []
            reason = {"reason": "below threshold", "top": top}
            events.append((asked, EventKind.ABSTAINED, bot, reason))
            needs_human = asked
            events.append(self.needs_human(asked, "abstained", rota))
        if needs_human is not None:
            events += self.handling(needs_human, thread, author, rota)
        self.write(thread, author, text, asked, entry_id, score, events)

    def needs_human(self, at: datetime, reason: str, rota: Rota) -> Event:
        on_duty = rota.at(at) is not None
        data = {"reason": reason, "on_duty": on_duty}
        return (at, EventKind.NEEDS_HUMAN, self.config.bot_name, data)

    def handling(self, since: datetime, thread: str, author: str, rota: Rota) -> list[Event]:
        rng = self.rng
        events: list[Event] = []
        if rng.random() < 0.03:
            if rng.random() < 0.5:
                at = since + timedelta(hours=_lognormal(rng, 3, 0.8))
                events.append((at, EventKind.FEEDBACK_HELPED, author, {}))
            else:
                events += self.cleanup(since)
            return events
        slot = rota.at(since)
        responder: str | None = None
        if slot is not None:
            delay = _lognormal(rng, 16, 0.85)
            found = rota.add(since, delay)
            if found is None:
                return events
            first, slot = found
            nudges = ((60, EventKind.REPINGED), (120, EventKind.COORDINATOR_TOLD))
            for minutes, kind in nudges:
                nudge = rota.add(since, minutes) if delay > minutes else None
                if nudge is not None:
                    events.append((nudge[0], kind, self.config.bot_name, {}))
        elif rng.random() < 0.25:
            first = since + timedelta(minutes=_lognormal(rng, 100, 0.9))
            local = first.astimezone(self.calendar.zone)
            zone = "NA" if local.hour >= 16 or local.hour < 2 else "EU"
            responder = self.coordinators.get(zone) or next(iter(self.coordinators.values()), None)
            responder = responder or "helpful.colleague"
        else:
            found = rota.add(since, _lognormal(rng, 22, 0.9))
            if found is None:
                return events
            first, slot = found
        if responder is None:
            assert slot is not None
            use_trainee = slot.trainee is not None and rng.random() < 0.35
            responder = slot.trainee if use_trainee else slot.shifter
            assert responder is not None
        taken = rng.random() < 0.55
        if taken:
            # taken just before the first reply, but not before the thread needed a person
            take = max(first - timedelta(seconds=rng.randrange(20, 180)), since)
            events.append((take, EventKind.TAKE, responder, {}))
        events.append((first, EventKind.HUMAN_REPLY, responder, {"text": shifter_reply(rng)}))
        for chance in (0.65, 0.35, 0.2):  # the asker follows up, the shifter answers again
            if rng.random() >= chance:
                break
            first += timedelta(minutes=_lognormal(rng, 45, 0.9))
            events.append((first, EventKind.ASKER_REPLY, author, {}))
            first += timedelta(minutes=_lognormal(rng, 30, 0.9))
            events.append((first, EventKind.HUMAN_REPLY, responder, {"text": shifter_reply(rng)}))
        done: datetime | None = first + timedelta(minutes=_lognormal(rng, 150, 1.1))
        quiet = first  # the taker's last word, for a thread that nobody closes
        if rng.random() < 0.09:
            taken = False  # escalated: no longer the taker's alone
            reply = self.escalate(
                first + timedelta(minutes=rng.randrange(5, 60)), thread, responder
            )
            events += reply[0]
            done = reply[1] + timedelta(minutes=_lognormal(rng, 90, 0.8)) if reply[1] else None
        if done is not None and rng.random() < 0.95:
            if rng.random() < 0.6:
                events.append((done, EventKind.RESOLVE, responder, {}))
            else:
                events.append((done, EventKind.FEEDBACK_HELPED, author, {}))
        else:
            closing = self.cleanup(since)
            if taken:
                events += self.claim_reminders(quiet, closing[0][0] if closing else self.end)
            events += closing
        return events

    def claim_reminders(self, quiet: datetime, until: datetime) -> list[Event]:
        """What the live bot says about a taken thread its taker left (``shifts.claims``)."""
        days = self.config.shifts.claim_reminder_days
        bot, data = self.config.bot_name, {"quiet_since": iso(quiet)}
        steps = ((days, EventKind.CLAIM_REMINDED), (2 * days, EventKind.CLAIM_COORDINATOR_TOLD))
        return [
            (at, kind, bot, dict(data))
            for after, kind in steps
            if (at := after_working_days(self.calendar, quiet, after)) < min(until, self.end)
        ]

    def cleanup(self, since: datetime) -> list[Event]:
        """Most stale threads are resolved by a coordinator's clean-up one to three weeks on."""
        if not self.coordinators or self.rng.random() < 0.05:
            return []
        who = sorted(self.coordinators.values())[0]
        at = since + timedelta(days=self.rng.uniform(7, 21))
        return [(at, EventKind.RESOLVE, who, {})]

    def escalate(
        self, opened: datetime, thread: str, actor: str
    ) -> tuple[list[Event], datetime | None]:
        """Open an escalation (written now); its events, and when the thread can move on (the
        first reply, or the cancellation of an escalation that got none), if before the end."""
        rng = self.rng
        if opened >= self.end:
            return [], None
        target = pick(rng, self.targets)
        esc_id = self.store.next_escalation_id()
        roll = rng.random()
        replied: datetime | None = None
        if roll < 0.8:
            replied = opened + timedelta(hours=_lognormal(rng, 6, 1.0))
        elif roll < 0.9:
            replied = opened + timedelta(hours=rng.uniform(80, 120))
        deadline = opened + timedelta(hours=72)
        events: list[Event] = [
            (opened, EventKind.ESCALATION_OPENED, actor, {"escalation": esc_id, "target": target})
        ]
        bot = self.config.bot_name
        reminders = 0
        for number, hours in enumerate((4, 8, 24, 48), start=1):
            at = opened + timedelta(hours=hours)
            if (replied is None or at < replied) and at < self.end:
                reminder = {"escalation": esc_id, "number": number}
                events.append((at, EventKind.ESCALATION_REMINDED, bot, reminder))
                reminders = number
        overdue = (replied is None or deadline < replied) and deadline < self.end
        if overdue:
            events.append((deadline, EventKind.ESCALATION_DEADLINE, bot, {"escalation": esc_id}))
        state = "open"
        closed: datetime | None = None
        if replied is not None and replied < self.end:
            state = "replied"
            events.append((replied, EventKind.ESCALATION_REPLIED, target, {"escalation": esc_id}))
            if rng.random() < 0.9:
                closed = replied + timedelta(hours=_lognormal(rng, 8, 0.8))
            elif rng.random() < 0.85:  # forgotten, closed at a later clean-up
                closed = replied + timedelta(days=rng.uniform(10, 30))
            ending, event_name, kind = "closed", "close", EventKind.ESCALATION_CLOSED
        else:
            if replied is None and rng.random() < 0.6:
                closed = opened + timedelta(hours=rng.uniform(90, 200))
            elif replied is None and rng.random() < 0.85:
                closed = opened + timedelta(days=rng.uniform(10, 30))
            ending, event_name, kind = "cancelled", "cancel", EventKind.ESCALATION_CANCELLED
        if closed is not None and closed < self.end:
            state = ending
            event = {"escalation": esc_id, "event": event_name}
            events.append((closed, kind, actor, event))
        else:
            closed = None
        self.store.save_escalation(
            Escalation(
                id=esc_id,
                thread_id=thread,
                target_id=target,
                state=state,  # type: ignore[arg-type]
                opened_at=opened,
                opened_by=actor,
                reason="needs the site's or experts' help",
                reminders_sent=reminders,
                last_reminder_at=None,
                deadline_notified=overdue,
                replied_at=replied if replied is not None and replied < self.end else None,
            ),
            channel=f"adc-{target}",
        )
        if closed is not None:
            self.store.set_escalation_closed(esc_id, closed)
        self.summary.escalations += 1
        if replied is not None and replied < self.end:
            return events, replied
        return events, closed

    def write(
        self,
        thread: str,
        author: str,
        text: str,
        asked: datetime,
        entry_id: str | None,
        score: float,
        events: list[Event],
    ) -> None:
        """Store the question, then its events in time order the way the live bot writes them:
        state changes through the lifecycle's ``transition`` (a move it refuses is dropped, as
        it would have been refused live), a person's first reply stamped on the question, an
        escalation of a thread no longer open recorded without a state change."""
        store = self.store
        store.add_question(
            thread_id=thread,
            channel_id=self.channel,
            author_id=f"id-{author}",
            author_name=author,
            text=text,
            now=asked,
            entry_id=entry_id,
            score=score,
            state=initial_state(entry_id),
        )
        self.traffic.seen(thread, asked)
        answer = self.answers.get(entry_id or "", "") or text
        written = 0
        for at, kind, actor, data in sorted(
            (e for e in events if e[0] < self.end), key=lambda e: e[0]
        ):
            data = self.traffic.record(kind, at, thread, actor, data, answer)
            event = EVENT_OF.get(kind)
            if event == "escalate" and not is_open(self.state(thread)):
                event = None
            if event is not None:
                try:
                    transition(store, thread, event, at, actor, **data)
                except InvalidTransition:
                    continue
            else:
                store.record(kind, at, thread, actor, **data)
                if kind == EventKind.HUMAN_REPLY and not self.first_human_at(thread):
                    store.update_question(thread, at, first_human_at=iso(at))
            written += 1
        self.summary.questions += 1
        self.summary.events += written

    def state(self, thread: str) -> str:
        question = self.store.question(thread)
        return str(question["state"]) if question else ""

    def first_human_at(self, thread: str) -> str | None:
        question = self.store.question(thread)
        return str(question["first_human_at"]) if question and question["first_human_at"] else None

    def run(self, weeks: int) -> DemoSummary:
        last = self.calendar.local_day(self.end - timedelta(microseconds=1))
        first = last - timedelta(days=7 * weeks - 1)
        rota, booked = write_schedule(
            self.store,
            self.calendar,
            self.rng,
            self.shifters,
            self.trainees,
            first,
            last + timedelta(days=28),
        )
        self.summary.assignments = booked
        self.summary.first_day, self.summary.last_day = first, last
        day = first
        week_factor = 1.0
        while day <= last:
            if day.weekday() == 0 or day == first:
                week_factor = min(max(self.rng.gauss(1.0, 0.1), 0.75), 1.25)
            asked = self.times(day, self.day_count(day, week_factor))
            with self.store.atomic():
                for instant in asked:
                    self.question(instant, rota)
            self.summary.per_day[day] = len(asked)
            day += timedelta(days=1)
        return self.summary


def fill_demo(store: Store, weeks: int, end: datetime, seed: int, config: Config) -> DemoSummary:
    """Write ``weeks`` weeks of synthetic history ending at ``end`` (exclusive) into ``store``,
    and a shift schedule from the first day to four weeks after ``end``. Same arguments, same
    rows (ids included). One transaction per day."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    return _Demo(store, end, seed, config).run(weeks)
