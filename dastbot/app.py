"""Composition root: config -> store, knowledge, router, sweeper; start-up and the periodic tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import astuple
from datetime import datetime, timedelta
from typing import Any

from dastbot.answering.answers import LiveKnowledge
from dastbot.answering.rebuild import Loaded
from dastbot.chat.base import AuthRejected, Chat, Connected, Disconnected, Edited, Feed
from dastbot.chat.http import HttpEndpoint
from dastbot.chat.http_guard import Limits
from dastbot.chat.mattermost import MattermostChat
from dastbot.chat.mattermost_feed import CURSOR_KEY, MattermostFeed
from dastbot.chat.mattermost_transport import backoff_delays
from dastbot.escalations.desk import EscalationJob
from dastbot.escalations.reachable import unreachable
from dastbot.kernel.clock import Clock, SettableClock, SystemClock
from dastbot.kernel.config import Config
from dastbot.kernel.markdown import bounded, escape_markdown
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import OutMessage, Post, Reaction
from dastbot.kernel.paths import knowledge_path
from dastbot.lease import Lease, LeaseHeld
from dastbot.questions.jobs import NoFeedbackJob
from dastbot.questions.lifecycle import OPEN_STATES
from dastbot.report.job import WeeklyReportJob
from dastbot.router import Router
from dastbot.scheduler import Sweeper, start_sweeping
from dastbot.shifts.claims import ForgottenClaimJob
from dastbot.shifts.jobs import CoverageJob, HandoverJob, NoReplyJob
from dastbot.shifts.members import sync_roster
from dastbot.shifts.onboarding import OnboardingJob, open_onboarding
from dastbot.shifts.progression import ProgressionJob
from dastbot.store import Store

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
        self.sweeper.add(ForgottenClaimJob(config, self.store, duty, permalink))
        self.sweeper.add(CoverageJob(config, self.store, duty))
        self.sweeper.add(NoFeedbackJob(config, self.store, permalink))
        self.sweeper.add(EscalationJob(self.router.desk))
        handover.extra_sections.append(self.router.desk.handover_section)
        self.weekly = WeeklyReportJob(config, self.store, duty, self.knowledge)
        self.sweeper.add(self.weekly)
        self.sweeper.add(OnboardingJob(config, self.store))
        self.sweeper.add(ProgressionJob(config, self.store, duty))

    def welcome_newcomers(self) -> int:
        """Compare bot.yaml's roster with the one the database last saw; each newcomer's zone
        coordinator gets the onboarding checklist (once). How many joined."""
        now = self.clock.now()
        newcomers = sync_roster(self.store, self.config.roster, now, self.config.bot_name)
        roster = self.router.duty.roster
        with self.store.atomic():
            for person in newcomers:
                open_onboarding(self.store, self.config, roster, person, now)
        return len(newcomers)

    async def start(self, sweep: bool = True) -> None:
        """Send what a previous run decided but did not get to send; then sweep, unless the
        caller must first catch up on what was posted meanwhile (``run_bot``)."""
        await self.router.desk.recover(self.clock.now())
        self.welcome_newcomers()
        pending = len(self.store.pending())
        if pending:
            log.info("draining %d unsent message(s) from the outbox", pending)
        await self.router.flush()
        if sweep:
            await self.tick()

    async def tick(self) -> None:
        try:
            await self.weekly.prepare(self.clock.now())
        except Exception:  # the sweep must run regardless; the job computes in place instead
            log.exception("the weekly report could not be prepared off the event loop")
        self.sweeper.sweep()
        await self.router.flush()
        self.metrics.open_questions.set(self.store.count_questions(OPEN_STATES))
        self.metrics.open_escalations.set(self.store.count_escalations(("open",)))

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


async def serve(feed: Feed, router: Router, metrics: Metrics) -> None:
    """The core loop, the same for every adapter: each event from the feed to the router, one at
    a time. Only ``AuthRejected`` ends it early; any other failure is logged and skipped."""
    async for event in feed.events():
        started = time.perf_counter()
        kind = type(event).__name__.lower()
        try:
            if isinstance(event, Post):
                if not await router.on_post(event):
                    feed.failed(event)
            elif isinstance(event, Edited):
                await router.on_edit(event.post)
            elif isinstance(event, Reaction):
                await router.on_reaction(event)
            elif isinstance(event, Connected):
                log.info("connected (connection %d, %d missed post(s))", *astuple(event))
            elif isinstance(event, Disconnected):
                log.warning("disconnected: %s", event.reason)
        except AuthRejected:
            raise
        except Exception:
            log.exception("event %s failed", kind)
        finally:
            metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)


async def _report_unreachable(app: App, chat: MattermostChat) -> None:
    """Log every escalation destination the bot cannot post to, and tell the coordinators.
    Advisory: when the check itself fails (the server rate-limits it, say), that is logged and
    the bot starts all the same."""
    try:
        problems = await unreachable(chat, app.router.desk.contacts)
    except AuthRejected:
        raise
    except Exception as exc:
        log.warning(
            "could not check that the escalation targets can be posted to (%s); starting anyway, "
            "`dastbot check --online` checks them",
            exc,
        )
        return
    if not problems:
        return
    for line in problems:
        log.warning("cannot post there: %s", line)
    text = bounded(
        "**dastbot cannot post to these escalation targets** (escalations to them will fail "
        "until this is fixed; `dastbot check --online` lists them again):",
        [f"- {escape_markdown(p)}" for p in problems],
        lambda n: f"- … and {n} more: see the bot's log.",
    )
    day = app.clock.now().date().isoformat()
    channel = app.config.mattermost.coordinators_channel
    app.store.enqueue(OutMessage(channel, text, key=f"unreachable:{day}"), app.clock.now())


async def _bind_roles(app: App, chat: MattermostChat) -> None:
    """Bind the roster's usernames to their Mattermost user ids (``shifts.identity``); log each
    warning and tell the coordinators. When the server cannot be asked, the recorded ids stand."""
    roles, names = app.router.roles, [p.user for p in app.config.roster]
    try:
        resolved = await chat.user_ids(names) if names else {}
    except AuthRejected:
        raise
    except Exception as exc:
        kept = roles.keep_recorded()
        log.warning(
            "could not look up the roster's usernames (%s); %s",
            exc,
            "roles go to the user ids recorded before"
            if kept
            else "no user ids are recorded yet, so roles go by username until the next start",
        )
        return
    warnings = roles.bind(resolved, app.clock.now())
    for line in warnings:
        log.warning("%s", line)
    if warnings:
        text = bounded(
            "**dastbot: roster usernames and Mattermost accounts disagree**",
            [f"- {escape_markdown(w)}" for w in warnings],
            lambda n: f"- … and {n} more: see the bot's log.",
        )
        day = app.clock.now().date().isoformat()
        channel = app.config.mattermost.coordinators_channel
        app.store.enqueue(OutMessage(channel, text, key=f"roster-ids:{day}"), app.clock.now())


async def login_until_reachable(chat: MattermostChat) -> dict[str, Any]:
    """Log in, waiting out a server that cannot be reached (backoff up to 5 min, each attempt
    logged, for as long as it takes); a rejected token or a configuration error is raised."""
    delays = backoff_delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await chat.login()
        except (AuthRejected, ValueError):
            raise
        except Exception as exc:
            wait = delays()
            log.warning(
                "cannot reach Mattermost at %s (attempt %d: %s); trying again in %.0fs",
                chat.address.base,
                attempt,
                exc,
                wait,
            )
            await asyncio.sleep(wait)


async def run_bot(
    config: Config,
    ready: Callable[[dict[str, object]], None] | None = None,
    clock: Clock | None = None,
    loaded: Loaded | None = None,
) -> None:
    """Connect to Mattermost, serve HTTP and answer until cancelled or the token is rejected.

    ``loaded``: the knowledge base and its matcher, when the caller has loaded (and so checked)
    them already.

    Raises ``AuthRejected`` (bad token), ``LeaseHeld`` (another bot on this database),
    ``SchemaTooNew`` or ``ValueError`` (missing channel, bad URL) for the CLI to report;
    cancellation (SIGTERM) stops cleanly. An unreachable server is waited for.
    """
    if config.mattermost_token is None:
        raise ValueError("DASTBOT_MATTERMOST_TOKEN is not set: the bot needs its access token")
    store = Store.open(config.resolve(config.db))
    lease = Lease(store)
    try:
        lease.acquire()
    except LeaseHeld:
        store.close()
        raise
    metrics = Metrics()
    chat = MattermostChat(config, config.mattermost_token.get_secret_value(), metrics)
    knowledge = None
    if loaded is not None:
        m = config.matcher
        knowledge = LiveKnowledge(
            loaded.kb, knowledge_path(config), m.threshold, m.margin, loaded.matcher
        )
    app = App(config, chat, clock or SystemClock(), store, knowledge, metrics=metrics)
    app.router.roles.keep_recorded()  # a command before the roster is looked up: recorded ids
    feed: MattermostFeed | None = None

    def health() -> dict[str, str]:
        problems = {
            "websocket": "" if feed is not None and feed.connected.is_set() else "not connected",
            "store": "" if store.writable() else "the database cannot be written",
            "posts": "",
            "outbox": "",
        }
        if feed is not None and feed.holding:
            problems["posts"] = "a post could not be handled (see the log); retrying"
        stuck = app.router.sender.stuck_since()
        if stuck is not None:
            problems["outbox"] = f"a message waits to be sent since {stuck:%H:%M:%S} UTC"
        return problems

    slash = config.slash_token.get_secret_value() if config.slash_token else ""
    h = config.http
    if not slash:
        log.warning("DASTBOT_SLASH_TOKEN is not set: slash commands and buttons are refused")
    http = HttpEndpoint(
        slash_token=slash,
        on_command=app.router.on_command,
        on_click=app.router.on_click,
        healthy=health,
        metrics=metrics,
        thread_of=app.router.thread_reference,
        limits=Limits(h.header_timeout, h.body_timeout, h.max_connections),
    )
    keeper = asyncio.ensure_future(lease.keep())
    scheduler = None
    try:
        port = await http.start(config.http.host, config.http.port)
        metrics_port = await http.start_internal(h.metrics_host, h.metrics_port)
        me = await login_until_reachable(chat)
        app.router.bot_user_id = chat.user_id
        app.router.bot_username = chat.user_name
        cursor = store.get_meta(CURSOR_KEY)
        start_ms = int(cursor) if cursor else int(app.clock.now().timestamp() * 1000)
        store.set_meta(CURSOR_KEY, str(start_ms))
        feed = MattermostFeed(chat, start_ms, lambda ms: store.set_meta(CURSOR_KEY, str(ms)))
        await _bind_roles(app, chat)
        await _report_unreachable(app, chat)
        for channel, esc_id in store.escalation_channels(("open", "replied")).items():
            try:
                await chat.watch(channel)  # once per channel, however many escalations wait there
            except Exception as exc:
                log.warning("cannot watch %s for escalation %s: %s", channel, esc_id, exc)
        synced = feed

        async def tick() -> None:
            # Decide due work (reminders, deadlines, pings) only with an up-to-date view of the
            # chat: connected, and caught up on what was posted while the bot was away.
            if synced.in_sync:
                await app.tick()
            else:
                await app.router.flush()

        await app.start(sweep=False)
        scheduler = start_sweeping(tick, config.sweep_seconds)
        log.info("dastbot ready as @%s (HTTP port %d)", me.get("username"), port)
        if ready is not None:
            user = me.get("username")
            info = {"user": user, "http_port": port, "metrics_port": metrics_port}
            ready({**info, "chat": chat, "feed": feed, "app": app})
        serving = asyncio.ensure_future(serve(feed, app.router, metrics))
        done, _ = await asyncio.wait({serving, keeper}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        keeper.cancel()
        if feed is not None:
            await feed.stop()
        await http.stop()
        with contextlib.suppress(Exception):
            lease.release()
        store.close()
