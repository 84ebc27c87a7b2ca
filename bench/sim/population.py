"""Who uses the forum and when, drawn from the seed: ~1,400 users (most ask once or twice a
year, a few often), EU and NA time zones, the DAST rota (shifters, trainees, coordinators), the
escalation targets' people, question texts (from the knowledge base's own patterns, questions it
cannot answer, long log pastes, a few by direct message) and their arrival times (working-hour
peaks in the asker's zone, quiet weekends, a quiet end-of-year)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dastbot.answering.knowledge import KnowledgeBase

USERS = 1_400
QUESTIONS_PER_WEEK = 48.0
"""About 2,400 questions a year; with the replies in their threads (the askers' details and
feedback, the shifters' help and commands, follow-ups, the targets' replies) about 10,000 posts
by people, besides reactions, buttons and slash commands."""
DIALOGUE_ROUNDS = (0, 1, 2, 3, 4)
DIALOGUE_WEIGHTS = (5, 15, 25, 30, 25)
"""How many exchanges (the asker adds something, the shifter answers) follow a shifter's first
reply in a thread the shifter took."""
ADDS_DETAILS = 0.15
"""How often an asker adds a detail to a new question soon after asking."""
THANKS_AFTER_RESOLVE = 0.35
EU, NA = ZoneInfo("Europe/Zurich"), ZoneInfo("America/Chicago")
ZONES = {"EU": EU, "NA": NA}

EU_SHIFTERS = ("anna", "bruno", "chiara", "dmitri", "elena", "felix", "greta", "hugo")
NA_SHIFTERS = ("ivan", "jane", "kyle", "lucia")
TRAINEES = (("tom", "EU"), ("uma", "EU"), ("vic", "NA"))
COORDINATORS = (("olga", "EU"), ("pete", "NA"))
CLOUD_TARGETS = ("cloud-de", "cloud-fr", "cloud-uk", "cloud-us", "cloud-it", "cloud-ca")
OTHER_TARGETS = ("site-support", "panda-experts", "rucio-experts")
NOT_MEMBER_TARGET = ("ami-team", "ami-support")
"""A target whose channel the bot was never invited to."""
SITE_NAMES = ("CERN-PROD", "FZK-LCG2", "IN2P3-CC", "BNL-ATLAS", "TRIUMF-LCG2", "RAL-LCG2")

OFF_TOPIC = (
    "my grid job {n} stays in activated for {h} hours, is the queue {q} broken?",
    "the output dataset user.{u}.{n}.physics_Main is incomplete, what can I do",
    "cannot open the ntuple from {q}, it says permission denied since yesterday",
    "strange crash in my athena job {n} after the release change, any idea",
    "how do I get more disk quota on the LOCALGROUPDISK of {q}",
    "my jobs at {q} are killed after {h} hours without an error message",
    "is there a known issue with the {q} storage today? transfers hang",
    "hello, is someone from DAST around? I need help with task {n}",
)
THANKS = ("thanks, that worked!", "solved, thank you", "great, this fixed it, thanks")
NOT_HELPED = (
    "did not help, still failing",
    "this does not work for me, the error is still there",
    "no, that is not it: the job still crashes",
)
FOLLOW_UPS = (
    "any news on this?",
    "I also see it on task {n} now",
    "still blocked, my deadline is on Friday",
)
ASKER_DETAILS = (
    "the task id is {n}, it ran at {q}",
    "here is the full log: https://bigpanda.cern.ch/job/{n}/ (it ends with a stage-in timeout)",
    "I resubmitted it as task {n} with the same options as before",
    "I am using release 24.2.{h} with the default options",
    "ok, I will try that and report back",
    "resubmitted as task {n}, the new jobs are running now",
)
"""What an asker adds in a thread a person holds (feedback of no kind: a follow-up)."""
FORGOT = "forgot to say: this is task {n} at {q}"
SHIFTER_REPLIES = (
    "I see it: the input is only on tape, I asked for a replica at {q}",
    "please resubmit excluding {q}, the queue there is being drained",
    "the site had a storage downtime this morning, it is back now",
    "I checked the pilot log: the payload ran out of memory, ask for 4000 MB per core",
    "the dataset was deleted by the lifetime model, it needs to be produced again",
)
HELP_TEXTS = (
    "looking at it now",
    "can you send the task id and the full log?",
    "this looks like a site problem, checking the queue",
)


@dataclass(frozen=True)
class User:
    name: str
    zone: str
    weight: float


@dataclass(frozen=True)
class Rota:
    eu_shifters: tuple[str, ...] = EU_SHIFTERS
    na_shifters: tuple[str, ...] = NA_SHIFTERS
    trainees: tuple[tuple[str, str], ...] = TRAINEES
    coordinators: tuple[tuple[str, str], ...] = COORDINATORS

    def roster_json(self) -> str:
        people = [{"user": u, "zone": "EU", "level": "shifter"} for u in self.eu_shifters]
        people += [{"user": u, "zone": "NA", "level": "shifter"} for u in self.na_shifters]
        people += [{"user": u, "zone": z, "level": "trainee"} for u, z in self.trainees]
        people += [
            {"user": u, "zone": z, "level": "shifter", "roles": ["coordinator"]}
            for u, z in self.coordinators
        ]
        return json.dumps(people)

    @property
    def shifters(self) -> frozenset[str]:
        return frozenset(self.eu_shifters + self.na_shifters + tuple(u for u, _ in self.trainees))

    @property
    def coordinator_names(self) -> tuple[str, ...]:
        return tuple(u for u, _ in self.coordinators)


class Population:
    def __init__(self, rng: random.Random, kb: KnowledgeBase) -> None:
        self.rng = rng
        self.rota = Rota()
        self.users = [
            User(f"user{i:04d}", "EU" if rng.random() < 0.65 else "NA", rng.paretovariate(1.6))
            for i in range(USERS)
        ]
        self._cumulative: list[float] = []
        total = 0.0
        for user in self.users:
            total += user.weight
            self._cumulative.append(total)
        self.patterns = [p for entry in kb for p in entry.patterns if len(p) > 12]
        self.target_people = {t: f"{t.split('-')[-1]}-expert" for t in CLOUD_TARGETS}
        self.target_people.update({t: f"{t.split('-')[0]}-helper" for t in OTHER_TARGETS})

    def asker(self) -> User:
        pick = self.rng.random() * self._cumulative[-1]
        lo, hi = 0, len(self._cumulative) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._cumulative[mid] < pick:
                lo = mid + 1
            else:
                hi = mid
        return self.users[lo]

    def question_text(self) -> tuple[str, str]:
        """(kind, text): kind is "kb", "other" or "paste"."""
        rng = self.rng
        roll = rng.random()
        n, h, u = rng.randint(10_000_000, 49_999_999), rng.randint(2, 72), rng.randint(1, 999)
        if roll < 0.62:
            text = rng.choice(self.patterns)
            prefix = rng.choice(("", "hi, ", "Hello DAST, ", "help: ", "since this morning "))
            suffix = rng.choice(("", f" in task {n}", " any idea?", f" (job {n})"))
            return "kb", f"{prefix}{text}{suffix}"
        if roll < 0.97:
            template = rng.choice(OFF_TOPIC)
            return "other", template.format(n=n, h=h, q=rng.choice(SITE_NAMES), u=u)
        lines = rng.randint(150, 180)
        log = "\n".join(
            f"2026-03-0{rng.randint(1, 9)} 12:{rng.randint(10, 59)} ERROR pilot: "
            f"payload {n + i} failed with exit code {rng.randint(1, 255)} "
            f"at {rng.choice(SITE_NAMES)}"
            for i in range(lines)
        )
        return "paste", f"my jobs all fail, here is the log:\n{log[:15_500]}"

    def arrivals(self, week_start: datetime, weeks_factor: float = 1.0) -> list[datetime]:
        """Question times in the week starting ``week_start`` (a Monday 00:00 UTC)."""
        rng = self.rng
        count = _poisson(rng, QUESTIONS_PER_WEEK * weeks_factor * _season(week_start.date()))
        times = []
        for _ in range(count):
            zone = EU if rng.random() < 0.65 else NA
            day = rng.choices(range(7), weights=(1.0, 1.0, 1.0, 1.0, 0.9, 0.15, 0.12))[0]
            if rng.random() < 0.8:
                hour = min(max(rng.gauss(13.0, 2.6), 7.0), 21.0)
            else:
                hour = rng.uniform(0.0, 24.0)
            local_day = week_start.date() + timedelta(days=day)
            local = datetime.combine(local_day, time(0), zone) + timedelta(hours=hour)
            at = local.astimezone(UTC)
            if week_start <= at < week_start + timedelta(days=7):
                times.append(at)
        return sorted(times)

    def detail(self, templates: tuple[str, ...]) -> str:
        """One of ``templates`` with a task number, a site and a small number filled in."""
        rng = self.rng
        return rng.choice(templates).format(
            n=rng.randint(10_000_000, 49_999_999), q=rng.choice(SITE_NAMES), h=rng.randint(2, 72)
        )

    def dialogue_rounds(self) -> int:
        return self.rng.choices(DIALOGUE_ROUNDS, weights=DIALOGUE_WEIGHTS)[0]

    def delay(self, median_minutes: float, spread: float = 1.0) -> timedelta:
        """A log-normal delay around ``median_minutes``."""
        return timedelta(minutes=median_minutes * self.rng.lognormvariate(0.0, spread))


def _season(day: date) -> float:
    if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 3):
        return 0.25
    if day.month in (7, 8):
        return 0.75
    return 1.0


def _poisson(rng: random.Random, mean: float) -> int:
    # Normal approximation is fine for means around 50; never negative.
    return max(0, round(rng.gauss(mean, mean**0.5)))
