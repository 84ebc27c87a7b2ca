"""Composition root: config -> store, knowledge, router, sweeper; start-up and the periodic tick."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from dastbot.answers import LiveKnowledge
from dastbot.chat.base import Chat
from dastbot.clock import Clock, SettableClock
from dastbot.config import Config
from dastbot.knowledge import packaged_knowledge
from dastbot.router import Router
from dastbot.scheduler import Sweeper
from dastbot.store import Store

log = logging.getLogger("dastbot.app")
DEFAULT_KB = "knowledge"


def knowledge_path(config: Config) -> Path:
    """The configured knowledge base; the packaged one when the default folder is absent."""
    path = config.resolve(config.kb)
    if not path.exists() and config.kb == DEFAULT_KB:
        return packaged_knowledge()
    return path


class App:
    def __init__(
        self,
        config: Config,
        chat: Chat,
        clock: Clock,
        store: Store | None = None,
        knowledge: LiveKnowledge | None = None,
        bot_user_id: str = "",
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store or Store.open(config.resolve(config.db))
        self.knowledge = knowledge or LiveKnowledge.load(knowledge_path(config), config)
        self.router = Router(
            config, self.store, chat, clock, self.knowledge, bot_user_id=bot_user_id
        )
        self.sweeper = Sweeper(self.store, clock)

    async def start(self) -> None:
        """Send what a previous run decided but did not get to send."""
        pending = len(self.store.pending())
        if pending:
            log.info("draining %d unsent message(s) from the outbox", pending)
        await self.router.flush()
        await self.tick()

    async def tick(self) -> None:
        self.sweeper.sweep()
        await self.router.flush()

    async def advance(self, delta: timedelta, clock: SettableClock) -> None:
        """Move ``clock`` (this app's clock) forward, stopping at every due time on the way."""
        target: datetime = clock.now() + delta
        for _ in range(100_000):
            due = self.sweeper.next_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
            await self.tick()
        clock.set(target)
        await self.tick()
