"""Composition root: config -> store, knowledge, router, sweeper; start-up and the periodic tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dastbot.answering.answers import LiveKnowledge
from dastbot.chat.base import Chat
from dastbot.escalations.desk import EscalationJob
from dastbot.kernel.clock import Clock, SettableClock
from dastbot.kernel.config import Config
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.paths import knowledge_path
from dastbot.kernel.scheduler import Sweeper
from dastbot.questions.lifecycle import OPEN_STATES
from dastbot.report.job import WeeklyReportJob
from dastbot.router import Router
from dastbot.shifts.jobs import CoverageJob, HandoverJob, NoReplyJob
from dastbot.store import Store

if TYPE_CHECKING:
    from dastbot.chat.mattermost import MattermostChat

log = logging.getLogger("dastbot.app")
class App:
    def __init__(
        self,
        config: Config,
        chat: Chat,
        clock: Clock,
        store: Store | None = None,
        knowledge: LiveKnowledge | None = None,
        bot_user_id: str = "",
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store or Store.open(config.resolve(config.db))
        self.knowledge = knowledge or LiveKnowledge.load(knowledge_path(config), config)
        self.metrics = metrics or Metrics()
        self.router = Router(
            config,
            self.store,
            chat,
            clock,
            self.knowledge,
            bot_user_id=bot_user_id,
            metrics=self.metrics,
        )
        self.sweeper = Sweeper(self.store, clock)
        duty, permalink = self.router.duty, chat.permalink
        handover = HandoverJob(config, self.store, duty, permalink)
        self.sweeper.add(handover)
        self.sweeper.add(NoReplyJob(config, self.store, duty, permalink))
        self.sweeper.add(CoverageJob(config, self.store, duty))
        self.sweeper.add(EscalationJob(self.router.desk))
        handover.extra_sections.append(self.router.desk.handover_section)
        self.sweeper.add(WeeklyReportJob(config, self.store, duty, self.knowledge))

    async def start(self, sweep: bool = True) -> None:
        """Send what a previous run decided but did not get to send; then sweep, unless the
        caller must first catch up on what was posted meanwhile (``run_bot``)."""
        pending = len(self.store.pending())
        if pending:
            log.info("draining %d unsent message(s) from the outbox", pending)
        await self.router.flush()
        if sweep:
            await self.tick()

    async def tick(self) -> None:
        self.sweeper.sweep()
        await self.router.flush()
        self.metrics.open_questions.set(len(self.store.questions(OPEN_STATES)))
        self.metrics.open_escalations.set(len(self.store.escalations(("open",))))

    async def advance(self, delta: timedelta, clock: SettableClock) -> None:
        """Move ``clock`` (this app's clock) forward, stopping at every due time on the way."""
        target: datetime = clock.now() + delta
        stalled = 0
        for _ in range(100_000):
            due = self.sweeper.next_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
                stalled = 0
            else:
                stalled += 1
                if stalled > 2:
                    # Something due cannot be done now (e.g. outside a target's working hours).
                    if clock.now() >= target:
                        break
                    clock.set(min(clock.now() + timedelta(minutes=1), target))
                    stalled = 0
            await self.tick()
        clock.set(target)
        await self.tick()


async def run_bot(config: Config, ready: Callable[[dict[str, object]], None] | None = None) -> None:
    """Connect to Mattermost, serve HTTP and answer until cancelled or the token is rejected.

    Raises ``AuthRejected`` (bad token) or ``ValueError`` (missing channel, bad URL) for the CLI
    to report; cancellation (SIGTERM) stops cleanly.
    """
    from dastbot.chat.http import HttpEndpoint
    from dastbot.chat.mattermost import CURSOR_KEY, MattermostChat
    from dastbot.kernel.clock import SystemClock
    from dastbot.kernel.scheduler import start_sweeping

    if config.mattermost_token is None:
        raise ValueError("DASTBOT_MATTERMOST_TOKEN is not set: the bot needs its access token")
    metrics = Metrics()
    chat = MattermostChat(config, config.mattermost_token.get_secret_value(), metrics)
    me = await chat.login()
    app = App(config, chat, SystemClock(), bot_user_id=chat.user_id, metrics=metrics)
    cursor = app.store.get_meta(CURSOR_KEY)
    chat.cursor_ms = int(cursor) if cursor else int(app.clock.now().timestamp() * 1000)
    app.store.set_meta(CURSOR_KEY, str(chat.cursor_ms))

    def healthy() -> dict[str, bool]:
        return {"websocket": chat.connected.is_set(), "store": app.store.writable()}

    slash = config.slash_token.get_secret_value() if config.slash_token else ""
    if not slash:
        log.warning("DASTBOT_SLASH_TOKEN is not set: slash commands and buttons are refused")
    for esc in app.store.escalations(("open", "replied")):
        channel = app.store.escalation_channel(esc.id)
        if channel:
            try:
                await chat.watch(channel)
            except Exception as exc:
                log.warning("cannot watch %s for escalation %s: %s", channel, esc.id, exc)
    http = HttpEndpoint(
        slash_token=slash,
        on_command=app.router.on_command,
        on_click=app.router.on_click,
        healthy=healthy,
        metrics=metrics,
        thread_of=app.router.thread_reference,
    )
    port = await http.start(config.http.host, config.http.port)
    sync = _Sync()

    async def tick() -> None:
        # Decide due work (reminders, deadlines, pings) only with an up-to-date view of the chat:
        # connected, and caught up on what was posted while the bot was down or disconnected.
        if chat.connected.is_set() and sync.caught_up == chat.hellos:
            await app.tick()
        else:
            await app.router.flush()

    await app.start(sweep=False)
    scheduler = start_sweeping(tick, config.sweep_seconds)
    supervisor = asyncio.ensure_future(chat.run())
    consumer = asyncio.ensure_future(_consume(chat, app, sync))
    log.info("dastbot ready as @%s (HTTP port %d)", me.get("username"), port)
    if ready is not None:
        ready({"user": me.get("username"), "http_port": port, "chat": chat, "app": app})
    try:
        done, _ = await asyncio.wait({supervisor, consumer}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        scheduler.shutdown(wait=False)
        await chat.stop()
        for task in (supervisor, consumer):
            task.cancel()
        await asyncio.gather(supervisor, consumer, return_exceptions=True)
        await http.stop()
        app.store.close()


@dataclass
class _Sync:
    """The websocket connection (its hello number) whose missed posts have all been handled."""

    caught_up: int = -1


async def _consume(chat: MattermostChat, app: App, sync: _Sync) -> None:
    """Feed chat events to the router one at a time, catching up after every hello."""
    from dastbot.chat.mattermost import CURSOR_KEY
    from dastbot.kernel.models import Post, Reaction

    async def handle(post: Post, in_order: bool) -> None:
        await app.router.on_post(post)
        created = int(post.create_at.timestamp() * 1000)
        # The cursor moves only in order: a post that arrives before the catch-up is done must
        # not carry it past posts still missing (a crash, or a failed catch-up, would lose them).
        if in_order and created > chat.cursor_ms:
            chat.cursor_ms = created
            app.store.set_meta(CURSOR_KEY, str(created))

    catch_up_failures = 0
    while True:
        kind, item = await chat.events.get()
        started = time.perf_counter()
        try:
            if kind == "hello":
                hello = chat.hellos  # the connection open now (a later hello may be queued)
                since = max(chat.cursor_ms - 1, 0)
                try:
                    missed = await chat.missed_posts(since)
                    catch_up_failures = 0
                except Exception as exc:
                    if exc.__class__.__name__ == "AuthRejected":
                        raise
                    # Posts missed while disconnected must not be lost: try again later.
                    catch_up_failures += 1
                    delay = min(2.0**catch_up_failures, 60.0)
                    log.warning("catch-up failed (%s); again in %.0fs", exc, delay)
                    asyncio.get_running_loop().call_later(
                        delay, chat.events.put_nowait, ("hello", None)
                    )
                    continue
                if missed:
                    log.info("catching up on %d post(s) made while disconnected", len(missed))
                for post in missed:  # oldest first, before anything newer moves the cursor
                    await handle(post, True)
                sync.caught_up = hello
                continue
            if kind == "post" and isinstance(item, Post):
                await handle(item, sync.caught_up == chat.hellos)
            elif kind == "edit" and isinstance(item, Post):
                await app.router.on_edit(item)
            elif kind == "reaction" and isinstance(item, Reaction):
                await app.router.on_reaction(item)
        except Exception as exc:
            if exc.__class__.__name__ == "AuthRejected":
                raise
            log.exception("event %s failed", kind)
        finally:
            chat.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)
