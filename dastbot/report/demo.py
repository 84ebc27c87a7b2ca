"""Synthetic DAST history for demos, the weekly report's benchmark and manual testing.

This module owns ``fill_demo``: a deterministic (per seed) history of questions, their audit
trail, escalations and a shift schedule, written through the ``Store``'s own methods so the rows
look exactly like the bot's. The shape, per working day: about 40 new threads (Monday busiest,
Friday quietest, a random factor per week and per day; a few on weekends and holidays), asked
mostly in European office hours; about 40 % answered by the bot from the shipped knowledge base
(most confirmed helpful, some not, some without feedback), the rest handed to the shifter on
duty, with first responses a few staffed minutes later on duty and at the next staffed shift (or
from a coordinator) off duty; about one handled thread in eleven escalated to a cloud, site
support or an expert group, most of which reply, some only after their deadline. The schedule has
the EU slot mostly staffed and the NA slot often empty, and runs four weeks past ``end``.
Question texts come from the knowledge base's patterns; abstentions also draw from recurring
out-of-scope topics, so the report's knowledge-gap clusters have something to find. Nothing
after ``end`` is written: the history is what the bot would know at ``end``.
"""

from __future__ import annotations

import bisect
import math
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dastbot.answering.knowledge import Entry
from dastbot.kernel.config import Config
from dastbot.kernel.models import Assignment, Escalation
from dastbot.kernel.settings import Person
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store, iso

DAILY_QUESTIONS = 40
WEEKDAY_FACTOR = (1.15, 1.08, 1.0, 0.97, 0.8, 0.15, 0.1)
OFF_DAY_QUESTIONS = 5
BOT_ANSWERS = 0.40
HOUR_WEIGHTS = (
    *(0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.2, 2.6, 3.4, 3.6, 3.2),
    *(2.4, 2.8, 3.3, 3.4, 3.0, 2.4, 1.9, 1.6, 1.4, 1.0, 0.7, 0.4),
)  # fmt: skip
"""Relative chance of a question in each local hour (office hours in Europe, evenings for NA)."""
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
OUT_OF_SCOPE = (
    ("How do I book a meeting room in building {building} for {when}?", 5),
    ("My CERN account password expired, how do I reset it{tail}", 5),
    ("How do I request a bigger EOS quota for my user area{tail}", 4),
    ("Is the CERN VPN down? I cannot connect from {city}{tail}", 3),
    ("How can I get access to the lxplus GPU nodes for {ml} training?", 3),
    ("The Indico registration for the {event} does not work{tail}", 2),
    ("What is the weather in {city} {when}?", 1),
    ("Which laptop should I buy to run ROOT locally{tail}", 1),
    ("How do I subscribe to the {mlist} mailing list{tail}", 2),
    ("My CERN badge does not open building {building}{tail}", 1),
)
FILLERS: dict[str, tuple[str, ...]] = {
    "building": ("40", "513", "32", "4", "595"),
    "when": ("tomorrow", "next week", "Friday afternoon", "the ATLAS week"),
    "city": ("Geneva", "Chicago", "Tokyo", "Milan", "Rabat", "Berlin"),
    "tail": ("?", "? Thanks!", "? Any help is welcome.", "?? urgent"),
    "ml": ("my GNN", "a transformer", "the flavour tagging"),
    "event": ("ATLAS week", "software tutorial", "analysis workshop"),
    "mlist": ("atlas-comp-announce", "hn-atlas-dist-analysis-help", "atlas-sw-tutorial"),
}
GREETINGS = ("", "", "Hi, ", "Hello DAST, ", "Dear experts, ", "Hi all, ")
DETAILS = (
    "",
    "",
    " Task {task}.",
    " My task is {task}.",
    " This is for jediTaskID {task}, any idea?",
    " It happens since this morning.",
    " Thanks in advance!",
)
REPLIES = (
    "Looking at it now.",
    "Could you post the jediTaskID and the exact error message?",
    "This looks like a site problem, checking with the cloud support.",
    "Please retry with pbook retry; the site had a transient issue.",
    "You need to renew your VOMS proxy: voms-proxy-init -voms atlas.",
    "The dataset is on tape; request a replication rule first.",
)
# fmt: off
FIRST_NAMES = [
    "alex", "amir", "ana", "ben", "carla", "chen", "dario", "elena", "farid", "gina", "hugo",
    "ivan", "jana", "kai", "lea", "luis", "maya", "nils", "olga", "omar", "paul", "rosa", "sami",
    "tara", "umar", "vera", "wei", "yuki", "zoe",
]
# fmt: on


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


@dataclass(frozen=True)
class _Slot:
    start: datetime
    end: datetime
    zone: str
    shifter: str | None
    trainee: str | None


class _Rota:
    """The staffed slots in time order, for fast staffed-time arithmetic."""

    def __init__(self, slots: Sequence[_Slot]) -> None:
        self.slots = [s for s in slots if s.shifter]
        self.ends = [s.end for s in self.slots]

    def at(self, instant: datetime) -> _Slot | None:
        i = bisect.bisect_right(self.ends, instant)
        if i < len(self.slots) and self.slots[i].start <= instant:
            return self.slots[i]
        return None

    def add(self, start: datetime, minutes: float) -> tuple[datetime, _Slot] | None:
        """The instant ``minutes`` staffed minutes after ``start``, and the slot it falls in."""
        remaining = timedelta(minutes=minutes)
        for slot in self.slots[bisect.bisect_right(self.ends, start) :]:
            begin = max(slot.start, start)
            if remaining < slot.end - begin:
                return begin + remaining, slot
            remaining -= slot.end - begin
        return None


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _post_id(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=26))


def _fill(rng: random.Random, template: str) -> str:
    values = {k: rng.choice(v) for k, v in FILLERS.items()}
    return template.format(**values)


def _entries(config: Config) -> list[Entry]:
    from dastbot.answering.knowledge import load_knowledge
    from dastbot.kernel.paths import knowledge_path

    return [e for e in load_knowledge(knowledge_path(config)) if e.patterns]


def _targets(config: Config) -> list[tuple[str, int]]:
    """The demo's escalation targets that the configured contacts know (all when unreadable)."""
    try:
        from dastbot.escalations.contacts import load_contacts
        from dastbot.kernel.paths import data_file

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
        self.authors = [f"{n}.{s}" for n in FIRST_NAMES for s in ("m", "k", "r", "t", "b")]
        self.channel = config.channels[0] if config.channels else "dast-help"
        self.summary = DemoSummary()

    # the schedule -----------------------------------------------------------------------------

    def schedule(self, first: date, last: date) -> _Rota:
        slots: list[_Slot] = []
        stamp = datetime.combine(first, time(0), self.calendar.zone).astimezone(UTC)
        week_people: dict[tuple[str, str], str | None] = {}
        day = first
        with self.store.atomic():
            while day <= last:
                for instance in self.calendar.slots_on(day):
                    zone = instance.zone
                    key = (f"{day.isocalendar()[:2]}", instance.name)
                    if key not in week_people:
                        people: list[str | None] = [*self.shifters.get(zone, [])] or [None]
                        week_people[key] = self.rng.choice(people)
                    shifter = week_people[key]
                    if self.rng.random() > STAFFED_PROBABILITY.get(zone, 0.7):
                        shifter = None
                    trainee = None
                    trainees = self.trainees.get(zone)
                    if trainees and self.rng.random() < TRAINEE_PROBABILITY.get(zone, 0.2):
                        trainee = self.rng.choice(trainees)
                    if shifter or trainee:
                        self.store.set_assignment(
                            Assignment(day, instance.name, shifter, trainee), "demo", stamp
                        )
                        self.summary.assignments += 1
                    slots.append(_Slot(instance.start, instance.end, zone, shifter, trainee))
                day += timedelta(days=1)
        return _Rota(slots)

    # questions --------------------------------------------------------------------------------

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

    def text(self, kind: str) -> tuple[str, Entry | None]:
        rng = self.rng
        if kind == "out_of_scope":
            return _fill(rng, _pick(rng, OUT_OF_SCOPE)), None
        entry = rng.choices(self.entries, weights=self.entry_weights)[0]
        pattern = rng.choice(entry.patterns)
        detail = rng.choice(DETAILS).format(task=rng.randrange(30_000_000, 48_000_000))
        text = f"{rng.choice(GREETINGS)}{pattern}{detail}"
        if kind == "hard":
            other = rng.choice(self.entries)
            text += f" Also {rng.choice(other.patterns)} at the same time, is it related?"
        return text, entry

    def question(self, asked: datetime, rota: _Rota) -> None:
        rng = self.rng
        thread = _post_id(rng)
        author = rng.choice(self.authors)
        events: list[tuple[datetime, str, str, dict[str, Any]]] = []
        row: dict[str, Any] = {"state": "waiting"}
        bot = self.config.bot_name
        needs_human: datetime | None = None
        if rng.random() < BOT_ANSWERS:
            text, entry = self.text("known")
            assert entry is not None
            score = round(rng.uniform(0.55, 0.97), 3)
            row.update(state="answered", entry_id=entry.id, score=score)
            events.append((asked, "answered", bot, {"entry": entry.id, "score": score}))
            roll = rng.random()
            at = asked + timedelta(minutes=_lognormal(rng, 25, 0.9))
            if roll < 0.62:
                events.append((at, "feedback_helped", author, {"state": "resolved"}))
                events.append((at, "resolved", author, {"via": "feedback"}))
            elif roll < 0.82:
                events.append((at, "feedback_not_helped", author, {"state": "waiting"}))
                needs_human = at
                events.append(self.needs_human(at, thread, "not_helped", rota))
        else:
            text, entry = self.text("out_of_scope" if rng.random() < 0.55 else "hard")
            score = round(rng.uniform(0.1, 0.45), 3)
            row.update(score=score)
            top = [[entry.id, score]] if entry else []
            events.append((asked, "abstained", bot, {"reason": "below threshold", "top": top}))
            needs_human = asked
            events.append(self.needs_human(asked, thread, "abstained", rota))
        if needs_human is not None:
            events += self.handling(needs_human, thread, author, rota)
        self.write(thread, author, text, asked, row, events)

    def needs_human(
        self, at: datetime, thread: str, reason: str, rota: _Rota
    ) -> tuple[datetime, str, str, dict[str, Any]]:
        on_duty = rota.at(at) is not None
        return (at, "needs_human", self.config.bot_name, {"reason": reason, "on_duty": on_duty})

    def handling(
        self, since: datetime, thread: str, author: str, rota: _Rota
    ) -> list[tuple[datetime, str, str, dict[str, Any]]]:
        rng = self.rng
        events: list[tuple[datetime, str, str, dict[str, Any]]] = []
        if rng.random() < 0.03:
            if rng.random() < 0.5:
                at = since + timedelta(hours=_lognormal(rng, 3, 0.8))
                events.append((at, "feedback_helped", author, {"state": "resolved"}))
                events.append((at, "resolved", author, {"via": "feedback"}))
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
            for minutes, kind in ((60, "repinged"), (120, "coordinator_told")):
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
        if rng.random() < 0.55:
            take = first - timedelta(seconds=rng.randrange(20, 180))
            events.append((take, "take", responder, {"state": "claimed"}))
            events.append((first, "human_reply", responder, {"text": rng.choice(REPLIES)}))
        else:
            events.append((first, "human_reply", responder, {"text": rng.choice(REPLIES)}))
        done: datetime | None = first + timedelta(minutes=_lognormal(rng, 150, 1.1))
        if rng.random() < 0.09:
            reply = self.escalate(
                first + timedelta(minutes=rng.randrange(5, 60)), thread, responder
            )
            events += reply[0]
            done = reply[1] + timedelta(minutes=_lognormal(rng, 90, 0.8)) if reply[1] else None
        if done is not None and rng.random() < 0.95:
            if rng.random() < 0.6:
                events.append((done, "resolve", responder, {"state": "resolved"}))
            else:
                events.append((done, "feedback_helped", author, {"state": "resolved"}))
                events.append((done, "resolved", author, {"via": "feedback"}))
        else:
            events += self.cleanup(since)
        return events

    def cleanup(self, since: datetime) -> list[tuple[datetime, str, str, dict[str, Any]]]:
        """Most stale threads are resolved by a coordinator's clean-up one to three weeks on."""
        if not self.coordinators or self.rng.random() < 0.05:
            return []
        who = sorted(self.coordinators.values())[0]
        at = since + timedelta(days=self.rng.uniform(7, 21))
        return [(at, "resolve", who, {"state": "resolved"})]

    def escalate(
        self, opened: datetime, thread: str, actor: str
    ) -> tuple[list[tuple[datetime, str, str, dict[str, Any]]], datetime | None]:
        """Open an escalation (written now); its events, and when the thread can move on (the
        first reply, or the cancellation of an escalation that got none), if before the end."""
        rng = self.rng
        if opened >= self.end:
            return [], None
        target = _pick(rng, self.targets)
        esc_id = self.store.next_escalation_id()
        roll = rng.random()
        replied: datetime | None = None
        if roll < 0.8:
            replied = opened + timedelta(hours=_lognormal(rng, 6, 1.0))
        elif roll < 0.9:
            replied = opened + timedelta(hours=rng.uniform(80, 120))
        deadline = opened + timedelta(hours=72)
        events: list[tuple[datetime, str, str, dict[str, Any]]] = [
            (opened, "escalation_opened", actor, {"escalation": esc_id, "target": target})
        ]
        bot = self.config.bot_name
        reminders = 0
        for number, hours in enumerate((4, 8, 24, 48), start=1):
            at = opened + timedelta(hours=hours)
            if (replied is None or at < replied) and at < self.end:
                events.append(
                    (at, "escalation_reminded", bot, {"escalation": esc_id, "number": number})
                )
                reminders = number
        overdue = (replied is None or deadline < replied) and deadline < self.end
        if overdue:
            events.append((deadline, "escalation_deadline", bot, {"escalation": esc_id}))
        state = "open"
        closed: datetime | None = None
        if replied is not None and replied < self.end:
            state = "replied"
            events.append((replied, "escalation_replied", target, {"escalation": esc_id}))
            if rng.random() < 0.9:
                closed = replied + timedelta(hours=_lognormal(rng, 8, 0.8))
            elif rng.random() < 0.85:  # forgotten, closed at a later clean-up
                closed = replied + timedelta(days=rng.uniform(10, 30))
            ending, event_name = "closed", "close"
        else:
            if replied is None and rng.random() < 0.6:
                closed = opened + timedelta(hours=rng.uniform(90, 200))
            elif replied is None and rng.random() < 0.85:
                closed = opened + timedelta(days=rng.uniform(10, 30))
            ending, event_name = "cancelled", "cancel"
        if closed is not None and closed < self.end:
            state = ending
            event = {"escalation": esc_id, "event": event_name}
            events.append((closed, f"escalation_{ending}", actor, event))
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
        row: dict[str, Any],
        events: list[tuple[datetime, str, str, dict[str, Any]]],
    ) -> None:
        store = self.store
        store.add_question(
            thread_id=thread,
            channel_id=self.channel,
            author_id=f"id-{author}",
            author_name=author,
            text=text,
            now=asked,
            entry_id=row.get("entry_id"),
            score=row.get("score"),
            state=row["state"],
        )
        kept = sorted((e for e in events if e[0] < self.end), key=lambda e: e[0])
        fields: dict[str, Any] = {}
        state = str(row["state"])
        last = asked
        for at, kind, actor, data in kept:
            store.record(kind, at, thread, actor, **data)
            last = max(last, at)
            if kind in ("take", "human_reply") and "first_human_at" not in fields:
                fields["first_human_at"] = iso(at)
            if kind == "take":
                fields["claimed_by"] = actor
            if kind.startswith("feedback_"):
                fields["feedback"] = kind.removeprefix("feedback_")
            if kind == "escalation_opened" and state not in ("resolved", "escalated"):
                state = "escalated"
            if "state" in data:
                state = str(data["state"])
            if state == "resolved" and "resolved_at" not in fields:
                fields["resolved_at"] = iso(at)
        if state != row["state"] or fields:
            store.update_question(thread, last, state=state, **fields)
        self.summary.questions += 1
        self.summary.events += len(kept)

    def run(self, weeks: int) -> DemoSummary:
        last = self.calendar.local_day(self.end - timedelta(microseconds=1))
        first = last - timedelta(days=7 * weeks - 1)
        rota = self.schedule(first, last + timedelta(days=28))
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
