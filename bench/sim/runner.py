"""The virtual-time loop: the real ``App`` on a SQLite file, fed by ``SimFeed`` through the core
loop (``app.serve``), sending through ``SimChat``, its sweeper run at every due time, the
people's actions taken from an agenda, restarts (graceful, and kill -9 inside a send) and faults
at random moments, and the invariants checked every simulated hour.

People act on what they see in the chat: the asker on the bot's answer, a shifter on being
mentioned, a coordinator on a coordinators' notice, a target on the escalation post. Slash
commands go to the router as the HTTP endpoint would pass them; everything else is a post.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dastbot.answering.answers as answers_module
import dastbot.report.job as report_job
import dastbot.router as router_module
from dastbot.answering.answers import LiveKnowledge
from dastbot.answering.matcher import Matcher
from dastbot.answering.rebuild import Loaded
from dastbot.app import App, serve
from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config, load_config
from dastbot.kernel.models import Click, Command, Post, Reaction
from dastbot.store import Store
from dastbot.store.outbox import HELD
from sim.invariants import Checker, FollowUp
from sim.population import (
    ADDS_DETAILS,
    ASKER_DETAILS,
    CLOUD_TARGETS,
    FOLLOW_UPS,
    FORGOT,
    HELP_TEXTS,
    NOT_HELPED,
    NOT_MEMBER_TARGET,
    OTHER_TARGETS,
    SHIFTER_REPLIES,
    SITE_NAMES,
    THANKS,
    THANKS_AFTER_RESOLVE,
    ZONES,
    Population,
)
from sim.world import BOT, PERMALINK, ChatPost, Faults, Killed, SimChat, SimFeed

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
"""A Monday; the year runs across the end-of-year closure when 52 weeks are simulated."""
HELP, COORDINATORS = "dast-help", "dast-coordinators"
STEPS_PER_TICK = 1000
SWEEP_SECONDS = timedelta(seconds=30)
SWEEP_AFTER_ACTIVITY = timedelta(minutes=5)
_THREAD_LINK = re.compile(re.escape(PERMALINK) + r"([a-z0-9]+)")
_MENTION = re.compile(r"@([a-z0-9._-]+)")
_ESCALATION = re.compile(r"\b(E\d+)\b")
ASKED_MORE = FOLLOW_UPS + ASKER_DETAILS + (FORGOT,)
"""What an asker may add to a question a person holds: each must reach that person."""


def sim_config(db: Path, rota_json: str) -> Config:
    env = {
        "DASTBOT_DB": str(db),
        "DASTBOT_KB": str(REPO / "knowledge"),
        "DASTBOT_CONTACTS": str(REPO / "knowledge" / "contacts.yaml"),
        "DASTBOT_SITES": str(REPO / "knowledge" / "sites.yaml"),
        "DASTBOT_CHANNELS": HELP,
        "DASTBOT_ROSTER": rota_json,
        "DASTBOT_SHIFTS_CLOSURES_PRESET": "cern",
    }
    return load_config(None, env)


@dataclass(order=True)
class Action:
    at: datetime
    seq: int
    name: str = field(compare=False)
    run: Callable[[], Awaitable[None]] = field(compare=False)


@dataclass(frozen=True)
class TargetReply:
    post_id: str
    esc_id: str
    thread: str


@dataclass
class Summary:
    seed: int
    weeks: int
    faults: float
    questions: int = 0
    messages: int = 0
    feedback: int = 0
    commands: int = 0
    answers: int = 0
    pings: int = 0
    escalations: int = 0
    target_replies: int = 0
    restarts: int = 0
    kills: int = 0
    faults_injected: int = 0
    checks: int = 0
    violations: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    fault_kinds: dict[str, int] = field(default_factory=dict)
    cost: str = ""

    def text(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.fault_kinds.items()))
        return (
            f"seed {self.seed}: {self.weeks} simulated weeks in {self.wall_s:.1f} s wall time "
            f"({self.cpu_s:.1f} s CPU)\n"
            f"  posts by people {self.messages} (questions {self.questions}, replies in threads "
            f"{self.messages - self.questions}), reactions and buttons {self.feedback}, "
            f"slash commands {self.commands}\n"
            f"  bot answers {self.answers}, pings {self.pings}, "
            f"escalations {self.escalations} (target replies {self.target_replies})\n"
            f"  restarts {self.restarts} (kill -9 inside a send: {self.kills}), "
            f"faults injected {self.faults_injected} ({kinds})\n"
            f"  invariant checks {self.checks}, violations {self.violations}; {self.cost}"
        )


class Simulation:
    def __init__(self, seed: int, weeks: int, faults: float, workdir: Path) -> None:
        self.seed, self.weeks, self.fault_level = seed, weeks, faults
        self.clock = FakeClock(START)
        self.end = START + timedelta(weeks=weeks)
        self.db_path = workdir / f"sim-{seed}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        self.rng = random.Random(seed)
        self.chaos = random.Random(seed + 1)
        self.people = Population(random.Random(seed + 2), _knowledge().kb)
        self.config = sim_config(self.db_path, self.people.rota.roster_json())
        self.chat = SimChat(self.clock, random.Random(seed + 3), Faults(level=faults))
        self.chat.not_member.add(NOT_MEMBER_TARGET[1])
        self.chat.on_bot_post = self._on_bot_post
        for user in self.people.users:
            self.chat.timezones[user.name] = str(ZONES[user.zone])
        self.feed = SimFeed(clock=self.clock, on_deliver=self._on_deliver)
        self.checker = Checker(self)
        logging.getLogger("dastbot").addHandler(self.checker.crashes)
        self.growth_window = timedelta(weeks=max(1, min(4, weeks // 8)))
        self.app: App | None = None
        self.sweep_at = START
        """When the bot sweeps next: its sweeper's next due time (the real bot sweeps every
        ``sweep_seconds`` and finds the same), soon after people acted."""
        self.agenda: list[Action] = []
        self.seq = 0
        self.finishing = False
        self.summary = Summary(seed, weeks, faults)
        self.question_posts: dict[str, str] = {}
        """Question post id -> asker."""
        self.taken: dict[str, str] = {}
        self.escalated_by: dict[str, str] = {}
        self.esc_thread: dict[str, str] = {}
        self.target_replies: list[TargetReply] = []
        self.human_posts = 0
        """Posts by people: questions and every reply in a thread (the targets' too)."""
        self.feedback_given = 0
        """Reactions and button presses."""
        self.commands_run = 0
        """Slash commands (they reach the bot, not the channel)."""
        self.in_sync_since: datetime | None = None
        """Since when the bot has been up and in step with the chat without a break (None while
        it is down or out of step): it decides time-driven work only then (``Feed.in_sync``)."""
        self.steps = 0
        self.handler_s = 0.0
        self.events_handled = 0
        self.calendar_zone = ZONES["EU"]

    # the bot ----------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        assert self.app is not None, "the bot is down"
        return self.app.store

    def _count_step(self) -> int:
        self.steps += 1
        return 0

    async def boot(self) -> None:
        store = Store.open(self.db_path)
        store.db.conn.set_progress_handler(self._count_step, STEPS_PER_TICK)
        self.chat.kill_in_sends = None
        self.chat.kill_after_post = False
        self.app = App(
            self.config, self.chat, self.clock, store=store, knowledge=_knowledge(), bot_user_id=BOT
        )
        self.app.router.bot_username = BOT
        self.feed.reconnect(again=[])
        self.sweep_at = self.clock.now()
        try:
            await self.app.start(sweep=False)
            await self.pump()
        except Killed:
            self._died()

    def _died(self) -> None:
        """The process is gone: its connection closes (an open transaction is lost)."""
        if self.app is None:
            return
        self.feed.drop("the bot process ended")
        self.in_sync_since = None
        self.feed.queue.clear()
        with contextlib.suppress(sqlite3.Error):
            self.app.store.db.conn.rollback()
        self.app.store.close()
        self.app = None
        self.summary.restarts += 1
        self.later(self.people.delay(3, 1.0), "boot", self.boot)

    async def pump(self, sweep: bool = True) -> None:
        """What the bot does now: handle what the feed has, then sweep (when something is due)
        and send; only send while it is out of step with the chat, as ``run_bot`` does."""
        app = self.app
        if app is None:
            return
        posts = sum(1 for e in self.feed.queue if isinstance(e, Post)) + len(self.feed.retry)
        if posts:
            steps, started = self.steps, time.perf_counter()
            await serve(self.feed, app.router, app.metrics)
            self.handler_s += time.perf_counter() - started
            self.events_handled += posts
            if self.checker.windows:
                self.checker.windows[-1].events += posts
                self.checker.windows[-1].event_steps += self.steps - steps
        elif self.feed.queue:
            await serve(self.feed, app.router, app.metrics)
        if not self.feed.in_sync:
            self.in_sync_since = None
        if sweep and self.feed.in_sync:
            if self.in_sync_since is None:
                self.in_sync_since = self.clock.now()
            await app.tick()
            due = app.sweeper.next_due()
            now = self.clock.now()
            self.sweep_at = max(due, now + SWEEP_SECONDS) if due else now + timedelta(days=1)
        else:
            await app.router.flush()
            if sweep:  # out of step with the chat: try again at the next sweep
                self.sweep_at = self.clock.now() + SWEEP_SECONDS

    def next_retry(self) -> datetime | None:
        row = self.store.db.execute(
            "SELECT MIN(next_attempt_at) FROM outbox INDEXED BY outbox_unsent "
            "WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at < ?",
            [HELD],
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    # the loop ---------------------------------------------------------------------------------

    def later(self, delay: timedelta, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.at(self.clock.now() + delay, name, run)

    def at(self, when: datetime, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.seq += 1
        heapq.heappush(self.agenda, Action(when, self.seq, name, run))

    async def run(self) -> Summary:
        started, cpu = time.perf_counter(), time.process_time()
        self._plan()
        await self.boot()
        next_check = START + timedelta(hours=1)
        from sim.invariants import Window

        self.checker.windows.append(Window(START))
        while True:
            now = self.clock.now()
            stops = [self.end, next_check]
            if self.agenda:
                stops.append(self.agenda[0].at)
            retry = None
            if self.app is not None:
                stops.append(max(self.sweep_at, now))
                retry = self.next_retry()
                if retry is not None:
                    # one that is due and still unsent waits behind its thread: the sender tries
                    # again at its next flush (every sweep in the real bot)
                    retry = retry if retry > now else now + SWEEP_SECONDS
                    stops.append(retry)
            stop = max(min(stops), now)
            self.clock.set(stop)
            try:
                acted = False
                while self.agenda and self.agenda[0].at <= stop:
                    action = heapq.heappop(self.agenda)
                    await action.run()
                    acted = True
                if acted:  # what people did may be due sooner than anything known so far
                    self.sweep_at = min(self.sweep_at, stop + SWEEP_AFTER_ACTIVITY)
                if acted or stop >= self.sweep_at or (retry is not None and stop >= retry):
                    await self.pump(sweep=stop >= self.sweep_at)
            except Killed:
                self._died()
            if stop >= next_check:
                next_check += timedelta(hours=1)
                if self.app is not None:
                    self.checker.check()
            if stop >= self.end:
                break
        await self._finish()
        self.summary.wall_s = time.perf_counter() - started
        self.summary.cpu_s = time.process_time() - cpu
        return self.summary

    async def _finish(self) -> None:
        """Let the last restart finish, then one last check of everything."""
        if self.app is None:
            await self.boot()
        if self.app is None:
            await self.boot()
        self.finishing = True
        assert self.app is not None
        self.checker.check()
        s = self.summary
        s.questions = len(self.question_posts)
        s.messages = self.human_posts
        s.feedback = self.feedback_given
        s.commands = self.commands_run
        s.answers = sum(1 for k in self.chat.by_key if k.startswith("answer:"))
        s.pings = sum(
            1
            for p in self.chat.posts.values()
            if p.user == BOT and p.root_id and _MENTION.search(p.message)
        )
        s.escalations = int(self.store.db.execute("SELECT COUNT(*) FROM escalations").fetchone()[0])
        s.target_replies = len(self.target_replies)
        s.fault_kinds = dict(self.chat.injected)
        s.faults_injected = sum(self.chat.injected.values())
        s.checks = self.checker.checks
        s.violations = len(self.checker.violations)
        per_event = 1000 * self.handler_s / max(self.events_handled, 1)
        size = self.db_path.stat().st_size / 1e6
        s.cost = f"{per_event:.2f} ms a handled post, database {size:.1f} MB"
        self.store.close()
        self.app = None

    # the plan ---------------------------------------------------------------------------------

    def _plan(self) -> None:
        week = START
        while week < self.end:
            for when in self.people.arrivals(week):
                self.at(when, "question", self._ask)
            week += timedelta(weeks=1)
        self.at(START + timedelta(hours=7), "book", self._book_first)
        day = START + timedelta(days=4, hours=10)
        while day < self.end:
            self.at(day, "book", self._book_ahead)
            if self.chaos.random() < 0.5:
                self.at(day + timedelta(hours=2), "swap", self._swap)
            day += timedelta(weeks=1)
        self._chaos("restart", 10.0, self._restart)
        self._chaos("kill", 12.0, self._arm_kill)
        self._chaos("reload", 40.0, self._reload)
        if self.fault_level > 0:
            self._chaos(
                "outage", 7.0 / self.chat.faults.p(self.chat.faults.outages_per_week), self._outage
            )
            self._chaos(
                "drop", 7.0 / self.chat.faults.p(self.chat.faults.drops_per_week), self._drop
            )

    def _chaos(self, name: str, mean_days: float, run: Callable[[], Awaitable[None]]) -> None:
        at = START + timedelta(days=self.chaos.expovariate(1 / mean_days))
        while at < self.end:
            self.at(at, name, run)
            at += timedelta(days=self.chaos.expovariate(1 / mean_days))

    async def _restart(self) -> None:
        if self.app is not None:
            self._died()

    async def _arm_kill(self) -> None:
        if self.app is not None:
            self.chat.kill_in_sends = self.chaos.randint(1, 4)
            self.summary.kills += 1

    async def _outage(self) -> None:
        hours = self.chaos.choice((0.1, 0.3, 1.0, 2.0, 5.0)) if self.chaos.random() > 0.03 else 30
        self.chat.outage_until = self.clock.now() + timedelta(hours=hours)
        self.chat.injected["outages"] = self.chat.injected.get("outages", 0) + 1

    async def _drop(self) -> None:
        if self.app is None or not self.feed.connected:
            return
        self.feed.drop(self.chaos.choice(("1006 abnormal closure", "1011 server error", "1000")))
        self.chat.injected["websocket drops"] = self.chat.injected.get("websocket drops", 0) + 1
        recent = [p for p in self._recent_posts(3)]
        again = recent if self.chaos.random() < 0.3 else []
        self.later(self.people.delay(2, 1.5), "reconnect", lambda: self._reconnect(again))

    async def _reconnect(self, again: list[Post]) -> None:
        if self.app is not None and not self.feed.connected:
            self.feed.reconnect(again)
            self.sweep_at = self.clock.now()

    def _recent_posts(self, n: int) -> list[Post]:
        ids = [i for i in list(self.feed.delivered)[-n:]]
        return [self._as_post(self.chat.posts[i]) for i in ids if i in self.chat.posts]

    async def _reload(self) -> None:
        await self.command(self.people.rota.coordinator_names[0], "kb reload")

    # people acting ----------------------------------------------------------------------------

    def _as_post(self, post: ChatPost) -> Post:
        direct = post.channel.startswith("dm-")
        return Post(
            id=post.id,
            channel_id=post.channel,
            user_id=post.user,
            user_name=post.user,
            message=post.message,
            create_at=post.at,
            root_id=post.root_id,
            channel_name="" if direct else post.channel,
            channel_type="D" if direct else "O",
        )

    def say(self, user: str, channel: str, text: str, root: str = "") -> ChatPost:
        post = self.chat.add_post(user, channel, text, root)
        self.human_posts += 1
        self.feed.push(self._as_post(post))
        return post

    async def command(self, user: str, text: str, channel: str = COORDINATORS) -> str:
        """A slash command through the HTTP endpoint; refused (no answer) while the bot is down."""
        if self.app is None:
            return ""
        self.commands_run += 1
        reply = await self.app.router.on_command(Command(user, user, channel, text))
        return reply.text

    async def _ask(self) -> None:
        user = self.people.asker()
        _, text = self.people.question_text()
        channel = f"dm-{user.name}" if self.rng.random() < 0.03 else HELP
        post = self.say(user.name, channel, text)
        self.question_posts[post.id] = user.name
        if self.rng.random() < ADDS_DETAILS:
            detail = self.people.detail((FORGOT,))
            self.later(
                self.people.delay(15, 1.0),
                "forgot",
                lambda: self._reply(user.name, post.id, detail),
            )
        if self.rng.random() < 0.01:
            self.later(self.people.delay(600, 1.0), "delete", lambda: self._delete(post.id))

    async def _delete(self, post_id: str) -> None:
        self.chat.posts[post_id].deleted = True

    def _on_deliver(self, post: Post) -> None:
        """An asker writing into a question a person holds: the follow-up must reach them."""
        if (
            self.app is None
            or not post.root_id
            or post.user_id != self.question_posts.get(post.root_id)
        ):
            return
        if self.feed.delivered.get(post.id) != self.clock.now():
            return  # yielded again (a catch-up's overlap): judged at its first delivery
        question = self.app.store.question(post.root_id)
        if question is None or question["state"] not in ("claimed", "escalated"):
            return
        if not any(post.message.startswith(t[:10]) for t in ASKED_MORE):
            return
        holder = str(question["claimed_by"] or self.escalated_by.get(post.root_id, "?"))
        self.checker.follow_ups.append(FollowUp(post.root_id, post.id, self.clock.now(), holder))

    def _on_bot_post(self, post: ChatPost) -> None:
        kind, _, rest = post.key.partition(":")
        if kind == "answer" and post.root_id in self.question_posts:
            self._asker_reacts(post)
        elif kind == "escalation" and ":" not in rest:
            self._target_reacts(post, rest)
        elif kind == "escalation-reply":
            esc = rest.split(":")[0]
            who = self.escalated_by.get(post.root_id)
            if who and self.rng.random() < 0.8:
                self.later(
                    self.people.delay(180), "close", lambda: self._close(who, post.root_id, esc)
                )
        elif kind == "deadline":
            self._coordinator_on_deadline(rest)
        elif kind == "weekly-report":
            self.checker.reports.append((rest, post.message, post.at))
        elif kind == "command" and "could not post the escalation" in post.message:
            who = self.taken.get(post.root_id)
            if who:
                self.later(
                    self.people.delay(60), "resolve", lambda: self._resolve(who, post.root_id)
                )
        elif kind == "coordinator":
            match = _THREAD_LINK.search(post.message)
            mentioned = _MENTION.findall(post.message)
            if match and mentioned:
                thread = match.group(1)
                self.later(
                    self.people.delay(90),
                    "coordinator takes",
                    lambda: self._take(mentioned[0], thread),
                )
        elif post.root_id in self.question_posts:
            for name in _MENTION.findall(post.message):
                if name in self.people.rota.shifters or name in self.people.rota.coordinator_names:
                    self._shifter_reacts(name, post.root_id)

    def _asker_reacts(self, post: ChatPost) -> None:
        asker = self.question_posts[post.root_id]
        roll = self.rng.random()
        delay = self.people.delay(45, 1.5)
        if roll < 0.30:
            emoji = "white_check_mark"
        elif roll < 0.40:
            emoji = "x"
        elif roll < 0.50:
            self.later(
                delay, "thanks", lambda: self._reply(asker, post.root_id, self.rng.choice(THANKS))
            )
            return
        elif roll < 0.62:
            self.later(
                delay,
                "not helped",
                lambda: self._reply(asker, post.root_id, self.rng.choice(NOT_HELPED)),
            )
            return
        elif roll < 0.70 and post.buttons:
            button = self.rng.choice(post.buttons)
            self.later(delay, "click", lambda: self._click(asker, post, button.id))
            return
        else:
            return  # never says (closed for lack of feedback)
        self.later(delay, "react", lambda: self._react(asker, post, emoji))

    async def _reply(self, user: str, thread: str, text: str) -> None:
        root = self.chat.posts[thread]
        if not root.deleted:
            self.say(user, root.channel, text, thread)

    async def _react(self, user: str, post: ChatPost, emoji: str) -> None:
        self.feedback_given += 1
        self.feed.push(Reaction(user, post.id, post.channel, emoji))

    async def _click(self, user: str, post: ChatPost, button: str) -> None:
        if self.app is None:
            return
        context = next(b.context for b in post.buttons if b.id == button)
        self.feedback_given += 1
        await self.app.router.on_click(Click(user, user, post.channel, post.id, context))

    def _shifter_reacts(self, name: str, thread: str) -> None:
        if thread in self.taken:
            return
        trainee = name in {u for u, _ in self.people.rota.trainees}
        if self.rng.random() < (0.6 if trainee else 0.85):
            self.later(self.people.delay(25, 1.0), "take", lambda: self._take(name, thread))

    async def _take(self, name: str, thread: str) -> None:
        root = self.chat.posts.get(thread)
        if thread in self.taken or root is None or root.deleted:
            return
        self.taken[thread] = name
        self.say(name, root.channel, f"@{BOT} take", thread)
        helping = self.people.delay(10)
        self.later(helping, "help", lambda: self._reply(name, thread, self.rng.choice(HELP_TEXTS)))
        self._dialogue(name, thread, helping)
        roll = self.rng.random()
        if roll < 0.68:
            self.later(self.people.delay(300, 1.2), "resolve", lambda: self._resolve(name, thread))
        elif roll < 0.88:
            self.later(self.people.delay(60, 1.0), "escalate", lambda: self._escalate(name, thread))
        else:  # forgotten for a while: the handover lists it until it is resolved
            weeks = self.people.delay(14 * 1440, 0.5)
            self.later(weeks, "resolve", lambda: self._resolve(name, thread))
        asker = self.question_posts.get(thread)
        if asker and self.rng.random() < 0.3:
            text = self.rng.choice(FOLLOW_UPS).format(n=self.rng.randint(10_000_000, 49_999_999))
            self.later(
                self.people.delay(600, 1.0), "follow-up", lambda: self._reply(asker, thread, text)
            )

    def _dialogue(self, name: str, thread: str, after: timedelta) -> None:
        """The asker and the shifter who took the question talk it through."""
        asker = self.question_posts.get(thread)
        if not asker:
            return
        for _ in range(self.people.dialogue_rounds()):
            after += self.people.delay(40)
            said = self.people.detail(ASKER_DETAILS)
            self.later(after, "details", lambda said=said: self._reply(asker, thread, said))
            after += self.people.delay(30)
            said = self.people.detail(SHIFTER_REPLIES)
            self.later(after, "shifter replies", lambda said=said: self._reply(name, thread, said))

    async def _resolve(self, name: str, thread: str) -> None:
        await self._reply(name, thread, f"@{BOT} resolve")
        asker = self.question_posts.get(thread)
        if asker and self.rng.random() < THANKS_AFTER_RESOLVE:
            thanks = self.rng.choice(THANKS)
            self.later(
                self.people.delay(60, 1.2), "thanks", lambda: self._reply(asker, thread, thanks)
            )

    async def _escalate(self, name: str, thread: str) -> None:
        roll = self.rng.random()
        if roll < 0.6:
            target = self.rng.choice(CLOUD_TARGETS)
        elif roll < 0.85:
            target = self.rng.choice(OTHER_TARGETS)
        elif roll < 0.95:
            target = self.rng.choice(SITE_NAMES)
        else:
            target = NOT_MEMBER_TARGET[0]
        self.escalated_by[thread] = name
        await self._reply(name, thread, f"@{BOT} escalate {target} user jobs fail, please check")

    def _target_reacts(self, post: ChatPost, esc_id: str) -> None:
        if self.rng.random() < 0.22:
            return  # never answers
        person = f"{post.channel.removeprefix('adc-')}-expert"
        delay = self.people.delay(600, 1.3)
        self.later(delay, "target replies", lambda: self._target_reply(person, post, esc_id))
        if self.rng.random() < 0.15:
            self.later(delay * 2, "target adds", lambda: self._target_reply(person, post, esc_id))

    async def _target_reply(self, person: str, root: ChatPost, esc_id: str) -> None:
        reply = self.say(
            person, root.channel, "we fixed the queue configuration, please retry", root.id
        )
        thread = _THREAD_LINK.search(root.message)
        self.target_replies.append(TargetReply(reply.id, esc_id, thread.group(1) if thread else ""))

    async def _close(self, who: str, thread: str, esc_id: str) -> None:
        await self._reply(who, thread, f"@{BOT} escalation close {esc_id}")

    def _coordinator_on_deadline(self, esc_id: str) -> None:
        coordinator = self.rng.choice(self.people.rota.coordinator_names)
        roll = self.rng.random()
        if roll < 0.5:
            self.later(
                self.people.delay(120),
                "cancel",
                lambda: self._by_hand(coordinator, "cancel", esc_id),
            )
        elif roll < 0.8:
            self.later(
                self.people.delay(240), "close", lambda: self._by_hand(coordinator, "close", esc_id)
            )
        else:  # chased by hand for weeks, then given up
            weeks = self.people.delay(21 * 1440, 0.5)
            self.later(weeks, "close", lambda: self._by_hand(coordinator, "close", esc_id))

    async def _by_hand(self, coordinator: str, what: str, esc_id: str) -> None:
        reply = await self.command(coordinator, f"escalation {what} {esc_id}")
        if what == "cancel" and "back with" in reply and self.app is not None:
            esc = self.app.store.escalation(esc_id)
            if esc is not None:
                self.taken[esc.thread_id] = coordinator
                self.later(
                    self.people.delay(600),
                    "resolve",
                    lambda: self._resolve(coordinator, esc.thread_id),
                )

    # the rota ---------------------------------------------------------------------------------

    async def _book_first(self) -> None:
        await self._book_days(self.clock.now().date(), 14)

    async def _book_ahead(self) -> None:
        start = self.clock.now().date() + timedelta(days=10)
        await self._book_days(start, 7)

    async def _book_days(self, first: date, days: int) -> None:
        rota = self.people.rota
        coordinator = rota.coordinator_names[0]
        for offset in range(days):
            day = first + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            if self.rng.random() < 0.95:
                await self.command(
                    coordinator, f"shift book {day} EU {self.rng.choice(rota.eu_shifters)}"
                )
            if self.rng.random() < 0.35:
                await self.command(
                    coordinator, f"shift book {day} EU {self.rng.choice(('tom', 'uma'))}"
                )
            if self.rng.random() < 0.45:
                await self.command(
                    coordinator, f"shift book {day} NA {self.rng.choice(rota.na_shifters)}"
                )
            if self.rng.random() < 0.15:
                await self.command(coordinator, f"shift book {day} NA vic")

    async def _swap(self) -> None:
        if self.app is None:
            return
        day = self.clock.now().date() + timedelta(days=self.rng.randint(3, 9))
        assignment = self.app.store.assignment(day, "EU")
        if assignment is None or not assignment.shifter:
            return
        other = self.rng.choice(
            [u for u in self.people.rota.eu_shifters if u != assignment.shifter]
        )
        await self.command(assignment.shifter, f"shift swap {day} EU {other}")
        self.later(self.people.delay(120), "approve", self._approve)

    async def _approve(self) -> None:
        if self.app is None:
            return
        for (swap_id,) in self.app.store.db.execute("SELECT id FROM swaps WHERE state = 'pending'"):
            await self.command(self.people.rota.coordinator_names[0], f"shift approve {swap_id}")


_LOADED: dict[str, object] = {}
_FILES: dict[tuple[str, Path], object] = {}


def _knowledge() -> LiveKnowledge:
    """The knowledge base, read once per process: a restarted bot reads the same files (and
    ``/dast kb reload`` still reads them again)."""
    if "kb" not in _LOADED:
        _LOADED["kb"] = LiveKnowledge.load(REPO / "knowledge", load_config(None, {}))
    kb = _LOADED["kb"]
    assert isinstance(kb, LiveKnowledge)
    return kb


@contextmanager
def files_read_once() -> Iterator[None]:
    """Contacts and sites read once per process rather than at every restart (the same files:
    the same result; YAML parsing would otherwise dominate the restarts' cost); a knowledge
    reload builds its matcher in this process from those files rather than in a child process
    (bench/bench_reload.py measures that); the weekly chart is not drawn (its pixels are not
    checked; bench/bench_report.py measures it)."""
    contacts, sites = router_module.load_contacts, router_module.load_sites
    cache = _FILES
    chart, child = report_job.chart_png, answers_module.build_in_child
    report_job.chart_png = lambda report: b"\x89PNG (not drawn in the simulation)"

    async def in_process(path: Path, threshold: float, margin: float) -> Loaded:
        kb = _knowledge().kb  # the same files: parsed once; the matcher is built again
        return Loaded(kb, Matcher(kb, threshold, margin))

    answers_module.build_in_child = in_process  # type: ignore[assignment]

    def once(name: str, load: Callable[..., Any]) -> Callable[..., Any]:
        def read(path: Path, *args: Any, **kwargs: Any) -> Any:
            if (name, path) not in cache:
                cache[(name, path)] = load(path, *args, **kwargs)
            return cache[(name, path)]

        return read

    router_module.load_contacts = once("contacts", contacts)  # type: ignore[assignment]
    router_module.load_sites = once("sites", sites)  # type: ignore[assignment]
    try:
        yield
    finally:
        router_module.load_contacts, router_module.load_sites = contacts, sites
        report_job.chart_png = chart
        answers_module.build_in_child = child  # type: ignore[assignment]


def replay_command(seed: int, weeks: int, faults: float) -> str:
    return f"python bench/simulate.py --seed {seed} --weeks {weeks} --faults {faults:g}"


def failure_report(summary: Summary, checker: Checker, most: int = 20) -> list[str]:
    """The violations (the first ``most``) and the command that replays the run."""
    lines = ["  " + v.line() for v in checker.violations[:most]]
    if len(checker.violations) > most:
        lines.append(f"  ... and {len(checker.violations) - most} more")
    lines.append(f"  replay: {replay_command(summary.seed, summary.weeks, summary.faults)}")
    return lines


def simulate(seed: int, weeks: int, faults: float, workdir: Path) -> tuple[Summary, Checker]:
    with files_read_once():
        sim = Simulation(seed, weeks, faults, workdir)
        summary = asyncio.run(sim.run())
    logging.getLogger("dastbot").removeHandler(sim.checker.crashes)
    return summary, sim.checker
